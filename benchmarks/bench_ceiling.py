"""The machine's ceilings, measured in the same run: matrix-multiply peak and CUDA launch floor.

Reports divide each step's operations (`impls.cost`) by its time and compare with the best
matrix-multiply throughput measured here (2 m k n / time, the maximum over shapes per device and
dtype), so that "% of this machine's peak" needs no datasheet. The shapes are the products the
step itself makes (x @ w1 and x.T @ grad_h) at the tutorial size and at the largest scale point
each device runs, plus a big square product (`benchmarks.grids` lists them as labels; CPU ones
at one thread and at all cores, so a one-thread step is compared with a one-thread peak). On the
CPU each shape is timed with the faster of numpy's BLAS and torch (chosen in setup), so the
ceiling is the best either offers.
Nothing derived (GFLOP/s) is computed here.
"""

from __future__ import annotations

import functools
import time
from typing import ClassVar

import numpy as np

from impls.point import columns

from . import common, protocol
from .points import GRID, without_empty

#: Calls per library when choosing the faster CPU library in setup.
PROBE_CALLS = 3


@functools.lru_cache(maxsize=1)
def operands(device: str, dtype: str, m: int, k: int, n: int):
    """Seeded a (m x k), b (k x n) and an output buffer, as torch tensors on ``device``."""
    torch = common.torch
    rng = np.random.default_rng(common.SEED)
    a = torch.from_numpy(rng.standard_normal((m, k)).astype(dtype)).to(device)
    b = torch.from_numpy(rng.standard_normal((k, n)).astype(dtype)).to(device)
    return a, b, torch.empty((m, n), dtype=a.dtype, device=device)


def _seconds(call) -> float:
    best = float("inf")
    for _ in range(PROBE_CALLS):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


class Gemm:
    """One m x k @ k x n product per call, synchronised on CUDA, on the label's threads."""

    version = "2"
    params: ClassVar[list] = [list(GRID.gemm)]
    param_names = common.PARAM_NAMES
    number = 0
    warmup_time = 0.02
    rounds = 1
    repeat = (5, 100, 0.1)
    timeout = 300

    def setup(self, label):
        if getattr(self, "_label", None) == label:
            return
        shape = columns(label)
        device, dtype = shape["device"], shape["dtype"]
        if common.torch is None:
            common.skip("the ceilings need torch")
        if device == "cuda" and not common.cuda_available():
            common.skip("no CUDA device is visible")
        threads = shape.get("threads")
        if threads == 1:
            protocol.pin_one_core()
        common.use_threads(threads or common.ALL_THREADS)
        self.call, self.sync = _prepared(device, dtype, shape["m"], shape["k"], shape["n"])
        self._label = label

    def time_matmul(self, label):
        self.call()
        self.sync()


def _no_sync() -> None:
    """The CPU's products are synchronous."""


def _prepared(device, dtype, m, k, n):
    """(call, sync): the product to time, warmed up, and how to wait for it."""
    torch = common.torch
    try:
        a, b, out = operands(device, dtype, m, k, n)
    except torch.cuda.OutOfMemoryError as error:
        raise NotImplementedError(f"out of memory for {m}x{k} @ {k}x{n}: {error}") from None
    if device == "cuda":
        call = functools.partial(torch.mm, a, b, out=out)
        call()
        torch.cuda.synchronize()
        return call, torch.cuda.synchronize
    an, bn, outn = a.numpy(), b.numpy(), out.numpy()
    candidates = [
        functools.partial(np.matmul, an, bn, out=outn),
        functools.partial(torch.mm, a, b, out=out),
    ]
    return min(candidates, key=_seconds), _no_sync


class LaunchFloor:
    """The least a CUDA step can cost: launch one tiny kernel, then synchronise."""

    version = "2"
    params: ClassVar[list] = [list(GRID.floors)]
    param_names = common.PARAM_NAMES
    number = 1
    warmup_time = 0.0
    rounds = 1
    repeat = (10, 1000, 0.25)

    def setup(self, label):
        if common.torch is None or not common.cuda_available():
            common.skip("no CUDA device is visible")
        torch = common.torch
        self.x = torch.zeros(1, device=label)
        for _ in range(10):
            self.x.add_(1.0)
        torch.cuda.synchronize()
        self.sync = torch.cuda.synchronize

    def time_empty_step(self, label):
        self.x.add_(1.0)
        self.sync()


without_empty(globals(), "Gemm", "LaunchFloor")
