"""Whether torch sees a CUDA device, asked once per process and without making a CUDA context.

Its own module so that the registry and the learning-rate search can both ask without importing
each other.
"""

from __future__ import annotations

from functools import cache


@cache
def cuda_available() -> bool:
    """Whether torch sees a CUDA device (NVML-based where set, so no CUDA context is made)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
