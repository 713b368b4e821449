"""`custom-fn-cpu`, `custom-fn-cuda`: the activation as a custom ``torch.autograd.Function``.

The tutorial's "defining your own autograd functions": the same step as `impls.torch_autograd`,
but the hidden activation is a ``torch.autograd.Function`` whose ``forward`` saves what its
``backward`` needs with ``ctx.save_for_backward`` and whose ``backward`` is written by hand;
autograd does the rest (the matrix products and the cost). What differs from the tutorial's
``MyReLU``:
- ``@staticmethod`` forward and backward applied with ``.apply`` (today's API; the tutorial's
  era instantiated the Function);
- ReLU's backward is ``masked_fill(h < 0, 0)``, the tutorial's ``clone()`` then
  ``grad[h < 0] = 0`` in one out-of-place op (a backward must not overwrite its incoming gradient);
- the sigmoid exercise as its own Function, saving its output s and returning grad * s * (1 - s);
- as in `impls.torch_autograd`: a fused ``sub_`` update under ``no_grad``, gradients reset to
  ``None``, and the loss kept a device tensor until `loss()` is asked for.
"""

from __future__ import annotations

import torch

from impls.problem import Problem
from impls.torch_autograd import loss_forward  # the same cost; only the activation differs
from impls.torch_device import TorchTrainer


class MyReLU(torch.autograd.Function):
    """h_relu = max(h, 0); its backward passes the gradient where h >= 0."""

    @staticmethod
    def forward(ctx, h: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(h)
        return h.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_h_relu: torch.Tensor) -> torch.Tensor:
        (h,) = ctx.saved_tensors
        return grad_h_relu.masked_fill(h < 0, 0)


class MySigmoid(torch.autograd.Function):
    """s = 1 / (1 + exp(-h)); its backward is grad * s * (1 - s), from the saved output."""

    @staticmethod
    def forward(ctx, h: torch.Tensor) -> torch.Tensor:
        h_sigmoid = torch.sigmoid(h)
        ctx.save_for_backward(h_sigmoid)
        return h_sigmoid

    @staticmethod
    def backward(ctx, grad_h_sigmoid: torch.Tensor) -> torch.Tensor:
        (h_sigmoid,) = ctx.saved_tensors
        return grad_h_sigmoid * h_sigmoid * (1 - h_sigmoid)


def activation_forward(h: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "relu":
        return MyReLU.apply(h)
    return MySigmoid.apply(h)


class CustomFunctionTrainer(TorchTrainer):
    def __init__(self, problem: Problem, device: str = "cpu") -> None:
        super().__init__(problem, device)
        self.x, self.y, self.w1, self.w2 = self.tensors(problem.initial_arrays())
        self.w1.requires_grad_(True)
        self.w2.requires_grad_(True)
        self._loss = torch.full((), torch.nan, dtype=self.w1.dtype, device=self.torch_device)

    def step(self) -> None:
        x, y, w1, w2 = self.x, self.y, self.w1, self.w2
        learning_rate = self.learning_rate

        # Forward pass: compute predicted y, the activation through our own Function
        y_pred = activation_forward(x.mm(w1), self.problem.activation).mm(w2)

        # Compute loss, then its gradients with respect to w1 and w2
        loss = loss_forward(y_pred, y, self.problem.loss)
        loss.backward()

        # Update weights using gradient descent, then reset the gradients
        with torch.no_grad():
            w1.sub_(w1.grad, alpha=learning_rate)
            w2.sub_(w2.grad, alpha=learning_rate)
        w1.grad = None
        w2.grad = None

        self._loss = loss.detach()
        self.steps_taken += 1
