"""The cost model against hand-worked numbers."""

from __future__ import annotations

import pytest

import impls
from impls.cost import arithmetic_intensity, elementwise_flops, matmul_flops, step_bytes, step_flops


def test_tutorial_size_by_hand():
    p = impls.Problem()  # B, D, H, O = 64, 1000, 100, 10; squared, relu, float32
    # 4*64*1000*100 + 6*64*100*10 = 25_600_000 + 384_000
    assert matmul_flops(p) == 25_984_000
    # relu fwd+bwd 2*64*100 = 12_800; squared 4*64*10 = 2_560; update 2*(100_000 + 1_000) = 202_000
    assert elementwise_flops(p) == 217_360
    assert step_flops(p) == 26_201_360
    # 4 bytes * (64_000 + 640 + 2*(100_000 + 1_000))
    assert step_bytes(p) == 4 * 266_640
    assert arithmetic_intensity(p) == pytest.approx(26_201_360 / 1_066_560)


def test_exp_cost_and_sigmoid_by_hand():
    p = impls.Problem(batch=2, d_in=3, hidden=4, d_out=5, loss="exp", activation="sigmoid")
    # sigmoid 7*2*4 = 56; exp 5*2*5 + 2*2 = 54; update 2*(12 + 20) = 64
    assert elementwise_flops(p) == 56 + 54 + 64
    assert matmul_flops(p) == 4 * 2 * 3 * 4 + 6 * 2 * 4 * 5


def test_bytes_double_with_float64_and_flops_do_not_change():
    p32, p64 = impls.Problem(dtype="float32"), impls.Problem(dtype="float64")
    assert step_bytes(p64) == 2 * step_bytes(p32)
    assert step_flops(p64) == step_flops(p32)


def test_matmul_flops_scale_with_every_size():
    base = impls.Problem(d_out=1)
    for field in ("batch", "d_in", "hidden"):
        doubled = impls.Problem(d_out=1, **{field: 2 * getattr(base, field)})
        assert matmul_flops(doubled) > 1.9 * matmul_flops(base) - 1
