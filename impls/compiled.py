"""`compile-cpu`, `compile-cuda`: the whole step, backward and update too, under ``torch.compile``.

The same maths as `impls.torch_autograd`, compiled by TorchInductor into one graph: C++/OpenMP
kernels on the CPU, Triton kernels on CUDA, the matrix products left to the BLAS / cuBLAS. What
differs from `impls.torch_autograd`, and why:
- the gradients come from ``torch.func.grad_and_value`` of a loss function of (w1, w2) instead of
  ``loss.backward()``: in torch 2.13 ``backward()`` is a graph break for dynamo (unless a private
  config is set), which would split the step into a compiled forward, an eager backward and a
  compiled update; the functional gradient puts the backward and the update in the same graph, and
  w1, w2 no longer need ``requires_grad``;
- the learning rate is a 0-d tensor on the device rather than a float: a float is baked into the
  compiled code as a constant, so each new rate would recompile (torch's own advice for compiled
  optimizers);
- the first `step()` compiles (seconds: a cold start, to be timed apart from the steady state);
  compiled code is kept per (sizes, dtype, cost, activation, device) for the life of the process,
  so later trainers of the same problem shape reuse it (`forget_compiled` drops it). Each such key
  compiles its own copy of `train_step`, since dynamo keeps compiled variants per code object and
  stops at ``recompile_limit`` (8) variants, fewer than a size sweep needs; ``dynamic=False``
  specialises each to its shapes, as a user with fixed shapes would; ``fullgraph=True`` makes any
  graph break an error, never a silent fall back to eager;
- default mode (no CUDA graphs: that is `impls.cudagraph`'s idea, kept apart).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from functools import cache

import torch

from impls.problem import Problem
from impls.torch_autograd import activation_forward, loss_forward  # the same maths
from impls.torch_device import TorchTrainer


def loss_of_weights(w1, w2, x, y, loss: str, activation: str) -> torch.Tensor:
    # Forward pass: compute predicted y, then the loss
    y_pred = activation_forward(x.mm(w1), activation).mm(w2)
    return loss_forward(y_pred, y, loss)


def train_step(x, y, w1, w2, learning_rate, loss: str, activation: str) -> torch.Tensor:
    """One SGD step, written to be compiled whole; updates w1 and w2 in place, returns the loss."""
    # Compute loss, and its gradients with respect to w1 and w2
    gradients, loss_value = torch.func.grad_and_value(loss_of_weights, argnums=(0, 1))(
        w1, w2, x, y, loss, activation
    )
    grad_w1, grad_w2 = gradients

    # Update weights using gradient descent
    w1.sub_(grad_w1 * learning_rate)
    w2.sub_(grad_w2 * learning_rate)
    return loss_value


_COMPILED: dict[tuple, Callable[..., torch.Tensor]] = {}


def compiled_train_step(problem: Problem, device: str) -> Callable[..., torch.Tensor]:
    """The compiled `train_step` for this problem's shapes, dtype, cost and activation on device."""
    key = (*problem.sizes().values(), problem.dtype, problem.loss, problem.activation, device)
    if key not in _COMPILED:
        own_copy = types.FunctionType(
            train_step.__code__.replace(), train_step.__globals__, train_step.__name__
        )
        _COMPILED[key] = torch.compile(own_copy, fullgraph=True, dynamic=False)
    return _COMPILED[key]


def forget_compiled() -> None:
    """Drop every compiled step of this process (the next first step compiles again; inductor's
    on-disk cache, if enabled, still makes that faster than a first compile ever)."""
    _COMPILED.clear()


@contextlib.contextmanager
def compile_warnings_silenced() -> Iterator[None]:
    """Two known warnings while inductor compiles, neither about this code: the deprecation of
    ``torch.jit.script_method`` when inductor imports ``torch.utils.mkldnn``, and the advice to
    allow TF32 on any GPU that has it (ffbench keeps TF32 off on purpose; see impls.facts)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`torch.jit.script_method` is deprecated", category=DeprecationWarning
        )
        warnings.filterwarnings(
            "ignore", message="TensorFloat32 tensor cores for float32 matrix multiplication"
        )
        yield


@cache
def compiler_missing(name: str) -> str | None:
    """What inductor lacks here to compile for ``name``'s device, or None (a registry check):
    Triton for CUDA, a C++ compiler for the CPU."""
    if name.endswith("-cuda"):
        if importlib.util.find_spec("triton") is None:
            return "triton (inductor's CUDA code generator), which is not installed"
        return None
    compiler = os.environ.get("CXX") or ("clang++" if sys.platform == "darwin" else "g++")
    path = shutil.which(compiler)
    if path is None:
        return f"a C++ compiler for torch.compile on the CPU: {compiler!r} is not on PATH (set CXX)"
    try:  # what inductor itself tries before using it
        subprocess.run([path, "--version"], capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return f"a working C++ compiler for torch.compile on the CPU: {path} failed ({error})"
    return None


class CompiledTrainer(TorchTrainer):
    def __init__(self, problem: Problem, device: str = "cpu") -> None:
        super().__init__(problem, device)
        self.x, self.y, self.w1, self.w2 = self.tensors(problem.initial_arrays())
        self._learning_rate_tensor = torch.tensor(
            self._learning_rate, dtype=self.w1.dtype, device=self.torch_device
        )
        self._train_step = compiled_train_step(problem, device)
        self._loss = torch.full((), torch.nan, dtype=self.w1.dtype, device=self.torch_device)

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:  # the compiled step reads it from the device
        self._learning_rate = value
        if hasattr(self, "_learning_rate_tensor"):  # not yet while Trainer.__init__ sets it
            self._learning_rate_tensor.fill_(value)

    def step(self) -> None:
        args = (self.x, self.y, self.w1, self.w2, self._learning_rate_tensor)
        settings = (self.problem.loss, self.problem.activation)

        # Forward, loss, backward and update: one compiled graph (compiled by the first step)
        if self.steps_taken:
            loss = self._train_step(*args, *settings)
        else:
            with compile_warnings_silenced():
                loss = self._train_step(*args, *settings)

        self._loss = loss
        self.steps_taken += 1
