"""The Problem spec: validation with one-line messages, and deterministic initial arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

import impls
from impls.problem import TUTORIAL_LR
from impls.learning_rate import rate_in_force


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("batch", 0, "positive int"),
        ("batch", -3, "positive int"),
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
