"""`nn-cpu`, `nn-cuda`: the tutorial's nn/optim chapter, ``nn.Sequential`` and ``optim.SGD``.

The same network as `impls.torch_autograd`, built from modules: ``Linear(bias=False)``, the
activation module, ``Linear(bias=False)``, with the cost as a loss module and the update done by
the optimizer. What differs from the tutorial's nn/optim programs:
- no biases (the tutorial's ``Linear`` layers have them, which would change the model); a
  ``Linear`` stores its weight as (out, in) and computes ``x @ weight.T``, so ``w1`` and ``w2`` here
  are the two weights seen transposed, holding exactly the problem's initial w1 and w2;
- the layers are made with ``torch.nn.utils.skip_init`` (no random initialisation that is then
  overwritten) directly on the device and in the problem's dtype;
- plain SGD (the tutorial's optim program uses Adam); ``zero_grad(set_to_none=True)`` (the default
  since torch 2.0, written out) lets backward write fresh gradients instead of adding into zeros;
  the optimizer's defaults otherwise (on CUDA its multi-tensor ``foreach`` update);
- the loss stays a device tensor until `loss()` is asked for (no print in the loop);
- the exercises: the exponential cost as a small loss module, and ``torch.nn.Sigmoid``.
"""

from __future__ import annotations

import torch

from impls.problem import Problem
from impls.torch_device import TorchTrainer


def activation_module(activation: str) -> torch.nn.Module:
    if activation == "relu":
        return torch.nn.ReLU()
    return torch.nn.Sigmoid()


class ExponentialLoss(torch.nn.Module):
    """The tutorial's exercise cost, sum_n exp(sum_j |y_pred - y|), as a loss module."""

    def forward(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y_pred - y).abs().sum(dim=1).exp().sum()


def loss_module(loss: str) -> torch.nn.Module:
    """squared: sum((y_pred - y)^2), torch's MSELoss summed; exp: `ExponentialLoss`."""
    if loss == "squared":
        return torch.nn.MSELoss(reduction="sum")
    return ExponentialLoss()


class TorchNNTrainer(TorchTrainer):
    def __init__(self, problem: Problem, device: str = "cpu") -> None:
        super().__init__(problem, device)
        x, y, w1, w2 = problem.initial_arrays()
        self.x, self.y = self.tensors((x, y))
        factory = {"device": self.torch_device, "dtype": self.x.dtype, "bias": False}
        self.model = torch.nn.Sequential(
            torch.nn.utils.skip_init(torch.nn.Linear, problem.d_in, problem.hidden, **factory),
            activation_module(problem.activation),
            torch.nn.utils.skip_init(torch.nn.Linear, problem.hidden, problem.d_out, **factory),
        )
        # w1 and w2 as the tutorial has them: views of the Linear weights, transposed.
        self.w1, self.w2 = self.model[0].weight.T, self.model[2].weight.T
        self.set_weights(w1, w2)
        self.loss_fn = loss_module(problem.loss)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.learning_rate)
        self._loss = torch.full((), torch.nan, dtype=self.x.dtype, device=self.torch_device)

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:  # the optimizer holds the rate in force
        self._learning_rate = value
        optimizer = getattr(self, "optimizer", None)  # None while Trainer.__init__ sets the rate
        if optimizer is not None:
            for group in optimizer.param_groups:
                group["lr"] = value

    def step(self) -> None:
        model, optimizer = self.model, self.optimizer

        # Forward pass: compute predicted y by passing x to the model
        y_pred = model(self.x)

        # Compute loss, then its gradients with respect to the model's weights
        loss = self.loss_fn(y_pred, self.y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()

        # Update weights using gradient descent
        optimizer.step()

        self._loss = loss.detach()
        self.steps_taken += 1
