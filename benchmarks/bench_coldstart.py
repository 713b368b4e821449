"""Cold start: the first training step of a fresh process, apart from the steady state.

A new process pays once for what the steady-state benchmarks warm away: the CUDA context and
library initialisation (cuBLAS), the first allocations and, for compiling implementations
(`impls.registry.Entry.compiles`), the compile. asv's forkserver children are forks of a warm
parent, not fresh, so each value comes from a new interpreter (``sys.executable -c``). The clock
starts after the implementation's modules are imported (import time is the same for any program
and is not about the step) and stops after the first step is synchronised.

Compiling implementations get an empty TorchInductor cache directory of their own, so the value
is a true first compile, the same on every run (with inductor's on-disk cache warm from an
earlier run the first step of `compile-cpu` took ~4-5 s here instead of ~20 s, and which one a
run measured would depend on what ran before it). A first compile takes tens of seconds, so these
points run on the full grid only (`benchmarks.grids`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import ClassVar

from . import flags, grids
from .points import GRID, StepBenchmark, runnable_point, without_empty

#: The child: import, then time making the trainer and its first synchronised step.
CHILD = """
import importlib, json, sys, time
args = json.loads(sys.argv[1])
import impls
from impls import registry
importlib.import_module(registry.entry(args["impl"]).module)
impls.set_threads(args["threads"])
problem = impls.Problem(**args["problem"])
start = time.perf_counter()
trainer = impls.create(args["impl"], problem)
trainer.step()
trainer.sync()
seconds = time.perf_counter() - start
if not trainer.is_finite():
    sys.exit("non-finite state after the first step")
print(json.dumps(seconds))
"""


class ColdStart(StepBenchmark):
    """First step of a fresh process at the grid's cold-start points (`grids.FIRST_STEP`)."""

    version = "3"
    params: ClassVar[list] = [GRID.labels(grids.FIRST_STEP)]
    timeout = 600

    def setup(self, rates, label):
        point = runnable_point(rates, label)
        problem_fields = point.problem.as_dict()
        self.args = json.dumps(
            {"impl": point.impl, "threads": point.threads, "problem": problem_fields}
        )

    def teardown(self, rates, label):
        """The child checks its own state (see `CHILD`)."""

    def track_first_step(self, rates, label):
        with tempfile.TemporaryDirectory(prefix="ffbench-inductor-") as cache:
            env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
            child = subprocess.run(
                [sys.executable, "-c", CHILD, self.args],
                capture_output=True,
                text=True,
                check=False,
                env=env,
            )
        if child.returncode != 0:
            raise RuntimeError(f"cold-start child failed:\n{child.stderr}")
        flags.tick()
        return json.loads(child.stdout.strip().splitlines()[-1])

    track_first_step.unit = "seconds"


without_empty(globals(), "ColdStart")
