"""The registry: stable names, availability with reasons, clear errors, the trainer contract."""

from __future__ import annotations

import numpy as np
import pytest

import impls
from impls import memory
from impls.memory import ProblemTooLarge
from tests.conftest import impl_params, require

SMALL = impls.Problem(batch=8, d_in=30, hidden=12, d_out=4)


def test_names_are_stable_and_unique():
    names = impls.names()
    assert names == impls.names()
    assert len(set(names)) == len(names)
    assert names[:5] == ["numpy", "torch-cpu", "torch-cuda", "autograd-cpu", "autograd-cuda"]


def test_available_is_an_ordered_subset_with_numpy_and_torch_cpu():
    available = impls.available()
    assert available == [n for n in impls.names() if n in available]
    assert {"numpy", "torch-cpu", "autograd-cpu"} <= set(available)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown implementation 'jax'") as info:
        impls.create("jax", SMALL)
    assert all(name in str(info.value) for name in impls.names())


def test_unavailable_name_raises_unavailable_with_reason():
    missing = [n for n in impls.names() if n not in impls.available()]
    if not missing:
        pytest.skip("every implementation runs here (a CUDA machine)")
    with pytest.raises(impls.Unavailable, match="needs"):
        impls.create(missing[0], SMALL)


def test_create_rejects_a_non_problem():
    with pytest.raises(TypeError, match=r"expected an impls\.Problem"):
        impls.create("numpy", {"batch": 8})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", impl_params())
def test_trainer_contract(name):
    require(name)
    t = impls.create(name, SMALL)
    assert t.name == name
    with pytest.raises(RuntimeError, match="before any step"):
        t.loss()
    w1, _w2 = t.weights()
    np.testing.assert_array_equal(w1, SMALL.initial_arrays()[2])
    w1[...] = 0  # a copy: changing it leaves the trainer alone
    t.step()
    t.sync()
    assert isinstance(t.loss(), float)
    assert t.is_finite()
    after1, _ = t.weights()
    assert after1.dtype == np.float32
    assert not np.array_equal(after1, SMALL.initial_arrays()[2])


def test_create_refuses_before_the_rate_search_allocates(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: (2**30, "a test's figure"))

    def no_search(problem):
        raise AssertionError("the learning-rate search ran")

    monkeypatch.setattr(impls.registry, "rate_in_force", no_search)
    with pytest.raises(ProblemTooLarge, match=r"need 480264012000 bytes"):
        impls.create("numpy", impls.Problem(batch=200000, d_in=200000))


def test_just_fitting_problem_is_created(monkeypatch):
    p = impls.Problem(batch=8, d_in=30, hidden=12, d_out=4, lr=0.1)
    monkeypatch.setattr(memory, "available_bytes", lambda: (p.array_bytes(), "exactly enough"))
    assert impls.create("numpy", p).weights()[0].shape == (30, 12)
    monkeypatch.setattr(memory, "available_bytes", lambda: (p.array_bytes() - 1, "one short"))
    with pytest.raises(ProblemTooLarge, match="one short"):
        impls.create("numpy", p)
