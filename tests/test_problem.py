"""The Problem spec: validation with one-line messages, and deterministic initial arrays."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import impls
from impls import memory
from impls.learning_rate import rate_in_force
from impls.memory import ProblemTooLarge
from impls.problem import MAX_SIZE, TUTORIAL_LR


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("batch", 0, "positive int"),
        ("batch", -3, "positive int"),
        ("batch", 2**31, "positive int <= 2147483647"),
        ("d_in", np.int64(2**40), "positive int <= 2147483647"),
        ("d_in", 2.5, "positive int"),
        ("hidden", "100", "positive int"),
        ("d_out", True, "positive int"),
        ("dtype", "float16", "'float32', 'float64'"),
        ("loss", "hinge", "'squared', 'exp'"),
        ("activation", "tanh", "'relu', 'sigmoid'"),
        ("init", "xavier", "'scaled', 'seed'"),
        ("lr", 0.0, "positive finite number or None"),
        ("lr", -1e-3, "positive finite number or None"),
        ("lr", math.nan, "positive finite number or None"),
        ("lr", math.inf, "positive finite number or None"),
        ("lr", "1e-3", "positive finite number or None"),
        ("seed", -1, "int >= 0"),
    ],
)
def test_bad_field_is_one_line_error_naming_it(field, value, allowed):
    with pytest.raises(ValueError, match=r"^[^\n]+$") as info:
        impls.Problem(**{field: value})
    message = str(info.value)
    assert f"Problem.{field}={value!r}" in message
    assert allowed in message


def test_problem_is_frozen_and_hashable():
    p = impls.Problem()
    with pytest.raises(AttributeError):
        p.batch = 3  # type: ignore[misc]
    assert hash(p) == hash(impls.Problem())


def test_numpy_integer_sizes_become_ints():
    p = impls.Problem(batch=np.int64(8))
    assert type(p.batch) is int


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_initial_arrays_shapes_dtype_and_determinism(dtype):
    p = impls.Problem(batch=7, d_in=11, hidden=5, d_out=3, dtype=dtype, seed=4)
    x, y, w1, w2 = p.initial_arrays()
    assert [a.shape for a in (x, y, w1, w2)] == [(7, 11), (7, 3), (11, 5), (5, 3)]
    assert all(a.dtype == np.dtype(dtype) for a in (x, y, w1, w2))
    again = p.initial_arrays()
    assert all(np.array_equal(a, b) for a, b in zip((x, y, w1, w2), again, strict=True))
    other = impls.Problem(batch=7, d_in=11, hidden=5, d_out=3, dtype=dtype, seed=5).initial_arrays()
    assert not np.array_equal(x, other[0])


def test_scaled_init_keeps_activations_order_one_at_any_size():
    for d_in, hidden in [(100, 10), (16384, 100), (1000, 8192)]:
        p = impls.Problem(batch=32, d_in=d_in, hidden=hidden)
        x, _, w1, w2 = p.initial_arrays()
        h = x @ w1
        y_pred = np.maximum(h, 0) @ w2
        assert 0.5 < h.std() < 2, (d_in, hidden, h.std())
        assert 0.2 < y_pred.std() < 2, (d_in, hidden, y_pred.std())


def test_seed_init_is_the_tutorial_draw_and_rate():
    p = impls.Problem(init="seed", dtype="float64", seed=3)
    rng = np.random.RandomState(3)  # what the tutorial's np.random.seed(3) seeds
    expected = [rng.randn(64, 1000), rng.randn(64, 10), rng.randn(1000, 100), rng.randn(100, 10)]
    for got, want in zip(p.initial_arrays(), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert rate_in_force(p) == TUTORIAL_LR


def test_explicit_lr_wins_and_default_is_dtype_independent():
    assert rate_in_force(impls.Problem(lr=0.5)) == 0.5
    p32 = impls.Problem(batch=16, d_in=50, hidden=20, dtype="float32")
    p64 = impls.Problem(batch=16, d_in=50, hidden=20, dtype="float64")
    assert rate_in_force(p32) == rate_in_force(p64) > 0


def test_sizes_up_to_the_blas_limit_are_a_plain_value():
    p = impls.Problem(batch=MAX_SIZE, d_in=MAX_SIZE)  # nothing allocated until initial_arrays
    assert p.batch == p.d_in == 2**31 - 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("init", ["scaled", "seed"])
def test_array_bytes_is_the_peak_that_initial_arrays_allocates(dtype, init):
    impls.Problem(batch=2, d_in=3, hidden=2, d_out=1).initial_arrays()  # first-call allocations
    p = impls.Problem(batch=300, d_in=1000, hidden=200, d_out=10, dtype=dtype, init=init)
    elements = 300 * 1000 + 300 * 10 + 1000 * 200 + 200 * 10
    assert p.array_bytes() == elements * (12 if dtype == "float32" else 8)
    tracemalloc.start()
    try:
        arrays = p.initial_arrays()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(a.nbytes for a in arrays) == elements * np.dtype(dtype).itemsize
    assert p.array_bytes() <= peak <= p.array_bytes() * 1.01 + 64 * 1024


@pytest.fixture
def little_memory(monkeypatch):
    """Pretend 1 GiB is available, whatever this machine has."""
    monkeypatch.setattr(memory, "available_bytes", lambda: (2**30, "a test's figure"))


def test_too_large_is_one_line_with_bytes_needed_and_available(little_memory):
    p = impls.Problem(batch=200000, d_in=200000, dtype="float32")
    with pytest.raises(ProblemTooLarge, match=r"^[^\n]+$") as info:
        p.initial_arrays()
    message = str(info.value)
    assert "batch=200000, d_in=200000, hidden=100, d_out=10, dtype='float32'" in message
    assert f"need {p.array_bytes()} bytes (447.3 GiB)" in message
    assert f"{2**30} bytes (1.0 GiB) are available (a test's figure)" in message


def test_larger_than_any_machine_is_refused_here():
    p = impls.Problem(batch=MAX_SIZE, d_in=MAX_SIZE)  # 55 EB of arrays
    with pytest.raises(ProblemTooLarge, match=r"are available \((MemAvailable|os\.sysconf)"):
        p.initial_arrays()


def test_available_bytes_reads_memavailable(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  4096 kB\nMemFree:  1024 kB\nMemAvailable:  2048 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    assert memory.available_bytes() == (2048 * 1024, f"MemAvailable in {meminfo}")


def test_available_bytes_falls_back_to_sysconf(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "absent")
    monkeypatch.setattr(memory.os, "sysconf", {"SC_AVPHYS_PAGES": 5, "SC_PAGE_SIZE": 4096}.get)
    assert memory.available_bytes() == (5 * 4096, "os.sysconf('SC_AVPHYS_PAGES') pages")
