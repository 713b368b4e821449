"""The training step in steady state: every implementation along batch, d_in, hidden and scale.

Classes are ``<Grid><Axis>``: grid ``Quick`` (the main job, float32) or ``Full`` (both dtypes,
sizes up to where a GPU clearly wins, a threads axis); axis ``Batch``, ``DIn``, ``Hidden``
(one size swept, the others at the tutorial's 64, 1000, 100, 10), ``Scale`` (batch, d_in and
hidden grown together by x2 steps into the compute-bound regime), ``Exercises`` (the tutorial's
exp cost and sigmoid units) and ``Threads`` (1 thread against all cores). asv's parameters are a
cartesian product, so a scale class lists each size's values and runs only the diagonal
(batch/64 = d_in/1000 = hidden/100); ``python -m benchmarks.select`` names the points that run,
so that asv does not launch a process for every skipped combination.

What is measured, per point:
- ``time_step``: wall time of one step, synchronised on CUDA inside the timed call;
- ``peakmem_step`` (CPU): the process's peak resident memory through a step;
- ``track_device_time`` (CUDA): the step's device time from CUDA events;
- ``track_gpu_peak_memory`` (CUDA): peak bytes allocated by torch through a step.

Timing: no per-sample ``setup`` (with one, asv-runner >= 0.3 times one isolated call per sample
and re-runs setup before each, which read 4-16% above back-to-back steps against
torch.utils.benchmark). The trainer is made, warmed up and put back to the initial weights on the
first call in each process (`_StepSweep.prepare`), which asv's warm-up absorbs; asv then times
blocks of consecutive ``step()`` + ``sync()`` calls (its calibrated ``number``), as training runs
them. After the last sample teardown checks the loss and weights and raises, so NaN arithmetic
fails the point (asv "failed") instead of being reported as a time.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import replace

import impls

from . import common
from .common import ALL_THREADS, TUTORIAL, step_params

#: CPU points whose one step exceeds this many operations (`impls.cost.step_flops`) are skipped:
#: ~10 ms here on the quick grid, ~0.1-0.2 s on the full grid (2 cores, ~150 GFLOP/s), so that the
#: quick grid stays within two minutes and the full CPU sweep within 30 minutes.
QUICK_CPU_FLOP_BUDGET = 2e9
FULL_CPU_FLOP_BUDGET = 2e10

QUICK_BATCH = [4, 16, 64, 256, 1024]
QUICK_D_IN = [62, 250, 1000, 4000, 16000]
QUICK_HIDDEN = [6, 25, 100, 400, 1600]
QUICK_SCALE = [1, 2, 4, 8, 16]
FULL_BATCH = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
FULL_D_IN = [62, 125, 250, 500, 1000, 2000, 4000, 8000, 16000]
FULL_HIDDEN = [6, 12, 25, 50, 100, 200, 400, 800, 1600, 3200, 6400]
FULL_SCALE = [1, 2, 4, 8, 16, 32]
FULL_THREADS_BATCH = [64, 1024, 16384]
DTYPES = ["float32", "float64"]
LOSSES = ["squared", "exp"]
ACTIVATIONS = ["relu", "sigmoid"]
THREADS = sorted({1, ALL_THREADS})
#: dtype, loss and activation of the size sweeps.
DEFAULTS = ("float32", "squared", "relu")

#: Which device each measurement applies to.
METHOD_DEVICES = {
    "time_step": ("cpu", "cuda"),
    "peakmem_step": ("cpu",),
    "track_device_time": ("cuda",),
    "track_gpu_peak_memory": ("cuda",),
}
#: CUDA-event-timed steps per `track_device_time` value (their median).
DEVICE_TIME_STEPS = 25


def scale_flops(factor: int) -> int:
    """Operations of one step at ``factor`` x the tutorial's batch, d_in and hidden."""
    b, d, h = (TUTORIAL[name] * factor for name in ("batch", "d_in", "hidden"))
    return impls.step_flops(common.problem_of(b, d, h, TUTORIAL["d_out"], *DEFAULTS))


def scale_params(factors: list[int], **fixed: list) -> list[list]:
    """batch, d_in and hidden each listing their values at ``factors`` x the tutorial's."""
    sizes = {name: [TUTORIAL[name] * f for f in factors] for name in ("batch", "d_in", "hidden")}
    return step_params(**sizes, **fixed)


class _StepSweep:
    """The measurements and skip rules shared by every sweep; subclasses set the grid."""

    param_names = common.STEP_PARAM_NAMES
    #: asv calibrates how many consecutive steps make one sample (>= `sample_time` each); its
    #: warm-up (>= `warmup_time`) absorbs the first call, which makes and warms the trainer.
    number = 0
    sample_time = 0.01
    warmup_time = 0.05
    cpu_flop_budget = QUICK_CPU_FLOP_BUDGET
    #: Scale sweeps: run only where batch/64 = d_in/1000 = hidden/100.
    diagonal = False
    #: Compiling implementations run at the tutorial sizes of the batch sweeps only (each new
    #: shape compiles for seconds, ~17 s for a first CPU compile) and, on CUDA, along the full
    #: scale sweep.
    compile_at_tutorial = False
    compile_on_cuda = False
    #: Whether compiling implementations get the memory and device-time measurements too
    #: (each is another process, so another compile).
    compile_all_methods = True
    #: Whether peak memory is measured at every point (else at the tutorial sizes only).
    memory_everywhere = True

    @classmethod
    def point_skip_reason(cls, impl: str, problem: impls.Problem, threads: int) -> str | None:
        """Why this point does not run here, known before making anything; None if it runs."""
        if (
            cls.diagonal
            and len({problem.batch / 64, problem.d_in / 1000, problem.hidden / 100}) > 1
        ):
            return "off the scale sweep's diagonal (batch/64 = d_in/1000 = hidden/100)"
        reason = common.unavailable_reason(impl)
        if reason:
            return reason
        device = common.device_of(impl)
        flops = impls.step_flops(problem)
        if device == "cpu" and flops > cls.cpu_flop_budget:
            return (
                f"{impl}: one step is {flops / 1e9:.3g} GFLOP, over this grid's CPU work budget"
                f" of {cls.cpu_flop_budget / 1e9:g} GFLOP"
            )
        if common.compiles(impl):
            tutorial = problem.sizes() == TUTORIAL
            if not (
                (cls.compile_at_tutorial and tutorial) or (cls.compile_on_cuda and device == "cuda")
            ):
                return (
                    f"{impl} compiles for seconds per shape: timed at the tutorial size of the"
                    " batch sweeps (and on CUDA along the full scale sweep) only"
                )
        return None

    @classmethod
    def method_skip_reason(cls, method: str, impl: str, problem: impls.Problem) -> str | None:
        """Why ``method`` does not apply to ``impl`` at ``problem`` in this grid, or None."""
        devices = METHOD_DEVICES[method]
        if common.device_of(impl) not in devices:
            return f"{method} applies to {' and '.join(devices).upper()} implementations only"
        if method != "time_step" and common.compiles(impl) and not cls.compile_all_methods:
            return f"{impl} compiles for seconds per process: this grid times its step only"
        if method == "peakmem_step" and not (cls.memory_everywhere or cls.is_tutorial(problem)):
            return "this grid measures peak memory at the tutorial sizes only"
        return None

    @staticmethod
    def is_tutorial(problem: impls.Problem) -> bool:
        return problem.sizes() == TUTORIAL and (problem.loss, problem.activation) == DEFAULTS[1:]

    @classmethod
    def points(cls):
        """(impl, problem, threads) for every combination of ``params`` that passes the rules."""
        for values in itertools.product(*cls.params):
            impl, *sizes, threads = values
            problem = common.problem_of(*sizes)
            if cls.point_skip_reason(impl, problem, threads) is None:
                yield impl, problem, threads

    @classmethod
    def searched_rates(cls) -> dict:
        """Learning rates of every point that runs here: this class's ``setup_cache``."""
        return common.learning_rates(problem for _, problem, _ in cls.points())

    def prepare(self, rates, impl, batch, d_in, hidden, d_out, dtype, loss, activation, threads):
        """The warmed-up trainer of this point, made on the first call in this process.

        Not asv's ``setup``: with a setup hook asv-runner >= 0.3 times one isolated call per
        sample and re-runs setup before each, which read 4-16% slower than back-to-back steps
        (``python -m benchmarks.fidelity``). Without one, asv calibrates ``number`` and times
        blocks of consecutive steps, as steady training runs them; the first call (the trainer
        built and warmed up) falls in asv's warm-up, never in a sample.
        """
        key = (impl, batch, d_in, hidden, d_out, dtype, loss, activation, threads)
        if getattr(self, "_key", None) != key:
            self._key, self.trainer = None, None
            problem = common.problem_of(batch, d_in, hidden, d_out, dtype, loss, activation)
            reason = self.point_skip_reason(impl, problem, threads)
            if reason is None:
                rate = rates.get(common.rate_key(problem))
                if not isinstance(rate, float):
                    reason = rate or "no learning rate was searched for this point"
            if reason:
                common.skip(reason)
            common.use_threads(threads)
            self.problem = replace(problem, lr=rate)
            self.trainer = common.trainer(impl, self.problem)
            common.restore(self.trainer, self.problem)
            self._key = key
        return self.trainer

    def teardown(self, rates, *params):
        """After the last sample: a non-finite state fails the point (asv "failed")."""
        if getattr(self, "trainer", None) is not None:
            common.check_finite(self.trainer)

    def _require(self, method: str, rates, params) -> impls.Trainer:
        trainer = self.prepare(rates, *params)
        reason = self.method_skip_reason(method, trainer.name, self.problem)
        if reason:
            common.skip(reason)
        return trainer

    def time_step(self, rates, *params):
        same = getattr(self, "_key", None) == params
        trainer = self.trainer if same else self.prepare(rates, *params)
        trainer.step()
        trainer.sync()

    def peakmem_step(self, rates, *params):
        trainer = self._require("peakmem_step", rates, params)
        trainer.step()
        trainer.sync()

    def track_device_time(self, rates, *params):
        self._require("track_device_time", rates, params)
        torch = common.torch
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        seconds = []
        for _ in range(DEVICE_TIME_STEPS):
            common.restore(self.trainer, self.problem)
            start.record()
            self.trainer.step()
            end.record()
            end.synchronize()
            seconds.append(start.elapsed_time(end) / 1e3)
        return statistics.median(seconds)

    track_device_time.unit = "seconds"

    def track_gpu_peak_memory(self, rates, *params):
        self._require("track_gpu_peak_memory", rates, params)
        torch = common.torch
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        self.trainer.step()
        self.trainer.sync()
        return torch.cuda.max_memory_allocated()

    track_gpu_peak_memory.unit = "bytes"


class _Quick(_StepSweep):
    """Quick grid, the main job within two minutes on 2 cores: one process per point (asv's
    rounds) and 10 to 100 samples (each >= `sample_time` of consecutive steps) within 0.1 s.
    Peak memory at the tutorial sizes only, and compiling implementations get their step time
    only (and a cold start): every measurement is another process, ~0.1-0.3 s each here."""

    rounds = 1
    repeat = (10, 100, 0.1)
    timeout = 300
    compile_all_methods = False
    memory_everywhere = False

    def setup_cache(self):
        """Learning rates of every quick point. One function for all quick classes, so asv (which
        keys the cache by the function's source line) runs it once per run, not once per class:
        ~2 s a process saved four times over."""
        rates = {}
        for cls in _Quick.__subclasses__():
            rates.update(cls.searched_rates())
        return rates


class _Full(_StepSweep):
    """Full grid: two processes per point (asv's rounds, so that the process-to-process spread
    is in the samples), 10 to 500 samples within a second each."""

    rounds = 2
    repeat = (10, 500, 1.0)
    timeout = 900
    cpu_flop_budget = FULL_CPU_FLOP_BUDGET


class QuickBatch(_Quick):
    version = "1"
    params = step_params(batch=QUICK_BATCH)
    compile_at_tutorial = True


class QuickDIn(_Quick):
    version = "1"
    params = step_params(d_in=QUICK_D_IN)


class QuickHidden(_Quick):
    version = "1"
    params = step_params(hidden=QUICK_HIDDEN)


class QuickScale(_Quick):
    version = "1"
    params = scale_params(QUICK_SCALE)
    diagonal = True


class QuickExercises(_Quick):
    version = "1"
    params = step_params(loss=LOSSES, activation=ACTIVATIONS)


class FullBatch(_Full):
    version = "1"
    params = step_params(batch=FULL_BATCH, dtype=DTYPES)
    compile_at_tutorial = True

    def setup_cache(self):
        return self.searched_rates()


class FullDIn(_Full):
    version = "1"
    params = step_params(d_in=FULL_D_IN, dtype=DTYPES)

    def setup_cache(self):
        return self.searched_rates()


class FullHidden(_Full):
    version = "1"
    params = step_params(hidden=FULL_HIDDEN, dtype=DTYPES)

    def setup_cache(self):
        return self.searched_rates()


class FullScale(_Full):
    version = "1"
    params = scale_params(FULL_SCALE, dtype=DTYPES)
    diagonal = True
    compile_on_cuda = True

    def setup_cache(self):
        return self.searched_rates()


class FullExercises(_Full):
    version = "1"
    params = step_params(loss=LOSSES, activation=ACTIVATIONS, dtype=DTYPES)

    def setup_cache(self):
        return self.searched_rates()


class FullThreads(_Full):
    version = "1"
    params = step_params(threads=THREADS, batch=FULL_THREADS_BATCH)

    def setup_cache(self):
        return self.searched_rates()
