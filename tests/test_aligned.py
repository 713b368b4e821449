"""numpy's arrays start on 64-byte boundaries, as torch's tensors do, whatever malloc gave."""

from __future__ import annotations

import numpy as np
import pytest

import impls
from impls.aligned import ALIGNMENT, aligned_copy


def misaligned(shape, dtype, offset):
    """An array of ``shape`` whose data starts ``offset`` bytes past a 64-byte boundary."""
    itemsize = np.dtype(dtype).itemsize
    buffer = np.empty(int(np.prod(shape)) * itemsize + 2 * ALIGNMENT, dtype=np.uint8)
    start = -buffer.ctypes.data % ALIGNMENT + offset
    array = buffer[start : start + int(np.prod(shape)) * itemsize].view(dtype).reshape(shape)
    array[...] = np.arange(array.size, dtype=dtype).reshape(shape)
    return array


@pytest.mark.parametrize("offset", [8, 16, 48])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_aligned_copy_starts_on_a_boundary_with_the_same_values(offset, dtype):
    source = misaligned((7, 5), dtype, offset)
    assert source.ctypes.data % ALIGNMENT == offset
    copy = aligned_copy(source)
    assert copy.ctypes.data % ALIGNMENT == 0
    assert copy.dtype == source.dtype
    assert copy.shape == source.shape
    assert copy.flags.c_contiguous
    assert copy.flags.writeable
    np.testing.assert_array_equal(copy, source)
    copy[0, 0] = -1.0
    assert source[0, 0] == 0.0  # a copy, not a view of the source


def test_aligned_copy_of_a_transposed_array_is_c_contiguous():
    source = misaligned((3, 4), "float32", 16).T
    copy = aligned_copy(source)
    assert copy.flags.c_contiguous
    assert copy.ctypes.data % ALIGNMENT == 0
    np.testing.assert_array_equal(copy, source)


def test_aligned_copy_of_an_empty_array():
    copy = aligned_copy(np.empty((0, 3), dtype=np.float32))
    assert copy.shape == (0, 3)
    assert copy.dtype == np.float32


@pytest.mark.parametrize("offset", [16, 32, 48])
def test_numpy_trainer_holds_aligned_copies_of_misaligned_initial_arrays(monkeypatch, offset):
    problem = impls.Problem(batch=16, d_in=300, hidden=50)
    drawn = problem.initial_arrays()
    placed = tuple(misaligned(a.shape, a.dtype, offset) for a in drawn)
    for source, target in zip(drawn, placed, strict=True):
        np.copyto(target, source)
    monkeypatch.setattr(impls.Problem, "initial_arrays", lambda self: placed)
    trainer = impls.create("numpy", problem)
    for name, source in zip(("x", "y", "w1", "w2"), drawn, strict=True):
        array = getattr(trainer, name)
        assert array.ctypes.data % ALIGNMENT == 0, name
        np.testing.assert_array_equal(array, source)
