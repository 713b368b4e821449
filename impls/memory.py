"""Memory available to this process, and the guard that refuses a problem too large for it.

Without the guard a too-large `Problem` ends in numpy's ``_ArrayMemoryError`` traceback (which
quotes the float64 draw even for a float32 problem) or in the kernel's OOM killer, after seconds
of allocating. The guard compares `Problem.array_bytes` with what the kernel says is available
and refuses in one line before anything is allocated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from impls.problem import Problem

MEMINFO = Path("/proc/meminfo")


class ProblemTooLarge(ValueError):
    """A problem whose arrays need more memory than is available; the message says how much."""


def available_bytes() -> tuple[int, str] | None:
    """Bytes that can be allocated without swapping, and where that figure came from.

    Linux's ``MemAvailable`` counts free memory plus the cache it can reclaim; elsewhere the free
    physical pages (``os.sysconf``). None when neither is known: the guard then stays out of
    the way.
    """
    try:
        for line in MEMINFO.read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "MemAvailable":
                number, *unit = value.split()
                scale = 1024 if unit == ["kB"] else 1  # the kernel writes kB (meaning KiB)
                return int(number) * scale, f"MemAvailable in {MEMINFO}"
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages < 0 or page_size <= 0:
        return None
    return pages * page_size, "os.sysconf('SC_AVPHYS_PAGES') pages"


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def require_memory(problem: Problem) -> None:
    """Raise `ProblemTooLarge` when ``problem``'s initial arrays cannot fit in available memory."""
    needed = problem.array_bytes()
    available = available_bytes()
    if available is None or needed <= available[0]:
        return
    have, source = available
    sizes = ", ".join(f"{k}={v}" for k, v in problem.sizes().items())
    raise ProblemTooLarge(
        f"Problem({sizes}, dtype={problem.dtype!r}) is too large: its arrays x, y, w1, w2 need "
        f"{needed} bytes ({_gib(needed)}) and {have} bytes ({_gib(have)}) are available "
        f"({source}); expected sizes whose arrays fit"
    )
