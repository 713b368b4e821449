"""Shared test helpers: implementation parametrisation with visible skips where one can't run."""

from __future__ import annotations

import pytest

import impls


def impl_params(names: list[str] | None = None) -> list:
    """One pytest param per implementation; CUDA ones carry the ``cuda`` mark."""
    params = []
    for name in names if names is not None else impls.names():
        marks = [pytest.mark.cuda] if impls.registry.entry(name).device == "cuda" else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def require(name: str) -> None:
    """Skip, with the registry's reason, when ``name`` cannot run here."""
    reason = impls.unavailable_reason(name)
    if reason is not None:
        pytest.skip(reason)
