"""The default learning rate of ``init="scaled"``: a deterministic backtracking search.

Why a search: the cost is a *sum* over the batch (as in the tutorial), so the curvature, and with
it the largest stable step, changes by orders of magnitude across the benchmark grid and between
the two costs (the exponential cost's curvature grows with exp(sum_j |y_pred - y|)). A measured
closed-form rule (lr scaled by batch and by the initial gradient) still diverged at several grid
points (shared/notes/stable-learning-rate.md); a search from the initial weights did not.

The search, in float64 whatever the problem's dtype (so every implementation, device and dtype of
one problem on one machine gets the same rate):
1. start at lr0 = |w| / |grad w| at the initial weights (a step as long as the weights: too long);
2. halve until `TRIAL_STEPS` steps from the initial weights keep the loss finite and strictly
   falling at every step;
3. return that rate divided by `SAFETY_FACTOR`, for room to spare over long runs and float32.

Cost: a few trial runs of `TRIAL_STEPS` steps, in set-up and never in a timed region; cached per
process. At the largest CPU grid points it takes seconds; above `GPU_SEARCH_FLOPS` per step, on a
machine with CUDA, it runs in float64 on the GPU instead (the same arithmetic up to rounding).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from functools import lru_cache

import numpy as np

from impls.problem import TUTORIAL_LR, Problem

TRIAL_STEPS = 5
SAFETY_FACTOR = 4.0
MAX_HALVINGS = 80


class UnstableProblem(ValueError):
    """No learning rate keeps this problem's loss finite and falling (e.g. exp cost overflow)."""


def _accepts(losses: list[float]) -> bool:
    return all(math.isfinite(v) for v in losses) and all(
        b < a for a, b in itertools.pairwise(losses)
    )


def _search_trainer(problem: Problem, device: str):
    """A float64 trainer for the search: numpy on the CPU, torch's hand-written step on CUDA.

    Made directly, not through the registry (which calls this module), so `impls` has no
    import cycle.
    """
    if device == "cuda":
        from impls.torch_backprop import TorchBackpropTrainer

        return TorchBackpropTrainer(problem, "cuda")
    from impls.numpy_backprop import NumpyTrainer

    return NumpyTrainer(problem, "cpu")


@lru_cache(maxsize=1024)
def _search(problem: Problem, device: str) -> float:
    trainer = _search_trainer(replace(problem, dtype="float64", lr=1.0), device)
    w1_0, w2_0 = trainer.weights()

    def run(lr: float, steps: int) -> list[float]:
        trainer.learning_rate = lr
        trainer.set_weights(w1_0, w2_0)
        losses = []
        with np.errstate(all="ignore"):  # a too-long trial step is expected to overflow
            for _ in range(steps):
                trainer.step()
                losses.append(trainer.loss())
                if not math.isfinite(losses[-1]):
                    break
        return losses

    # One step at lr=1 gives the initial loss and, from the weight change, the gradient norm.
    first = run(1.0, 1)[0]
    if not math.isfinite(first):
        raise UnstableProblem(
            f"{problem}: the initial loss is not finite in float64, so no learning rate can train"
            f" it (with loss='exp', sum_j |y_pred - y| over d_out={problem.d_out} outputs"
            " overflows exp)"
        )
    w1, w2 = trainer.weights()
    grad_norm = math.sqrt(np.sum((w1 - w1_0) ** 2) + np.sum((w2 - w2_0) ** 2))
    weight_norm = math.sqrt(np.sum(w1_0**2) + np.sum(w2_0**2))
    lr = weight_norm / grad_norm if grad_norm > 0 and math.isfinite(grad_norm) else 1.0
    # Cheap screen first (the loss must fall after one update), then the full trial.
    for _ in range(MAX_HALVINGS):
        if _accepts(run(lr, 2)) and _accepts(run(lr, TRIAL_STEPS + 1)):
            return lr / SAFETY_FACTOR
        lr /= 2.0
    raise UnstableProblem(f"{problem}: no learning rate down to {lr:.3g} trains stably")


#: Above this many operations per step the search runs on the GPU when one is visible.
GPU_SEARCH_FLOPS = 1e11


def search_device(problem: Problem) -> str:
    """Where the search runs: numpy on the CPU, or float64 torch on CUDA for huge problems.

    The choice depends only on the problem's size and the machine, so every implementation of
    one problem on one machine gets the same rate.
    """
    from impls.cost import step_flops
    from impls.cuda import cuda_available

    if step_flops(problem) > GPU_SEARCH_FLOPS and cuda_available():
        return "cuda"
    return "cpu"


def default_lr(problem: Problem, device: str | None = None) -> float:
    """The default learning rate of ``problem`` (independent of its dtype and ``lr`` field)."""
    key = replace(problem, dtype="float64", lr=None)
    return _search(key, device or search_device(key))


def rate_in_force(problem: Problem) -> float:
    """The rate a trainer of ``problem`` uses: ``lr`` if set, the tutorial's 1e-6 for
    ``init="seed"``, else the searched default (cached per process)."""
    if problem.lr is not None:
        return problem.lr
    if problem.init == "seed":
        return TUTORIAL_LR
    return default_lr(problem)
