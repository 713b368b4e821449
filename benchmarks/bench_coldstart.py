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
points run on the full grid only (`benchmarks.select`).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile

from . import common
from .common import step_params

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


class ColdStart:
    """First step of a fresh process at the tutorial size, every implementation, float32."""

    version = "2"
    params = step_params()
    param_names = common.STEP_PARAM_NAMES
    timeout = 600

    def setup_cache(self):
        (sizes,) = {tuple(values[1:-1]) for values in itertools.product(*self.params)}
        return common.learning_rates([common.problem_of(*sizes)])

    def setup(self, rates, impl, batch, d_in, hidden, d_out, dtype, loss, activation, threads):
        problem = common.problem_of(batch, d_in, hidden, d_out, dtype, loss, activation)
        reason = common.unavailable_reason(impl)
        if reason:
            raise NotImplementedError(reason)
        rate = rates.get(common.rate_key(problem))
        if not isinstance(rate, float):
            raise NotImplementedError(rate or "no learning rate was searched for this point")
        problem_fields = {**problem.as_dict(), "lr": rate}
        self.args = json.dumps({"impl": impl, "threads": threads, "problem": problem_fields})

    def track_first_step(self, rates, impl, *params):
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
        return json.loads(child.stdout.strip().splitlines()[-1])

    track_first_step.unit = "seconds"
