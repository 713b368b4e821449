"""`autograd-cpu`, `autograd-cuda`: the forward in torch, the backward by ``loss.backward()``.

The tutorial's autograd exercise in today's torch: ``Variable`` is gone (tensors carry
``requires_grad``); the update runs under ``torch.no_grad()`` with a fused
``sub_(grad, alpha=learning_rate)``; the gradients are then reset by setting them to ``None``
(what ``torch.optim`` does by default since torch 2.0: the next backward writes fresh gradients
instead of adding into zeroed ones, which saves a pass over each weight). The loss stays a device
tensor until `loss()` is asked for. Intermediates (``h``, ``h_relu``) are not kept, as the
tutorial's second exercise asks.
"""

from __future__ import annotations

import torch

from impls.problem import Problem
from impls.torch_device import TorchTrainer


def activation_forward(h: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "relu":
        return h.clamp(min=0)
    return torch.sigmoid(h)


def loss_forward(y_pred: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """squared: sum((y_pred - y)^2); exp: sum_n exp(sum_j |y_pred - y|)."""
    if loss == "squared":
        return (y_pred - y).square().sum()
    return (y_pred - y).abs().sum(dim=1).exp().sum()


def train_step(
    x, y, w1, w2, learning_rate: float, loss: str, activation: str, act=activation_forward
) -> torch.Tensor:
    """One SGD step by autograd, updating w1 and w2 in place; returns the loss (detached).

    A function rather than a method so that `impls.cudagraph` records exactly this step.
    """
    # Forward pass: compute predicted y
    y_pred = act(x.mm(w1), activation).mm(w2)

    # Compute loss, then its gradients with respect to w1 and w2
    loss_value = loss_forward(y_pred, y, loss)
    loss_value.backward()

    # Update weights using gradient descent, then reset the gradients
    with torch.no_grad():
        w1.sub_(w1.grad, alpha=learning_rate)
        w2.sub_(w2.grad, alpha=learning_rate)
    w1.grad = None
    w2.grad = None
    return loss_value.detach()


class TorchAutogradTrainer(TorchTrainer):
    #: The hidden activation; `impls.custom_function` swaps in its own autograd Functions.
    activation_forward = staticmethod(activation_forward)

    def __init__(self, problem: Problem, device: str = "cpu") -> None:
        super().__init__(problem, device)
        self.x, self.y, self.w1, self.w2 = self.tensors(problem.initial_arrays())
        self.w1.requires_grad_(True)
        self.w2.requires_grad_(True)
        self._loss = torch.full((), torch.nan, dtype=self.w1.dtype, device=self.torch_device)

    def step(self) -> None:
        p = self.problem
        self._loss = train_step(
            self.x,
            self.y,
            self.w1,
            self.w2,
            self.learning_rate,
            p.loss,
            p.activation,
            self.activation_forward,
        )
        self.steps_taken += 1
