"""What every implementation is: a `Trainer` holding one problem's state on one device.

A trainer starts from exactly ``problem.initial_arrays()`` and the learning rate in force. Its
``step()`` queues one SGD step (forward, loss, backward, update) and never waits for a device or
copies to the host, so a benchmark can time it; ``loss()`` and ``weights()`` may do both.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from impls.problem import TUTORIAL_LR, Problem


def _rate(problem: Problem) -> float:
    """The rate given with the problem; the searched default is resolved by `impls.create`."""
    if problem.lr is not None:
        return problem.lr
    if problem.init == "seed":
        return TUTORIAL_LR
    raise ValueError(
        "Problem.lr=None is invalid for a trainer made directly: make it with impls.create"
        " (which searches the default rate) or set lr"
    )


class Trainer(ABC):
    """Base of every implementation: the shared contract and its guards, no maths."""

    #: Registry name, e.g. ``"torch-cpu"``; set by the registry.
    name: str = ""
    #: ``"cpu"`` or ``"cuda"``.
    device: str = "cpu"

    def __init__(self, problem: Problem, device: str = "cpu") -> None:
        self.problem = problem
        self.device = device
        self.learning_rate = _rate(problem)
        self.steps_taken = 0

    @abstractmethod
    def step(self) -> None:
        """One SGD step: forward, loss, backward, update. Never syncs or copies to the host."""

    @abstractmethod
    def _last_loss(self) -> float:
        """The loss of the most recent step's forward, as a Python float."""

    @abstractmethod
    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Numpy copies of the current (w1, w2)."""

    @abstractmethod
    def set_weights(self, w1: np.ndarray, w2: np.ndarray) -> None:
        """Overwrite the current weights in place (set-up only, e.g. to restart a run)."""

    def loss(self) -> float:
        """The loss computed by the most recent step's forward pass."""
        if self.steps_taken == 0:
            raise RuntimeError(f"{self.name}: loss() called before any step()")
        return self._last_loss()

    def sync(self) -> None:  # noqa: B027 (a hook: a no-op unless the device is asynchronous)
        """Wait for queued device work; a no-op where work is synchronous."""

    def is_finite(self) -> bool:
        """True when the weights and the last loss are all finite (copies to the host)."""
        w1, w2 = self.weights()
        finite = bool(np.isfinite(w1).all() and np.isfinite(w2).all())
        if self.steps_taken:
            finite = finite and math.isfinite(self.loss())
        return finite
