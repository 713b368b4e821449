"""Arrays that start on a 64-byte boundary, as torch's CPU allocator places every tensor.

numpy takes an array's memory from malloc, which promises 16 bytes; where in a cache line the
array starts then depends on everything the process allocated before it. For the numpy trainer
that is a lottery with a large prize. Measured here (one thread, float32, four numpy trainers in
one process whose x, y, w1 and w2 differ only in their start modulo 64, blocks of each
interleaved, medians): off a 64-byte boundary the step ran 1.42-1.45x slower at batch 16,
1.17x at the tutorial size, 1.13x at batch 256, 1.14x at d_in 250 and 1.11-1.15x at hidden 25;
within 5% at batch 4 and 1024, d_in 62 and 4000, hidden 6, 400 and 1600. The weight w1 decides
it: trainers whose w1 alone was moved split the same way, moving x changed nothing. Which of
the two a benchmark process draws follows from what it allocated before (with the same imports,
hash seeds 0-7 put w1 0, 16, 32 or 48 bytes past a boundary), so any change to the suite could
move numpy's step times, and every paired ratio over numpy, by that much; and torch's tensors,
always aligned, would be compared with a numpy that might not be.
"""

from __future__ import annotations

import numpy as np

#: Bytes: a cache line here, and torch's CPU alignment (``c10::gAlignment``).
ALIGNMENT = 64


def aligned_copy(array: np.ndarray, alignment: int = ALIGNMENT) -> np.ndarray:
    """A C-contiguous, writable copy of ``array`` whose data starts at a multiple of
    ``alignment`` bytes (the buffer it views is kept alive by numpy's ``base``)."""
    buffer = np.empty(array.nbytes + alignment, dtype=np.uint8)
    start = -buffer.ctypes.data % alignment
    copy = buffer[start : start + array.nbytes].view(array.dtype).reshape(array.shape)
    np.copyto(copy, array)
    return copy
