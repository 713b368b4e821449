"""Every implementation against the float64 torch-autograd oracle, and the oracle against finite
differences. Runs for every registered name; a name that can't run here is skipped with its reason.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

import impls
from impls.oracle import check, loss_and_gradients, probing_lr
from tests.conftest import impl_params, require

COMBOS = list(itertools.product(["float32", "float64"], ["squared", "exp"], ["relu", "sigmoid"]))
COMBO_IDS = ["-".join(c) for c in COMBOS]

#: Names whose correctness is covered here; the completeness test checks it is all of them.
COVERED = impls.names()


def small(dtype, loss, activation, **kw) -> impls.Problem:
    return impls.Problem(
        batch=24, d_in=40, hidden=16, d_out=5, dtype=dtype, loss=loss, activation=activation, **kw
    )


@pytest.mark.parametrize(
    ("loss", "activation"), list(itertools.product(["squared", "exp"], ["relu", "sigmoid"]))
)
def test_oracle_matches_finite_differences(loss, activation):
    p = impls.Problem(
        batch=5, d_in=6, hidden=4, d_out=3, dtype="float64", loss=loss, activation=activation
    )
    _, _, w1, w2 = p.initial_arrays()
    _, g1, g2 = loss_and_gradients(p, w1, w2)
    eps = 1e-6
    rng = np.random.default_rng(0)
    for w, g, which in ((w1, g1, 0), (w2, g2, 1)):
        for idx in [tuple(rng.integers(0, n) for n in w.shape) for _ in range(6)]:
            plus, minus = w.copy(), w.copy()
            plus[idx] += eps
            minus[idx] -= eps
            args_p = (plus, w2) if which == 0 else (w1, plus)
            args_m = (minus, w2) if which == 0 else (w1, minus)
            numeric = (loss_and_gradients(p, *args_p)[0] - loss_and_gradients(p, *args_m)[0]) / (
                2 * eps
            )
            assert numeric == pytest.approx(g[idx], rel=1e-5, abs=1e-7)


@pytest.mark.parametrize(("dtype", "loss", "activation"), COMBOS, ids=COMBO_IDS)
@pytest.mark.parametrize("name", impl_params(COVERED))
def test_one_step_matches_oracle(name, dtype, loss, activation):
    require(name)
    p = small(dtype, loss, activation)
    result = check(name, replace(p, lr=probing_lr(p)), steps=1)
    assert result.ok, str(result)


@pytest.mark.parametrize(("dtype", "loss", "activation"), COMBOS, ids=COMBO_IDS)
@pytest.mark.parametrize("name", impl_params(COVERED))
def test_twenty_step_trajectory_matches_oracle(name, dtype, loss, activation):
    require(name)
    result = check(name, small(dtype, loss, activation), steps=20)
    assert result.ok, str(result)


def test_a_wrong_gradient_is_caught(monkeypatch):
    """The check can fail: a backward that forgets the ReLU mask is reported wrong."""
    from impls import numpy_backprop

    monkeypatch.setattr(numpy_backprop, "activation_backward", lambda g, h, h_relu, a: g)
    p = small("float32", "squared", "relu")
    result = check("numpy", replace(p, lr=probing_lr(p)))
    assert not result.ok
    assert "WRONG" in str(result)


@pytest.mark.parametrize(
    "test", [test_one_step_matches_oracle, test_twenty_step_trajectory_matches_oracle]
)
def test_every_registered_name_is_covered(test):
    """Each correctness test is parametrised over every registered name."""
    marks = [m for m in test.pytestmark if m.name == "parametrize" and m.args[0] == "name"]
    covered = {param.values[0] for m in marks for param in m.args[1]}
    assert covered == set(impls.names())
