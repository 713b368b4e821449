"""The thread helper sets numpy's BLAS and torch together and reports what is in force."""

from __future__ import annotations

import pytest

import impls


@pytest.fixture
def restore_threads():
    before = impls.thread_info()
    yield
    impls.set_threads(before.torch or impls.physical_cores())


def test_set_threads_sets_both_sides(restore_threads):
    info = impls.set_threads(1)
    assert info.torch == 1
    assert info.blas, "numpy's BLAS should be visible to threadpoolctl"
    assert info.blas_threads == 1
    info = impls.set_threads()
    assert info.torch == impls.physical_cores() == info.blas_threads
    assert "torch" in info.summary()


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_thread_count_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"threads=.* is invalid: expected a positive int"):
        impls.set_threads(bad)


def test_physical_cores_is_positive():
    assert impls.physical_cores() >= 1
