"""One memory layout for every run: asv and its benchmark processes without address randomisation.

Why, measured on the 2-vCPU VM: a torch implementation's step at small batch depends on where
the kernel put the libraries and the heap (address-space layout randomisation draws that once
per process), and asv forks every benchmark process of a run from one forkserver parent, so a
whole run carries one draw. torch-cpu at 4x1000x100x10, one thread, 8 processes forked from
each of 4 parents: parent medians 81, 84, 85 and 90 us (processes of one parent within ~3%),
numpy beside it 64-68 us in every parent; so paired ratios and step times of two runs differed
by up to 10% with nothing changed. With randomisation off, 5 parents: 81.6-82.5 us.

So ``python -m benchmarks`` starts asv with ``personality(ADDR_NO_RANDOMIZE)`` (what ``setarch
-R`` does; no privilege needed, inherited by every process asv starts), as LLVM's benchmarking
guide advises, and with ``PYTHONHASHSEED`` fixed (`environment`). Every run then measures the
same layout: runs and commits compare like with
like. The layout is one draw, not an average over layouts: at small batch a different one may
run a few percent faster or slower, for every commit alike. Where the kernel refuses (some
container sandboxes do), the run goes on randomised and says so; ``FFBENCH_LAYOUT=random``
asks for randomisation (and leaves the hash seed alone). The machine facts record which it was
(``address_layout``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from .cli import UsageError

#: Linux's personality flag that turns address-space randomisation off (``<linux/personality.h>``).
ADDR_NO_RANDOMIZE = 0x0040000
#: The string hash seed of a fixed layout (Python draws one per process otherwise).
HASH_SEED = "0"
#: ``FFBENCH_LAYOUT=random`` keeps the kernel's randomisation for a run.
ENV = "FFBENCH_LAYOUT"
CHOICES = ("fixed", "random")
FIXED = f"fixed (address randomisation off, PYTHONHASHSEED={HASH_SEED})"
RANDOM = "randomised"
#: Randomisation off for the whole machine (``/proc/sys/kernel/randomize_va_space`` at 0) but
#: the hash seed drawn per run (``FFBENCH_LAYOUT=random``).
SYSTEM_FIXED = "addresses fixed by the system, hash seed random"


def wanted() -> str:
    """``"fixed"`` unless ``FFBENCH_LAYOUT`` says ``"random"``."""
    value = os.environ.get(ENV, "fixed")
    if value not in CHOICES:
        raise UsageError(f"{ENV}={value!r}: allowed values are {', '.join(CHOICES)}")
    return value


def environment(fixed: bool, env: dict[str, str]) -> dict[str, str]:
    """``env`` for asv, with Python's string hash seed fixed when ``fixed``: with addresses fixed,
    the seed is what still moves the heap (the order of sets and dicts of strings decides the
    order of allocations at import). Measured: paired torch-cpu/numpy at 16x1000x100x10, one
    process each, addresses fixed: 0.906-0.963 with a random seed (6 processes), 0.902-0.927
    with the seed fixed (6); within one process, four repeats agreed within 1%."""
    return {**env, "PYTHONHASHSEED": HASH_SEED} if fixed else env


@contextlib.contextmanager
def applied(fixed: bool) -> Iterator[str]:
    """Within: processes this one starts run without address randomisation when ``fixed`` (the
    personality flag is inherited through fork and exec; this process's own layout is already
    drawn). Yields what they get, `FIXED` or `RANDOM` (`SYSTEM_FIXED` when not ``fixed`` on a
    machine without randomisation), read back from a child's ``/proc/self/personality`` (or the
    system-wide switch at 0). A kernel that refuses the flag leaves it randomised."""
    before = _personality(0xFFFFFFFF) if fixed else -1
    if before != -1:
        _personality(before | ADDR_NO_RANDOMIZE)
    try:
        if fixed:
            yield FIXED if _system_wide_off() or _child_flags() & ADDR_NO_RANDOMIZE else RANDOM
        else:
            yield SYSTEM_FIXED if _system_wide_off() else RANDOM
    finally:
        if before != -1:
            _personality(before)


def _personality(persona: int) -> int:
    """Linux's personality(2); -1 where there is none."""
    if not sys.platform.startswith("linux"):
        return -1
    return ctypes.CDLL(None, use_errno=True).personality(persona)


def _child_flags() -> int:
    try:
        shown = subprocess.run(
            ["cat", "/proc/self/personality"], capture_output=True, text=True, check=True
        ).stdout
        return int(shown.strip(), 16)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return 0


def _system_wide_off() -> bool:
    try:
        return Path("/proc/sys/kernel/randomize_va_space").read_text().strip() == "0"
    except OSError:
        return False


def caveat(fixed: bool, address_layout: str) -> str:
    """What a reader of the run's numbers should know about its layout, or ``""``."""
    if address_layout == FIXED:
        return ""
    if fixed:
        return (
            ": the kernel refused personality(ADDR_NO_RANDOMIZE), so small points may differ"
            " more between runs (several percent at batch 4-16)"
        )
    return f" ({ENV}=random): small points may differ more between runs"
