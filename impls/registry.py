"""The one registry of implementations: names in a stable order, what runs here, and `create`.

Benchmarks, tests and reports all take their names from here. Implementation modules are
imported only when a trainer is created, so listing names never imports torch or touches CUDA.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, replace

from impls.cuda import cuda_available
from impls.learning_rate import rate_in_force
from impls.memory import require_memory
from impls.problem import Problem
from impls.trainer import Trainer


class Unavailable(RuntimeError):
    """A registered implementation that cannot run on this machine; the message says why."""


@dataclass(frozen=True)
class Entry:
    """One registered implementation: ``module:cls`` built on ``device``."""

    name: str
    module: str
    cls: str
    device: str
    needs: tuple[str, ...] = ()
    summary: str = ""
    #: True when making a trainer compiles code (seconds per new shape): benchmarks time that
    #: apart, as a cold start, and keep such implementations to few grid points.
    compiles: bool = False
    #: A further requirement beyond ``needs`` and CUDA, as ``"module:function"``: the function
    #: takes the name and returns what is missing here (completing "<name> needs ..."), or None.
    check: str = ""


_ENTRIES: tuple[Entry, ...] = (
    Entry(
        "numpy", "impls.numpy_backprop", "NumpyTrainer", "cpu", (), "numpy, hand-written backward"
    ),
    Entry(
        "torch-cpu",
        "impls.torch_backprop",
        "TorchBackpropTrainer",
        "cpu",
        ("torch",),
        "torch tensors, hand-written backward",
    ),
    Entry(
        "torch-cuda",
        "impls.torch_backprop",
        "TorchBackpropTrainer",
        "cuda",
        ("torch",),
        "torch tensors, hand-written backward",
    ),
    Entry(
        "autograd-cpu",
        "impls.torch_autograd",
        "TorchAutogradTrainer",
        "cpu",
        ("torch",),
        "torch autograd: loss.backward()",
    ),
    Entry(
        "autograd-cuda",
        "impls.torch_autograd",
        "TorchAutogradTrainer",
        "cuda",
        ("torch",),
        "torch autograd: loss.backward()",
    ),
    Entry(
        "nn-cpu",
        "impls.torch_nn",
        "TorchNNTrainer",
        "cpu",
        ("torch",),
        "torch.nn.Sequential and torch.optim.SGD",
    ),
    Entry(
        "nn-cuda",
        "impls.torch_nn",
        "TorchNNTrainer",
        "cuda",
        ("torch",),
        "torch.nn.Sequential and torch.optim.SGD",
    ),
    Entry(
        "custom-fn-cpu",
        "impls.custom_function",
        "CustomFunctionTrainer",
        "cpu",
        ("torch",),
        "the activation as a custom torch.autograd.Function",
    ),
    Entry(
        "custom-fn-cuda",
        "impls.custom_function",
        "CustomFunctionTrainer",
        "cuda",
        ("torch",),
        "the activation as a custom torch.autograd.Function",
    ),
    Entry(
        "compile-cpu",
        "impls.compiled",
        "CompiledTrainer",
        "cpu",
        ("torch",),
        "the whole step under torch.compile (inductor, C++)",
        compiles=True,
        check="impls.compiled:compiler_missing",
    ),
    Entry(
        "compile-cuda",
        "impls.compiled",
        "CompiledTrainer",
        "cuda",
        ("torch",),
        "the whole step under torch.compile (inductor, Triton)",
        compiles=True,
        check="impls.compiled:compiler_missing",
    ),
    Entry(
        "cudagraph-cuda",
        "impls.cudagraph",
        "CudaGraphTrainer",
        "cuda",
        ("torch",),
        "the whole step captured once in a CUDA graph, replayed",
    ),
)
_BY_NAME = {e.name: e for e in _ENTRIES}


def names() -> list[str]:
    """Every registered implementation, in a stable order."""
    return [e.name for e in _ENTRIES]


def entry(name: str) -> Entry:
    """The registry entry of ``name``; a clear ValueError for an unknown name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown implementation {name!r}: expected one of {', '.join(names())}"
        ) from None


def unavailable_reason(name: str) -> str | None:
    """Why ``name`` cannot run here, or None when it can."""
    e = entry(name)
    for package in e.needs:
        if importlib.util.find_spec(package) is None:
            return f"{name} needs {package}, which is not installed"
    if e.device == "cuda" and not cuda_available():
        import torch

        built = torch.version.cuda
        why = "this torch is a CPU build" if built is None else "no CUDA device is visible"
        return f"{name} needs CUDA: {why} (torch {torch.__version__})"
    if e.check:
        module, _, function = e.check.partition(":")
        missing = getattr(importlib.import_module(module), function)(name)
        if missing:
            return f"{name} needs {missing}"
    return None


def available() -> list[str]:
    """The registered implementations that can run on this machine, in registry order."""
    return [n for n in names() if unavailable_reason(n) is None]


def create(name: str, problem: Problem) -> Trainer:
    """A fresh trainer of implementation ``name`` at ``problem``'s initial arrays.

    With ``problem.lr`` None the trainer gets the rate in force (`rate_in_force`), and its
    ``problem`` carries that rate. A problem whose arrays cannot fit in the available memory
    raises `impls.memory.ProblemTooLarge` first, before the rate search allocates anything.
    """
    e = entry(name)
    if not isinstance(problem, Problem):
        raise TypeError(f"problem={problem!r} is invalid: expected an impls.Problem")
    reason = unavailable_reason(name)
    if reason is not None:
        raise Unavailable(reason)
    require_memory(problem)
    if problem.lr is None:
        problem = replace(problem, lr=rate_in_force(problem))
    cls = getattr(importlib.import_module(e.module), e.cls)
    trainer = cls(problem, e.device)
    trainer.name = name
    return trainer
