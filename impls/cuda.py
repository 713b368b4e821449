"""Whether torch sees a CUDA device, asked once per process and without making a CUDA context.

Its own module so that the registry and the learning-rate search can both ask without importing
each other.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache


@cache
def cuda_available() -> bool:
    """Whether torch sees a CUDA device (NVML-based where set, so no CUDA context is made)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@contextmanager
def sync_forbidden() -> Iterator[None]:
    """Inside the block, any synchronising CUDA call raises (torch's sync debug mode "error");
    the mode goes back to "default" however the block ends.

    torch warns that the mode is a prototype *after* setting it. Where warnings are errors (our
    pytest config) that warning used to escape before the mode could be reset, and every later
    CUDA call in the process then failed as a sync (seen on an H200: one no-sync test failed on
    the warning, and the 11 CUDA tests after it in that worker on the mode it left on).
    """
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Synchronization debug mode is a prototype", UserWarning)
        try:
            torch.cuda.set_sync_debug_mode("error")
            yield
        finally:
            torch.cuda.set_sync_debug_mode("default")
