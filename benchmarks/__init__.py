"""ffbench's asv benchmarks: the training step of every implementation across sizes.

What is measured, one module per concern (numpy's asv style): `bench_step` (steady-state step),
`bench_paired` (an implementation against numpy in one process), `bench_coldstart` (the first
step of a fresh process), `bench_ceiling` (matrix-multiply peak, CUDA launch floor). Where:
`grids` lists every grid's points by label. How: `protocol` (samples, load checks, retries),
`flags` (what a process reports beside its number), `points` and `common` (per-process set-up).
Running: ``python -m benchmarks GRID COMMAND`` (`cli`, `supervise`, `runlock`, `leftovers`,
`progress_view`); `gate` judges two commits; `machine` records the machine facts; `fidelity`
cross-checks the timings against torch.utils.benchmark.

Set before anything imports torch: availability checks read NVML instead of creating a CUDA
context, so asv's forkserver parent stays free of CUDA state and its forked children may use it.
"""

import os

os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
