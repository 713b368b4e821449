"""ffbench's asv benchmarks: the training step of every implementation across sizes.

One module per concern (numpy's asv style): `bench_step` (steady-state step), `bench_coldstart`
(the first step of a fresh process), `bench_ceiling` (the machine's matrix-multiply peak and the
CUDA launch floor). `common` holds the grids and the per-process state; `select` turns a grid
into asv's ``--bench`` selection; ``python -m benchmarks`` runs asv on a grid; `machine` records
the machine facts; `fidelity` cross-checks asv's timings against torch.utils.benchmark.

Set before anything imports torch: availability checks read NVML instead of creating a CUDA
context, so asv's forkserver parent stays free of CUDA state and its forked children may use it.
"""

import os

os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
