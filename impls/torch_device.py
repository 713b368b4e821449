"""What every torch implementation shares: the device, moving arrays to it and back, and sync.

Kept apart from the maths so that the implementation modules differ only in how they compute
a step. Importing this module never touches CUDA; the device is first used when a trainer is made.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from impls.problem import Problem
from impls.trainer import Trainer

#: "highest" keeps float32 matrix products in IEEE float32 (TF32 off); see impls.facts.
FLOAT32_MATMUL_PRECISION = "highest"


class TorchTrainer(Trainer):
    """A `Trainer` whose state lives in torch tensors on ``self.device`` (set by the registry):
    subclasses keep the weights in ``self.w1``, ``self.w2`` and the last loss, a device tensor,
    in ``self._loss``."""

    def __init__(self, problem: Problem, device: str = "cpu") -> None:
        super().__init__(problem, device)
        self.torch_device = torch.device(self.device)
        # float32 matrix products in full float32: no TF32 on GPUs that have it (the default,
        # made explicit so that a library or earlier code cannot change it unseen).
        torch.set_float32_matmul_precision(FLOAT32_MATMUL_PRECISION)

    def tensors(self, arrays: Iterable[np.ndarray]) -> list[torch.Tensor]:
        """Copies of numpy arrays on this trainer's device, dtype unchanged."""
        return [torch.from_numpy(a).to(self.torch_device, copy=True) for a in arrays]

    @staticmethod
    def to_numpy(t: torch.Tensor) -> np.ndarray:
        return t.detach().to("cpu", copy=True).numpy()

    def _last_loss(self) -> float:
        return float(self._loss.item())

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        return self.to_numpy(self.w1), self.to_numpy(self.w2)

    def set_weights(self, w1: np.ndarray, w2: np.ndarray) -> None:
        with torch.no_grad():
            self.w1.copy_(torch.from_numpy(w1))
            self.w2.copy_(torch.from_numpy(w2))

    def sync(self) -> None:
        if self.torch_device.type == "cuda":
            torch.cuda.synchronize(self.torch_device)
