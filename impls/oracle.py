"""The correctness oracle: torch float64 autograd on the CPU, written once, independently.

Every implementation is checked against it before it is timed (tests, and ``nox -s gpu`` before
a CUDA run). It is itself checked against central finite differences in the tests. It shares no
code with the implementations: its maths is the tutorial's, written out plainly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from impls.learning_rate import rate_in_force
from impls.problem import Problem

#: Relative tolerances by dtype on the weight update and the losses (see `check`); measured errors
#: at test sizes are ~3e-6 (float32) and ~4e-15 (float64).
TOLERANCE = {"float32": 1e-4, "float64": 1e-9}


def _loss(x, y, w1, w2, problem: Problem):
    import torch

    h = x.mm(w1)
    h_act = h.clamp(min=0) if problem.activation == "relu" else 1 / (1 + torch.exp(-h))
    y_pred = h_act.mm(w2)
    if problem.loss == "squared":
        return (y_pred - y).pow(2).sum()
    return torch.exp((y_pred - y).abs().sum(dim=1)).sum()


def loss_and_gradients(
    problem: Problem, w1: np.ndarray, w2: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Loss and (dL/dw1, dL/dw2) at the given weights on ``problem``'s data, in float64."""
    import torch

    x, y, _, _ = replace(problem, dtype="float64").initial_arrays()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    t1 = torch.tensor(w1, dtype=torch.float64, requires_grad=True)
    t2 = torch.tensor(w2, dtype=torch.float64, requires_grad=True)
    loss = _loss(tx, ty, t1, t2, problem)
    loss.backward()
    return float(loss.detach()), t1.grad.numpy(), t2.grad.numpy()


def trajectory(problem: Problem, steps: int) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Losses and final weights of ``steps`` SGD steps from the problem's initial weights."""
    _, _, w1, w2 = replace(problem, dtype="float64").initial_arrays()
    lr = rate_in_force(problem)
    losses = []
    for _ in range(steps):
        loss, g1, g2 = loss_and_gradients(problem, w1, w2)
        losses.append(loss)
        w1, w2 = w1 - lr * g1, w2 - lr * g2
    return losses, w1, w2


def relative_error(value: np.ndarray, reference: np.ndarray) -> float:
    """||value - reference|| / ||reference|| in float64 (inf if the reference is zero)."""
    value = np.asarray(value, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    scale = float(np.linalg.norm(reference))
    diff = float(np.linalg.norm(value - reference))
    if not math.isfinite(diff):
        return math.inf
    return diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)


@dataclass(frozen=True)
class Check:
    """The outcome of one implementation against the oracle."""

    impl: str
    problem: Problem
    steps: int
    update_error: float  # relative error of (w_after - w_before), both weights stacked
    loss_error: float  # relative error of the losses seen
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.update_error <= self.tolerance and self.loss_error <= self.tolerance

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "WRONG"
        return (
            f"{self.impl}: {verdict} after {self.steps} step(s) ({self.problem.dtype}, "
            f"{self.problem.loss}, {self.problem.activation}): update error "
            f"{self.update_error:.2e}, loss error {self.loss_error:.2e}, tolerance {self.tolerance:.0e}"
        )


def probing_lr(problem: Problem) -> float:
    """A rate whose single step moves the weights by 1% of their norm.

    One step at the default rate can move the weights so little that float32 rounding of
    w - lr * grad hides a wrong gradient; at this rate the update is well above rounding.
    """
    _, _, w1, w2 = replace(problem, dtype="float64").initial_arrays()
    _, g1, g2 = loss_and_gradients(problem, w1, w2)
    w_norm = math.hypot(np.linalg.norm(w1), np.linalg.norm(w2))
    g_norm = math.hypot(np.linalg.norm(g1), np.linalg.norm(g2))
    return 1e-2 * w_norm / g_norm


def check(impl: str, problem: Problem, steps: int = 1) -> Check:
    """Run ``impl`` for ``steps`` steps and compare its weight change and losses with the oracle."""
    from impls.registry import create

    trainer = create(impl, problem)
    w1_0, w2_0 = trainer.weights()
    losses = []
    for _ in range(steps):
        trainer.step()
        losses.append(trainer.loss())
    w1, w2 = trainer.weights()
    ref_losses, r1, r2 = trajectory(problem, steps)
    _, _, r1_0, r2_0 = replace(problem, dtype="float64").initial_arrays()
    update = np.concatenate(
        [(w1.astype(np.float64) - w1_0).ravel(), (w2.astype(np.float64) - w2_0).ravel()]
    )
    ref_update = np.concatenate([(r1 - r1_0).ravel(), (r2 - r2_0).ravel()])
    return Check(
        impl=impl,
        problem=problem,
        steps=steps,
        update_error=relative_error(update, ref_update),
        loss_error=relative_error(losses, ref_losses),
        tolerance=TOLERANCE[problem.dtype],
    )
