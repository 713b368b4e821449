"""`custom-fn-cpu`, `custom-fn-cuda`: the activation as a custom ``torch.autograd.Function``.

The tutorial's "defining your own autograd functions": the step of `impls.torch_autograd`
(inherited, so the two cannot drift apart), but the hidden activation is a ``torch.autograd.Function`` whose ``forward`` saves what its
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

from impls.torch_autograd import TorchAutogradTrainer


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


class CustomFunctionTrainer(TorchAutogradTrainer):
    """`impls.torch_autograd`'s step, its activation through `MyReLU` / `MySigmoid`."""

    activation_forward = staticmethod(activation_forward)
