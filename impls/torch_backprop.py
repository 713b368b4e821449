"""`torch-cpu`, `torch-cuda`: the tutorial's tensor program, a hand-written backward in torch.

Same maths and names as `impls.numpy_backprop`; a diff of the two shows only the change of
framework. What differs from the tutorial, all for speed, none for the result:
- no print in the loop (``print(loss)`` copies to the host and syncs the GPU every step): the
  loss stays a device tensor until `loss()` is asked for;
- in-place work where torch allows it: ``masked_fill_`` for the ReLU mask and ``mul_`` for the
  sigmoid derivative on ``grad_h_relu`` (the tutorial clones it first), and the update is one fused
  ``sub_(grad, alpha=learning_rate)`` instead of allocating ``learning_rate * grad_w1``;
- the exercises: the exponential cost and sigmoid units, chosen by the `Problem`.
"""

from __future__ import annotations

import torch

from impls.problem import Problem
from impls.torch_device import TorchTrainer


def activation_forward(h: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "relu":
        return h.clamp(min=0)
    return torch.sigmoid(h)


def activation_backward(
    grad_h_relu: torch.Tensor, h: torch.Tensor, h_relu: torch.Tensor, activation: str
) -> torch.Tensor:
    """grad_h from grad_h_relu, overwriting grad_h_relu (it is not used again)."""
    grad_h = grad_h_relu
    if activation == "relu":
        grad_h.masked_fill_(h < 0, 0)
    else:
        grad_h.mul_(h_relu)
        grad_h.mul_(1 - h_relu)
    return grad_h


def loss_and_grad(
    y_pred: torch.Tensor, y: torch.Tensor, loss: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cost and its gradient with respect to y_pred.

    squared: sum((y_pred - y)^2), gradient 2 (y_pred - y).
    exp: sum_n exp(sum_j |y_pred - y|), gradient exp(sum_j |.|)[n] * sign(y_pred - y).
    """
    diff = y_pred - y
    if loss == "squared":
        loss_value = diff.square().sum()
        grad_y_pred = diff
        grad_y_pred.mul_(2.0)
        return loss_value, grad_y_pred
    per_example = diff.abs().sum(dim=1).exp()
    loss_value = per_example.sum()
    grad_y_pred = diff.sign()
    grad_y_pred.mul_(per_example[:, None])
    return loss_value, grad_y_pred


class TorchBackpropTrainer(TorchTrainer):
    def __init__(self, problem: Problem, device: str = "cpu") -> None:
        super().__init__(problem, device)
        self.x, self.y, self.w1, self.w2 = self.tensors(problem.initial_arrays())
        self._loss = torch.full((), torch.nan, dtype=self.w1.dtype, device=self.torch_device)

    @torch.no_grad()
    def step(self) -> None:
        x, y, w1, w2 = self.x, self.y, self.w1, self.w2
        activation, learning_rate = self.problem.activation, self.learning_rate

        # Forward pass: compute predicted y
        h = x.mm(w1)
        h_relu = activation_forward(h, activation)
        y_pred = h_relu.mm(w2)

        # Compute loss, and its gradient with respect to y_pred
        loss, grad_y_pred = loss_and_grad(y_pred, y, self.problem.loss)

        # Backprop to compute gradients of w1 and w2 with respect to loss
        grad_w2 = h_relu.t().mm(grad_y_pred)
        grad_h_relu = grad_y_pred.mm(w2.t())
        grad_h = activation_backward(grad_h_relu, h, h_relu, activation)
        grad_w1 = x.t().mm(grad_h)

        # Update weights using gradient descent
        w1.sub_(grad_w1, alpha=learning_rate)
        w2.sub_(grad_w2, alpha=learning_rate)

        self._loss = loss
        self.steps_taken += 1
