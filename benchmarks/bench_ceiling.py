"""The machine's ceilings, measured in the same run: matrix-multiply peak and CUDA launch floor.

Reports divide each step's operations (`impls.cost`) by its time and compare with the best
matrix-multiply throughput measured here (2 m k n / time, the maximum over shapes per device and
dtype), so that "% of this machine's peak" needs no datasheet. The shapes are the products the
step itself makes (x @ w1 and x.T @ grad_h) at the tutorial size and at the largest scale point
each device runs, plus a big square product. asv's parameters are a cartesian product, so m, k
and n list every value and only the listed shapes run. On the CPU each shape is timed with the
faster of numpy's BLAS and torch (chosen in setup), so the ceiling is the best either offers.
Nothing derived (GFLOP/s) is computed here.
"""

from __future__ import annotations

import functools
import time
from typing import ClassVar

import numpy as np

from . import bench_step, common

#: Big square products: far into the compute-bound regime of each device.
SQUARE = {"cpu": 2048, "cuda": 8192}
#: Calls per library when choosing the faster CPU library in setup.
PROBE_CALLS = 3


def step_shapes(factor: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of the step's two big products at ``factor`` x the tutorial's sizes."""
    b, d, h = (common.TUTORIAL[name] * factor for name in ("batch", "d_in", "hidden"))
    return [(b, d, h), (d, b, h)]


def device_shapes() -> dict[str, list[tuple[int, int, int]]]:
    """The shapes timed on each device (see the module docstring)."""
    cpu = {1}
    for factors, budget in (
        (bench_step.QUICK_SCALE, bench_step.QUICK_CPU_FLOP_BUDGET),
        (bench_step.FULL_SCALE, bench_step.FULL_CPU_FLOP_BUDGET),
    ):
        cpu.add(max(f for f in factors if bench_step.scale_flops(f) <= budget))
    cuda = {1, max(bench_step.QUICK_SCALE), max(bench_step.FULL_SCALE)}
    return {
        device: [s for f in sorted(factors) for s in step_shapes(f)] + [(SQUARE[device],) * 3]
        for device, factors in (("cpu", cpu), ("cuda", cuda))
    }


SHAPES = device_shapes()
_ALL_SHAPES = sorted({shape for shapes in SHAPES.values() for shape in shapes})
M, K, N = (sorted({shape[i] for shape in _ALL_SHAPES}) for i in range(3))


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
    """One m x k @ k x n product per call, synchronised on CUDA."""

    version = "1"
    params: ClassVar[list] = [["cpu", "cuda"], bench_step.DTYPES, M, K, N]
    param_names: ClassVar[list] = ["device", "dtype", "m", "k", "n"]
    number = 1
    warmup_time = 0.0
    rounds = 1
    repeat = (5, 100, 0.15)
    timeout = 300

    @staticmethod
    def skip_reason(device: str, dtype: str, m: int, k: int, n: int) -> str | None:
        if (m, k, n) not in SHAPES[device]:
            return f"{m}x{k} @ {k}x{n} is not one of the shapes timed on {device}"
        if common.torch is None:
            return "the ceilings need torch"
        if device == "cuda" and not common.cuda_available():
            return "no CUDA device is visible"
        return None

    def setup(self, device, dtype, m, k, n):
        key = (device, dtype, m, k, n)
        if getattr(self, "_key", None) != key:
            reason = self.skip_reason(*key)
            if reason:
                raise NotImplementedError(reason)
            common.use_threads(common.ALL_THREADS)
            self.call, self.sync = _prepared(*key)
            self._key = key
        self.sync()

    def time_matmul(self, device, dtype, m, k, n):
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

    version = "1"
    params: ClassVar[list] = [["cuda"]]
    param_names: ClassVar[list] = ["device"]
    number = 1
    warmup_time = 0.0
    rounds = 1
    repeat = (10, 1000, 0.25)

    def setup(self, device):
        if common.torch is None or not common.cuda_available():
            raise NotImplementedError("no CUDA device is visible")
        torch = common.torch
        self.x = torch.zeros(1, device=device)
        for _ in range(10):
            self.x.add_(1.0)
        torch.cuda.synchronize()
        self.sync = torch.cuda.synchronize

    def time_empty_step(self, device):
        self.x.add_(1.0)
        self.sync()
