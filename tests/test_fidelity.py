"""`benchmarks.fidelity`: rounds that ran in the machine's slow state are measured again or
left out, so a flip of the VM does not read as asv disagreeing with torch.utils.benchmark."""

from __future__ import annotations

import math

import pytest

from benchmarks import fidelity, protocol


@pytest.fixture
def readings_in_turn(monkeypatch):
    """Make `protocol.reference_seconds` return the given readings, one per call."""

    def use(values: list[float]) -> None:
        queue = iter(values)
        monkeypatch.setattr(protocol, "reference_seconds", lambda calls=10: next(queue))

    return use


def test_a_round_read_at_the_machines_best_is_kept(readings_in_turn):
    readings_in_turn([1.0, 1.1])
    assert fidelity.clean_round(lambda: 5.0, [1.0]) == 5.0


def test_a_round_after_which_the_reference_ran_slow_is_measured_again(readings_in_turn):
    readings_in_turn([1.0, 2.0, 1.0, 1.0])  # slow after the first try, fast around the second
    values = iter([9.0, 5.0])
    readings = [1.0]
    assert fidelity.clean_round(lambda: next(values), readings) == 5.0
    assert readings == [1.0, 1.0, 2.0, 1.0, 1.0]


def test_a_round_slow_on_every_try_is_left_out(readings_in_turn):
    readings_in_turn([2.0] * (2 * fidelity.TRIES))
    tries = []
    assert fidelity.clean_round(lambda: tries.append(1) or 5.0, [1.0]) is None
    assert len(tries) == fidelity.TRIES


def test_a_side_with_too_few_clean_rounds_is_not_judged():
    kept = [1.0, None, 3.0, None, 2.0]
    assert fidelity.kept_median(kept) == 2.0
    assert math.isnan(fidelity.kept_median([1.0, None, None, None, 2.0]))
