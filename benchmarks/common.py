"""What every benchmark module shares: the per-process state and the skip and failure rules.

Nothing here builds an input at import time. Inputs come from cached getters: `trainer` makes a
warmed-up trainer once per process and parameter set, `initial_weights` the weights each point
starts from. torch (with the parts it imports lazily on a trainer's first use) is imported here,
never CUDA, so that asv's forkserver parent holds it and each forked benchmark process does not
pay the import again.

The points themselves are listed in `benchmarks.grids`; a benchmark's one parameter is a point's
label (`impls.point`).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import replace
from typing import NoReturn

import numpy as np
from asv_runner.benchmarks.mark import SkipNotImplemented

import impls
from impls import registry

try:  # torch is optional for the core; with it, import it once here (see the module docstring)
    import torch

    # torch.optim's first optimizer imports torch._dynamo (~1.1 s here): once here, not in
    # every forked process of an nn implementation's point (half the quick grid's time).
    import torch._dynamo
except ImportError:  # pragma: no cover - every supported install has torch
    torch = None

#: The tutorial's sizes: every one-axis sweep holds the other sizes here.
TUTORIAL = dict(impls.TUTORIAL_SIZES)
#: CPU threads by default: all physical cores, for numpy's BLAS and torch alike.
ALL_THREADS = impls.physical_cores()
#: One seed for every problem: the same data and initial weights for every implementation.
SEED = 0

#: asv's parameter name of every benchmark: a point label.
PARAM_NAMES = ["point"]

#: Warm-up once per process, before any sample: first calls, BLAS/cuBLAS initialisation,
#: allocator growth and compilation are not steady state. At least `WARMUP_STEPS` steps, more
#: (up to `WARMUP_MAX_STEPS`) while under `WARMUP_SECONDS`.
WARMUP_STEPS = 3
WARMUP_MAX_STEPS = 50
WARMUP_SECONDS = 0.02


def device_of(impl: str) -> str | None:
    """``"cpu"`` or ``"cuda"``; None for a name this commit's registry does not hold."""
    try:
        return registry.entry(impl).device
    except ValueError:
        return None


def compiles(impl: str) -> bool:
    """Whether making a trainer of ``impl`` compiles code (seconds per new shape)."""
    try:
        return bool(getattr(registry.entry(impl), "compiles", False))
    except ValueError:
        return False


def unavailable_reason(impl: str) -> str | None:
    """Why ``impl`` cannot run here (not registered in this commit, no CUDA, ...), or None."""
    if device_of(impl) is None:
        return f"{impl} is not registered in this commit's impls"
    return impls.unavailable_reason(impl)


def cuda_available() -> bool:
    return registry.cuda_available()


def rate_key(problem: impls.Problem) -> impls.Problem:
    """The learning rate does not depend on the dtype (see `impls.learning_rate`)."""
    return replace(problem, dtype="float64", lr=None)


def learning_rates(problems) -> dict[impls.Problem, float | str]:
    """The default learning rate of each problem (keyed by `rate_key`), or why there is none.

    The core chooses where each search runs (numpy, or float64 torch on CUDA for huge problems).
    Called from asv's ``setup_cache``: the search runs once per class and run, in its own
    process, never inside a timed region.
    """
    from impls.learning_rate import UnstableProblem, default_lr

    rates: dict[impls.Problem, float | str] = {}
    for problem in problems:
        key = rate_key(problem)
        if key in rates:
            continue
        try:
            rates[key] = default_lr(key)
        except UnstableProblem as error:
            rates[key] = f"no stable learning rate: {error}"
        except _oom_errors() as error:
            _free_cuda()
            rates[key] = f"the learning-rate search ran out of memory: {error}"
    return rates


def _oom_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (MemoryError,)
    if torch is not None:
        errors += (torch.cuda.OutOfMemoryError,)
    return errors


def _free_cuda() -> None:
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


_threads_in_force: int | None = None


def use_threads(threads: int) -> None:
    """Set numpy's BLAS and torch to ``threads`` (once per process), or skip if they refuse."""
    global _threads_in_force
    if _threads_in_force == threads:
        return
    info = impls.set_threads(threads)
    counts = {n for _, _, n in info.blas} | ({info.torch} if info.torch is not None else set())
    if counts != {threads}:
        raise NotImplementedError(f"cannot run on {threads} threads here: {info.summary()}")
    _threads_in_force = threads


_initial: dict[impls.Problem, tuple[np.ndarray, np.ndarray]] = {}


def initial_weights(problem: impls.Problem) -> tuple[np.ndarray, np.ndarray]:
    """The (w1, w2) each point starts from: the problem's seeded initial weights (as read
    back from a new trainer by `trainer`, which saves drawing the data a second time)."""
    if problem not in _initial:
        _, _, w1, w2 = problem.initial_arrays()
        _initial[problem] = (w1, w2)
    return _initial[problem]


def warm_up(trainer: impls.Trainer) -> None:
    start = time.perf_counter()
    steps = 0
    while steps < WARMUP_STEPS or (
        steps < WARMUP_MAX_STEPS and time.perf_counter() - start < WARMUP_SECONDS
    ):
        trainer.step()
        trainer.sync()
        steps += 1


@functools.lru_cache(maxsize=2)
def trainer(impl: str, problem: impls.Problem) -> impls.Trainer:
    """A warmed-up trainer of ``impl`` at ``problem`` (lr set), made once per process.

    A CUDA out-of-memory error becomes a skip with its reason, not a crash of the run.
    """
    try:
        made = impls.create(impl, problem)
        _initial.setdefault(problem, made.weights())
        warm_up(made)
    except _oom_errors() as error:
        _free_cuda()
        raise NotImplementedError(
            f"{impl} ran out of memory at {describe(problem)}: {error}"
        ) from None
    return made


def restore(made: impls.Trainer, problem: impls.Problem) -> None:
    """Back to the initial weights, then wait for the device.

    Done once when a point's trainer is prepared (so its warm-up steps do not shift where the
    timed steps start) and before each CUDA-event sample. The timed steps then run on from there,
    as training does; a converged fit cannot drift into denormal floats (slow on CPUs), since its
    residuals bottom out at the dtype's rounding of O(1) values, far above the denormal range.
    """
    made.set_weights(*initial_weights(problem))
    made.sync()


class NonFiniteState(RuntimeError):
    """A benchmark's state went non-finite: asv must record a failure, never a time."""


def check_finite(made: impls.Trainer) -> None:
    """Raise `NonFiniteState` if the last loss or the weights are not finite."""
    loss = made.loss() if made.steps_taken else 0.0
    if not math.isfinite(loss) or not made.is_finite():
        raise NonFiniteState(
            f"{made.name}: non-finite state after {made.steps_taken} steps"
            f" (last loss {loss!r}) at {describe(made.problem)}"
        )


def skip(reason: str) -> NoReturn:
    """Skip this point (asv shows n/a) and say why in the benchmark's output."""
    print(f"asv: skipped: {reason}", flush=True)
    raise SkipNotImplemented(reason)


def describe(problem: impls.Problem) -> str:
    sizes = ", ".join(f"{k}={v}" for k, v in problem.sizes().items())
    return f"{sizes}, {problem.dtype}, {problem.loss}/{problem.activation}"
