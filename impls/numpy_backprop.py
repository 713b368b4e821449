"""`numpy`: the tutorial's first program, numpy with a hand-written forward and backward.

Same maths and names as the tutorial; a diff against `impls.torch_backprop` shows only the change
of framework. What differs from the tutorial, all for speed or stability, none for the result:
- ``@`` instead of ``.dot`` (the same BLAS GEMM), and no print in the loop;
- in-place work where numpy allows it: the ReLU mask and the sigmoid derivative are applied to
  ``grad_h_relu`` in place (the tutorial copies it first), and the update scales the fresh
  gradient in place instead of allocating ``learning_rate * grad_w1``;
- ``np.copyto(..., where=h < 0)`` instead of boolean-index assignment (same values, no gather);
- sigmoid as 0.5 * tanh(h / 2) + 0.5, equal to 1 / (1 + exp(-h)) without its overflow for very
  negative h;
- the exercises: the exponential cost and sigmoid units, chosen by the `Problem`;
- x, y, w1 and w2 start on 64-byte boundaries (`impls.aligned`), as torch's tensors do: where
  malloc happened to put w1 moved the step's time by up to 1.45x between processes.
"""

from __future__ import annotations

import numpy as np

from impls.aligned import aligned_copy
from impls.problem import Problem
from impls.trainer import Trainer


def activation_forward(h: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(h, 0)
    h_sigmoid = np.tanh(h * 0.5)
    h_sigmoid *= 0.5
    h_sigmoid += 0.5
    return h_sigmoid


def activation_backward(
    grad_h_relu: np.ndarray, h: np.ndarray, h_relu: np.ndarray, activation: str
) -> np.ndarray:
    """grad_h from grad_h_relu, overwriting grad_h_relu (it is not used again)."""
    grad_h = grad_h_relu
    if activation == "relu":
        np.copyto(grad_h, 0, where=h < 0)
    else:
        grad_h *= h_relu
        grad_h *= 1 - h_relu
    return grad_h


def loss_and_grad(y_pred: np.ndarray, y: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """The cost and its gradient with respect to y_pred.

    squared: sum((y_pred - y)^2), gradient 2 (y_pred - y).
    exp: sum_n exp(sum_j |y_pred - y|), gradient exp(sum_j |.|)[n] * sign(y_pred - y).
    """
    diff = y_pred - y
    if loss == "squared":
        loss_value = np.square(diff).sum()
        grad_y_pred = diff
        grad_y_pred *= 2.0
        return loss_value, grad_y_pred
    per_example = np.exp(np.abs(diff).sum(axis=1))
    loss_value = per_example.sum()
    grad_y_pred = np.sign(diff)
    grad_y_pred *= per_example[:, None]
    return loss_value, grad_y_pred


class NumpyTrainer(Trainer):
    def __init__(self, problem: Problem, device: str = "cpu") -> None:
        if device != "cpu":
            raise ValueError(f"device={device!r} is invalid for numpy: expected 'cpu'")
        super().__init__(problem, device)
        self.x, self.y, self.w1, self.w2 = map(aligned_copy, problem.initial_arrays())
        self._loss = np.nan

    def step(self) -> None:
        x, y, w1, w2 = self.x, self.y, self.w1, self.w2
        activation, learning_rate = self.problem.activation, self.learning_rate

        # Forward pass: compute predicted y
        h = x @ w1
        h_relu = activation_forward(h, activation)
        y_pred = h_relu @ w2

        # Compute loss, and its gradient with respect to y_pred
        loss, grad_y_pred = loss_and_grad(y_pred, y, self.problem.loss)

        # Backprop to compute gradients of w1 and w2 with respect to loss
        grad_w2 = h_relu.T @ grad_y_pred
        grad_h_relu = grad_y_pred @ w2.T
        grad_h = activation_backward(grad_h_relu, h, h_relu, activation)
        grad_w1 = x.T @ grad_h

        # Update weights
        grad_w1 *= learning_rate
        w1 -= grad_w1
        grad_w2 *= learning_rate
        w2 -= grad_w2

        self._loss = loss
        self.steps_taken += 1

    def _last_loss(self) -> float:
        return float(self._loss)

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        return self.w1.copy(), self.w2.copy()

    def set_weights(self, w1: np.ndarray, w2: np.ndarray) -> None:
        np.copyto(self.w1, w1)
        np.copyto(self.w2, w2)
