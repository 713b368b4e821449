"""The default learning rate of ``init="scaled"``: a deterministic backtracking search.

Why a search: the cost is a *sum* over the batch (as in the tutorial), so the curvature, and with
it the largest stable step, changes by orders of magnitude across the benchmark grid and between
the two costs (the exponential cost's curvature grows with exp(sum_j |y_pred - y|)). A measured
closed-form rule (lr scaled by batch and by the initial gradient) still diverged at several grid
points (shared/notes/stable-learning-rate.md); a search from the initial weights did not.

The search, always in float64 numpy on the CPU (so every implementation, device and dtype of one
problem gets the same rate):
1. start at lr0 = |w| / |grad w| at the initial weights (a step as long as the weights: too long);
2. halve until `TRIAL_STEPS` steps from the initial weights keep the loss finite and strictly
   falling at every step;
3. return that rate divided by `SAFETY_FACTOR`, for room to spare over long runs and float32.

Cost: a few trial runs of `TRIAL_STEPS` steps, in set-up and never in a timed region; cached per
process. At the largest CPU grid points it takes seconds; a GPU-only size can be searched there
by passing ``impl="torch-cuda"`` (float64 on the GPU: the same arithmetic up to rounding).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from functools import lru_cache

import numpy as np

from impls.problem import Problem

TRIAL_STEPS = 5
SAFETY_FACTOR = 4.0
MAX_HALVINGS = 80


class UnstableProblem(ValueError):
    """No learning rate keeps this problem's loss finite and falling (e.g. exp cost overflow)."""


def _accepts(losses: list[float]) -> bool:
    return all(math.isfinite(v) for v in losses) and all(
        b < a for a, b in itertools.pairwise(losses)
    )


@lru_cache(maxsize=1024)
def _search(problem: Problem, impl: str) -> float:
    from impls.registry import create

    trainer = create(impl, replace(problem, dtype="float64", lr=1.0))
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


def default_lr(problem: Problem, impl: str = "numpy") -> float:
    """The default learning rate of ``problem`` (independent of its dtype and ``lr`` field)."""
    return _search(replace(problem, dtype="float64", lr=None), impl)
