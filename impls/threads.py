"""One helper that sets the CPU thread count for numpy's BLAS and for torch together.

A speed comparison between numpy and torch on the CPU means something only at equal thread
counts, and a GPU compared with one CPU thread flatters the GPU. `set_threads` sets both sides at
once (numpy's BLAS through threadpoolctl, torch through ``torch.set_num_threads``) and returns
what is in force, read back from the libraries, so a benchmark can record it.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from threadpoolctl import threadpool_info, threadpool_limits


def physical_cores() -> int:
    """Physical cores this process may use (hyper-threads not counted; affinity respected)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    usable = usable or 1
    cores = set()
    physical_id = core_id = None
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return usable
    for line in [*text.splitlines(), ""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical_id = value.strip()
        elif key == "core id":
            core_id = value.strip()
        elif not key and core_id is not None:
            cores.add((physical_id, core_id))
            physical_id = core_id = None
    return max(1, min(usable, len(cores) or usable))


@dataclass(frozen=True)
class ThreadInfo:
    """Thread counts in force: numpy's BLAS libraries and torch's intra-op pool."""

    blas: tuple[tuple[str, str, int], ...]  # (library, threading layer, threads) per BLAS loaded
    torch: int | None  # torch.get_num_threads(), None without torch

    @property
    def blas_threads(self) -> int | None:
        counts = {n for _, _, n in self.blas}
        return counts.pop() if len(counts) == 1 else None

    def summary(self) -> str:
        blas = ", ".join(f"{lib} ({layer}): {n}" for lib, layer, n in self.blas) or "none loaded"
        return f"BLAS {blas}; torch: {self.torch if self.torch is not None else 'n/a'}"


def _torch():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


def thread_info() -> ThreadInfo:
    """What is in force now, read back from the libraries."""
    import numpy  # noqa: F401  (its BLAS must be loaded to be seen)

    blas = tuple(
        (d.get("internal_api", "?"), d.get("threading_layer", "?"), int(d["num_threads"]))
        for d in threadpool_info()
        if d.get("user_api") == "blas"
    )
    torch = _torch()
    return ThreadInfo(blas=blas, torch=torch.get_num_threads() if torch else None)


def set_threads(n: int | None = None) -> ThreadInfo:
    """Use ``n`` CPU threads (default: all physical cores) in numpy's BLAS and in torch."""
    if n is None:
        n = physical_cores()
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"threads={n!r} is invalid: expected a positive int")
    torch = _torch()  # load torch's libraries first so that the limits below reach them too
    import numpy  # noqa: F401

    threadpool_limits(limits=n, user_api="blas")
    if torch is not None:
        torch.set_num_threads(n)
    return thread_info()
