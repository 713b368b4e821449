"""The benchmarks: grids and labels, the measurement protocol, the gate, and one real asv run.

Timing figures are not asserted here (they are measurements, in the README and closing notes);
these tests check what can be checked without timing: which points exist, that labels mean one
thing forever, that flags propagate, that the gate decides right on recorded numbers, and that
asv runs the suite end to end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import impls
from benchmarks import (
    bench_paired,
    bench_step,
    common,
    flags,
    gate,
    grids,
    machine,
    points,
    protocol,
)
from impls.point import Point, columns
from reports.flags import Flag, read_flags

ROOT = Path(__file__).resolve().parents[1]
MACHINE = "ffbench-test"
TUTORIAL_1T = "numpy/64x1000x100x10/float32/squared-relu/1t"
PLANTED = '''
"""A benchmark whose state is made non-finite in setup: asv must record a failure."""

import numpy as np

from . import bench_step, common


class PlantedNaN(bench_step.Step):
    version = "1"
    params = [["numpy/64x1000x100x10/float32/squared-relu/1t"]]

    def setup(self, rates, label):
        super().setup(rates, label)
        w1, w2 = common.initial_weights(self.point.problem)
        w1 = w1.copy()
        w1[0, 0] = np.nan
        self.trainer.set_weights(w1, w2)
'''
SMOKE = (
    r"^bench_step\.Step\.track_time\('[a-z-]+/64x1000x100x10/float32/squared-relu/1t'\)"
    r"|^bench_paired\.Paired\.track_relative_time\('torch-cpu/64x1000x100x10/float32/squared-relu/1t'\)"
    r"|^bench_planted\.PlantedNaN\."
)


def verdict(results_dir, machine, commit_a, commit_b):
    """The gate's exit code and report of one pass over saved results."""
    judgement = gate.judge(results_dir, machine, commit_a, commit_b)
    return judgement.code, gate.describe(judgement)


def asv(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asv", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


# --- grids and labels ------------------------------------------------------------------------


@pytest.mark.parametrize("name", grids.GRIDS)
def test_labels_are_unique_and_decode_to_their_point(name):
    grid = grids.grid(name)
    labels = [g.label for g in grid.steps]
    assert len(labels) == len(set(labels))
    for g in grid.steps:
        assert Point.parse(g.label) == g.point
        decoded = columns(g.label)
        assert decoded["impl"] == g.point.impl
        assert decoded["threads"] == g.point.threads
        assert {
            k: decoded[k] for k in ("batch", "d_in", "hidden", "d_out")
        } == g.point.problem.sizes()
    assert len(grid.gemm) == len(set(grid.gemm))


def test_a_recorded_label_keeps_its_meaning():
    """Labels are append-only: these, written out by hand, must always decode the same."""
    assert columns("nn-cpu/256x4000x400x10/float64/exp-sigmoid/2t") == {
        "impl": "nn-cpu",
        "batch": 256,
        "d_in": 4000,
        "hidden": 400,
        "d_out": 10,
        "dtype": "float64",
        "loss": "exp",
        "activation": "sigmoid",
        "threads": 2,
    }
    assert columns("cpu/float32/2048x2048x2048/1t") == {
        "device": "cpu",
        "dtype": "float32",
        "m": 2048,
        "k": 2048,
        "n": 2048,
        "threads": 1,
    }
    assert columns("cuda/float32/8192x8192x8192") == {
        "device": "cuda",
        "dtype": "float32",
        "m": 8192,
        "k": 8192,
        "n": 8192,
    }
    assert columns("cuda") == {"device": "cuda"}


@pytest.mark.parametrize(
    "bad", ["numpy/64x1000x100/float32/squared-relu/1t", "numpy/64x1000x100x10/f32/squared-relu/1t",
            "", "tpu", "numpy/64x1000x100x10/float32/squared-relu/0t"]
)  # fmt: skip
def test_a_malformed_label_is_one_clear_error(bad):
    with pytest.raises(ValueError, match=r"point label .* is invalid"):
        Point.parse(bad)


@pytest.mark.parametrize("name", grids.GRIDS)
def test_every_point_passes_its_rules(name):
    grid = grids.grid(name)
    budget = grids.QUICK_CPU_FLOP_BUDGET if name == "quick" else grids.FULL_CPU_FLOP_BUDGET
    for g in grid.steps:
        p, impl = g.point.problem, g.point.impl
        device = grids.device_of(impl)
        if device == "cpu":
            assert impls.step_flops(p) <= budget, g.label
        if grids.compiles(impl) and device == "cpu":
            assert grids.is_tutorial(p), g.label
        sizes = (p.batch / 64, p.d_in / 1000, p.hidden / 100)
        one_axis = sum(s != 1 for s in sizes) <= 1
        assert one_axis or len(set(sizes)) == 1, f"{g.label}: off the scale diagonal"
        if grids.RELATIVE in g.measures:
            assert impl != grids.BASELINE
            assert device == "cpu"
            assert g.point.threads == 1, f"{g.label}: paired on several threads"
        if device == "cuda":
            assert not g.measures & {grids.PEAKMEM, grids.RELATIVE}


def test_quick_grid_is_the_cpu_main_job_with_both_thread_counts():
    grid = grids.grid("quick")
    devices = {grids.device_of(g.point.impl) for g in grid.steps}
    assert devices == {"cpu"}
    threads = {g.point.threads for g in grid.steps if grids.TIME in g.measures}
    assert threads == {1, grids.ALL_THREADS}
    all_core = [g.point.problem for g in grid.steps if g.point.threads == grids.ALL_THREADS]
    assert grids.problem() in all_core
    assert {p.batch for p in all_core} == set(grids.QUICK_ALL_CORE_BATCH)
    assert set(grid.history_labels()) == {
        g.label for g in grid.steps if g.point.threads == 1 and grids.TIME in g.measures
    }


def test_asv_classes_list_exactly_the_grids_points():
    grid = grids.selected()
    assert bench_step.Step.params == [grid.labels(grids.TIME)]
    assert bench_step.Memory.params == [grid.labels(grids.PEAKMEM)]
    assert bench_paired.Paired.params == [grid.labels(grids.RELATIVE)]


def test_gpu_grid_is_float32_and_holds_the_cpu_side_on_all_cores():
    grid = grids.grid("gpu")
    assert {g.point.problem.dtype for g in grid.steps} == {"float32"}
    cpu = [g for g in grid.steps if grids.device_of(g.point.impl) == "cpu"]
    assert cpu
    assert {g.point.threads for g in cpu} == {grids.ALL_THREADS}
    assert not any(g.measures & {grids.PEAKMEM, grids.GPU_MEMORY} for g in grid.steps)


def test_an_unknown_grid_is_one_clear_error():
    with pytest.raises(ValueError, match="grid 'huge' is invalid: expected one of quick"):
        grids.grid("huge")


# --- the protocol ----------------------------------------------------------------------------


def test_judge_names_each_kind_of_disturbance():
    config = protocol.Protocol()
    assert protocol.judge(0.1, 1, 2, 1.0, config) == ""
    assert protocol.judge(1.0, 1, 2, 1.0, config) == ""  # a busy loop beside one thread fits
    assert "other processes took 1.00" in protocol.judge(1.0, 2, 2, 1.0, config)
    assert "slow state" in protocol.judge(0.0, 2, 2, 1.6, config)
    assert "had its core 60%" in protocol.judge(0.0, 1, 2, 1.0, config, share=0.6)
    assert protocol.judge(0.0, 2, 2, 1.0, config, share=0.6) == ""  # judged at 1 thread only


def test_the_reference_runs_on_one_blas_thread_whatever_the_points(monkeypatch):
    """An all-core point's worker threads still spin after it; a reference on all cores then
    measured them, not the machine's state."""
    from threadpoolctl import threadpool_info

    seen = []
    step = protocol.reference_step

    def recording_step(r):
        seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        step(r)

    impls.set_threads(2)
    monkeypatch.setattr(protocol, "reference_step", recording_step)
    assert protocol.reference_seconds(calls=2) > 0
    assert seen == [{1}, {1}]
    blas = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert blas == {2}  # put back for the point


def test_a_cuda_point_keeps_one_host_thread_busy():
    p = grids.problem()
    assert points.busy_threads(Point("torch-cuda", p, 16)) == 1
    assert points.busy_threads(Point("torch-cpu", p, 16)) == 16
    assert points.busy_threads(Point("numpy", p, 1)) == 1


def test_warm_up_runs_the_call_for_its_seconds():
    calls = []
    protocol.warm_up(lambda: calls.append(time.perf_counter()), 0.02)
    assert len(calls) > 1
    assert calls[-1] - calls[0] < 0.02 + 0.01
    protocol.warm_up(lambda: calls.append(0), 0.0)
    assert calls[-1] != 0  # no seconds, no calls


@pytest.fixture
def steady_machine(monkeypatch, tmp_path):
    """A 2-CPU machine whose reference never moves and whose one thread always has its core;
    flags go to ``tmp_path/abcdef01-e.jsonl``. Tests set the other processes' load."""
    monkeypatch.setattr(protocol, "usable_cpus", lambda: 2)
    monkeypatch.setattr(protocol, "reference_by_core", lambda cores: dict.fromkeys(cores, 1e-3))
    monkeypatch.setattr(protocol, "own_share", lambda a, b: 1.0)
    monkeypatch.setenv(flags.FLAGS_DIR, str(tmp_path))
    monkeypatch.setenv(flags.COMMIT, "abcdef0123")
    monkeypatch.setenv(flags.ENV, "e")
    monkeypatch.delenv(flags.RUN, raising=False)
    return tmp_path / "abcdef01-e.jsonl"


def flag_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_measure_retries_a_disturbed_attempt_and_keeps_the_clean_one(monkeypatch, steady_machine):
    outcomes = iter([2.0, 0.0])  # others' cores: disturbed, then clean
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: next(outcomes))
    samples = iter([[9.0, 9.0], [1.0, 1.0]])
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=2)
    kept = protocol.measure(lambda: next(samples), 1, "b.C.track_time", "x/1t", config)
    assert kept == [1.0, 1.0]
    (row,) = flag_rows(steady_machine)
    assert row["attempts"] == 2
    assert row["disturbed"] is False
    assert row["point"] == "x/1t"


def test_measure_flags_a_point_disturbed_on_every_attempt(monkeypatch, steady_machine):
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 3.0)
    medians = iter([[3.0], [2.0], [4.0]])
    config = protocol.Protocol(pause_seconds=0.0)
    kept = protocol.measure(lambda: next(medians), 2, "b.C.track_time", "x/2t", config)
    assert kept == [2.0]  # the fastest of the disturbed attempts, flagged
    (row,) = flag_rows(steady_machine)
    assert row["disturbed"] is True
    assert row["attempts"] == config.max_attempts
    assert "other processes" in row["why"]


def test_measure_records_how_long_the_point_waited_for_the_fast_state(monkeypatch, steady_machine):
    readings = iter([2.0, 2.0, 1.0, 1.0])  # slow twice while waiting, then fast before and after
    monkeypatch.setattr(protocol, "slowness", lambda r: next(readings))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    config = protocol.Protocol(poll_seconds=0.05, min_blocks=1)
    protocol.measure(lambda: [1.0], 1, "b.C.track_time", "x/1t", config)
    (row,) = flag_rows(steady_machine)
    assert row["disturbed"] is False
    assert 0.1 <= row["waited_seconds"] < 1.0  # two polls of 0.05 s, and the readings


def test_a_runs_outcome_sums_its_own_lines():
    def line(point, **fields):
        return {"run": "r2", "benchmark": "b", "point": point, **fields}

    lines = [
        line("x", attempts=3, waited_seconds=1.5, disturbed=True, seconds=4.0),
        line("y", attempts=1, waited_seconds=0.5, disturbed=False, seconds=1.5),
        line("y", attempts=3, disturbed=True, set_aside=True),  # beside y's clean round
        line("z", attempts=1, disturbed=False, seconds=2.0, outweigh_seconds=1.0),
        line("z", disturbed=True, why="the whole run ran slow"),  # not a measurement
    ]
    outcome = flags.run_outcome(lines)
    assert outcome == flags.RunOutcome(
        measurements=4,
        again=4,
        waited=2.0,
        disturbed=2,
        outweighed=1,
        seconds=7.5,
        outweighing=1.0,
    )
    assert outcome.describe() == (
        "the machine during this run: 4 point measurements (8 s), 4 attempts measured again,"
        " 2 s spent waiting for its fast state, 1 s measuring on to outweigh slow rounds, 1"
        " disturbed rounds outweighed by a clean round of their point, 2 points left disturbed"
    )


def test_a_measurement_records_its_median_its_time_and_the_time_it_measured_on_to_outweigh(
    monkeypatch, steady_machine
):
    """The second round shows the first slow and measures on (each measurement taking 0.01 s)
    until it outweighs it: its line holds that time apart from the whole, and each line the
    round's own median (what a replay of the run's rounds needs)."""
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)

    def measurement(samples):
        def measure_once():
            time.sleep(0.01)
            return samples

        return measure_once

    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setenv(flags.RUN, "two rounds")
    protocol.measure(measurement([2.0] * 2), 1, "b.T.track", "x/1t", config)
    protocol.measure(measurement([1.0] * 2), 1, "b.T.track", "x/1t", config)
    first, second = flag_rows(steady_machine)
    assert first["outweigh_seconds"] == 0
    assert 0.03 <= second["outweigh_seconds"] < second["seconds"]  # three more measurements
    assert second["outweighed_earlier_round"] == 2.0
    assert (first["median"], second["median"]) == (2.0, 1.0)


def test_paired_blocks_alternate_their_order_after_warm_up_pairs(monkeypatch, steady_machine):
    """ABBAAB...: the side that goes first flips every pair; the warm-up pairs are not kept."""
    order = []

    class Fake:
        def __init__(self, name):
            self.name = name

        def step(self):
            order.append(self.name)

        def sync(self):
            pass

    bench = bench_paired.Paired()
    bench.point = Point.parse("torch-cpu/64x1000x100x10/float32/squared-relu/1t")
    bench.trainer, bench.baseline = Fake("A"), Fake("B")
    ticks = iter(range(10**6))  # every block lasts one tick
    monkeypatch.setattr(bench_paired.time, "perf_counter", lambda: float(next(ticks)))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setattr(protocol, "calibrate", lambda call, seconds: 1)
    monkeypatch.setattr(bench_paired, "MIN_PAIRS", 4)
    monkeypatch.setattr(bench_paired, "MIN_FAST_BLOCKS", 4)
    monkeypatch.setattr(protocol, "PROTOCOL", protocol.Protocol(measure_seconds=0))
    result = bench.track_relative_time({}, "x")
    assert order[:8] == ["A", "B", "B", "A", "A", "B", "B", "A"]
    assert len(order) == 2 * (bench_paired.WARMUP_PAIRS + 4)
    assert result["samples"] == [1.0] * 4
    assert result["number"] == 1


def test_paired_blocks_leave_the_calls_right_after_a_switch_untimed(monkeypatch, steady_machine):
    """The first call after the other side's block costs 10 ticks, the rest 1: the blocks time
    only the steady calls, so all four blocks read one tick a call on both sides and are kept;
    timed from the first call, the blocks after a switch read slow and only half are kept."""
    clock = {"now": 0.0, "last": None}

    class Fake:
        def __init__(self, name):
            self.name = name

        def step(self):
            clock["now"] += 10.0 if clock["last"] != self.name else 1.0
            clock["last"] = self.name

        def sync(self):
            pass

    bench = bench_paired.Paired()
    bench.point = Point.parse("torch-cpu/64x1000x100x10/float32/squared-relu/1t")
    bench.trainer, bench.baseline = Fake("A"), Fake("B")
    monkeypatch.setattr(bench_paired.time, "perf_counter", lambda: clock["now"])
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setattr(protocol, "calibrate", lambda call, seconds: 20)
    monkeypatch.setattr(bench_paired, "MIN_PAIRS", 4)
    monkeypatch.setattr(protocol, "PROTOCOL", protocol.Protocol(measure_seconds=0))
    result = bench.track_relative_time({}, "x")
    assert result["samples"] == [1.0] * 4
    monkeypatch.setattr(bench_paired, "UNTIMED_SHARE", 0.0)
    assert len(bench.track_relative_time({}, "x")["samples"]) == 2


def test_too_few_fast_names_the_first_side_short_of_its_count():
    sides, names = ([1.0, 1.01, 1.02], [2.0, 2.0, 2.5]), ("torch-cpu", "numpy")
    assert bench_paired.too_few_fast(sides, names, 0.03, 2) == ""
    assert bench_paired.too_few_fast(sides, names, 0.03, 3) == (  # numpy's third block ran slow
        "only 2 of 3 blocks of numpy's side ran in its fast state"
    )
    assert bench_paired.too_few_fast(([1.0, 1.0], []), names, 0.03, 1) == (
        "only 0 of 0 blocks of numpy's side ran in its fast state"
    )


def paired_round(monkeypatch, numpy_cost, max_seconds):
    """One paired round at MIN_PAIRS = 4 and MIN_FAST_BLOCKS = 4, each block one call:
    torch-cpu's calls cost 3 ticks, numpy's block N (from 1, warm-up included) costs
    ``numpy_cost(N)``. Its relative samples."""
    clock = {"now": 0.0, "blocks": 0}

    class Fake:
        def __init__(self, cost):
            self.cost = cost

        def step(self):
            clock["now"] += self.cost()

        def sync(self):
            pass

    def numpy_block():
        clock["blocks"] += 1
        return numpy_cost(clock["blocks"])

    bench = bench_paired.Paired()
    bench.point = Point.parse("torch-cpu/64x1000x100x10/float32/squared-relu/1t")
    bench.trainer, bench.baseline = Fake(lambda: 3.0), Fake(numpy_block)
    monkeypatch.setattr(bench_paired.time, "perf_counter", lambda: clock["now"])
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setattr(protocol, "calibrate", lambda call, seconds: 1)
    monkeypatch.setattr(bench_paired, "UNTIMED_SHARE", 0.0)
    monkeypatch.setattr(bench_paired, "MIN_PAIRS", 4)
    monkeypatch.setattr(bench_paired, "MIN_FAST_BLOCKS", 4)
    monkeypatch.setattr(bench_paired, "MAX_MEASURE_SECONDS", max_seconds)
    return bench.track_relative_time({}, "x")["samples"]


def test_a_paired_round_waits_for_each_sides_fast_blocks(monkeypatch, steady_machine):
    """numpy's blocks 3 and 5 (in the first kept pairs) run at 1.5x: after four pairs it has two
    fast blocks, so the round takes two more pairs, and the ratio is 3 over numpy's fast state."""
    samples = paired_round(monkeypatch, lambda n: 1.5 if n in (3, 5) else 1.0, 1000.0)
    assert samples == [3.0] * 6


def test_a_paired_round_stops_at_its_time_limit_and_is_disturbed(monkeypatch, steady_machine):
    """numpy's every block 10% faster than the one before: it never holds two blocks within 3%
    of its fastest, so the round takes pairs (~3.5 ticks each) until 24 ticks after its warm-up,
    and is disturbed, measured again, and flagged."""
    samples = paired_round(monkeypatch, lambda n: 0.9**n, 24.0)
    assert len(samples) == 7
    (row,) = flag_rows(steady_machine)
    assert row["disturbed"] is True
    assert row["attempts"] == protocol.PROTOCOL.max_attempts
    assert "only 1 of 7 blocks of numpy's side ran in its fast state" in row["why"]


def test_relative_samples_are_the_fast_blocks_over_the_baselines_fast_median():
    """A slowed block of either side (here the third of each) does not move the ratio."""
    samples = bench_paired.relative_samples([2.0, 2.1, 3.0], [1.0, 1.05, 1.6], tolerance=0.1)
    assert samples == pytest.approx([2.0 / 1.025, 2.1 / 1.025])


def test_the_reference_is_read_on_each_core_in_turn(monkeypatch):
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("needs sched_getaffinity")
    seen = []
    monkeypatch.setattr(protocol, "reference_seconds", lambda calls: seen.append(
        os.sched_getaffinity(0)) or 1e-3)  # fmt: skip
    before = os.sched_getaffinity(0)
    cores = sorted(before)
    readings = protocol.reference_by_core(cores)
    assert seen == [{c} for c in cores]
    assert readings == dict.fromkeys(cores, 1e-3)
    assert os.sched_getaffinity(0) == before


def test_slowness_is_the_slowest_core_against_that_cores_best(monkeypatch, tmp_path):
    monkeypatch.setenv(flags.FLAGS_DIR, str(tmp_path))
    assert protocol.slowness({0: 1.0, 1: 2.0}) == 1.0  # the first readings are the bests
    assert protocol.slowness({0: 1.0, 1: 3.0}) == pytest.approx(1.5)
    assert protocol.slowness({0: 0.5, 1: 2.0}) == 1.0  # a new best on core 0


def test_a_slow_state_before_the_point_is_waited_out_not_measured(monkeypatch, steady_machine):
    readings = iter([{1: 2.0}, {1: 2.0}, {1: 1.0}, {1: 1.0}])  # slow twice, then fast
    monkeypatch.setattr(protocol, "point_cores", lambda: [1])
    monkeypatch.setattr(protocol, "reference_by_core", lambda cores: next(readings))
    monkeypatch.setattr(flags, "best_references", lambda readings: dict.fromkeys(readings, 1.0))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    measured = []
    config = protocol.Protocol(poll_seconds=0.0, min_blocks=1)
    kept = protocol.measure(
        lambda: measured.append(1) or [1.0], 1, "b.C.track_time", "x/1t", config
    )
    assert kept == [1.0]
    assert measured == [1]  # measured once, after the slow state passed
    (row,) = flag_rows(steady_machine)
    assert (row["attempts"], row["disturbed"], row["reference_ratio"]) == (1, False, 1.0)


def test_a_slow_reading_after_the_point_is_read_again_after_the_settle(monkeypatch, steady_machine):
    """An all-core point's own worker threads spin for a while after it: not the machine."""
    readings = iter([{0: 1.0}, {0: 3.0}, {0: 1.0}])
    monkeypatch.setattr(protocol, "reference_by_core", lambda cores: next(readings))
    monkeypatch.setattr(flags, "best_references", lambda readings: dict.fromkeys(readings, 1.0))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    config = protocol.Protocol(pause_seconds=0.0, settle_seconds=0.0, min_blocks=1)
    protocol.measure(lambda: [1.0], 2, "b.C.track_time", "x/2t", config)
    (row,) = flag_rows(steady_machine)
    assert (row["attempts"], row["disturbed"], row["reference_ratio"]) == (1, False, 1.0)


def test_the_best_reference_is_the_machines_across_runs(monkeypatch, tmp_path):
    """A run that starts on a busy machine is judged against the machine's quiet speed."""
    monkeypatch.setenv(flags.FLAGS_DIR, str(tmp_path))
    monkeypatch.setenv(flags.RUN, "quiet run")
    assert flags.best_references({"core1": 1.0}) == {"core1": 1.0}
    monkeypatch.setenv(flags.RUN, "busy run")
    assert flags.best_references({"core1": 1.45}) == {"core1": 1.0}
    assert flags.best_references({"core0": 2.0}) == {"core0": 2.0}  # each core has its own
    monkeypatch.delenv(flags.FLAGS_DIR)  # a plain asv run judges nothing
    assert flags.best_references({"core1": 1.45}) == {"core1": 1.45}


def test_the_slow_streak_counts_points_in_a_row_within_one_run(monkeypatch, tmp_path):
    monkeypatch.setenv(flags.FLAGS_DIR, str(tmp_path))
    monkeypatch.setenv(flags.RUN, "one")
    flags.note_slow(True)
    flags.note_slow(True)
    assert flags.slow_streak() == 2
    flags.note_slow(False)
    assert flags.slow_streak() == 0
    flags.note_slow(True)
    monkeypatch.setenv(flags.RUN, "two")
    assert flags.slow_streak() == 0  # a new run starts patient


def test_a_machine_slow_for_several_points_is_not_waited_on(monkeypatch, steady_machine):
    readings = []

    def always_slow(cores):
        readings.append(1)
        return {0: 2.0}

    monkeypatch.setattr(protocol, "reference_by_core", always_slow)
    monkeypatch.setattr(flags, "best_references", lambda readings: dict.fromkeys(readings, 1.0))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setenv(flags.RUN, "busy")
    config = protocol.Protocol(wait_seconds=0.05, poll_seconds=0.01, settle_seconds=0.0)
    per_point = []
    for i in range(config.patience_points + 2):
        before = len(readings)
        protocol.measure(lambda: [1.0] * 9, 1, "b.C.track_time", f"x{i}/1t", config)
        per_point.append(len(readings) - before)
    # Patient points polled before measuring; then one reading before and one after (a
    # one-thread point has no threads to wait on for a second look).
    assert all(n > 2 for n in per_point[: config.patience_points])
    assert per_point[config.patience_points :] == [2, 2]
    rows = flag_rows(steady_machine)
    assert all(row["disturbed"] and row["attempts"] == 1 for row in rows)


def test_a_point_still_slow_after_the_wait_is_measured_once_and_flagged(
    monkeypatch, steady_machine
):
    monkeypatch.setattr(protocol, "reference_by_core", lambda cores: {0: 2.0})
    monkeypatch.setattr(flags, "best_references", lambda readings: dict.fromkeys(readings, 1.0))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    measured = []
    config = protocol.Protocol(wait_seconds=0.0, settle_seconds=0.0, min_blocks=1)
    protocol.measure(lambda: measured.append(1) or [1.0], 1, "b.C.track_time", "x/1t", config)
    assert measured == [1]
    (row,) = flag_rows(steady_machine)
    assert (row["attempts"], row["disturbed"]) == (1, True)
    assert "slow state" in row["why"]


def test_a_round_slower_than_the_points_earlier_round_is_measured_again(
    monkeypatch, steady_machine
):
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setenv(flags.RUN, "two rounds")
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    protocol.measure(lambda: [1.0], 1, "b.C.track_time", "x/1t", config)  # the earlier round
    attempts = iter([[1.3], [1.02]])
    kept = protocol.measure(lambda: next(attempts), 1, "b.C.track_time", "x/1t", config)
    assert kept == [1.02]
    rows = flag_rows(steady_machine)
    assert [(r["attempts"], r["disturbed"]) for r in rows] == [(1, False), (2, False)]


def test_a_round_after_a_slow_one_measures_on_until_it_outweighs_it(monkeypatch, steady_machine):
    """asv pools the rounds' samples: more than three quarters from this round make the
    point's median and quartiles this round's."""
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setenv(flags.RUN, "two rounds")
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    protocol.measure(lambda: [1.5, 1.5], 1, "b.C.track_time", "x/1t", config)  # slow, unseen
    kept = protocol.measure(lambda: [1.0, 1.0], 1, "b.C.track_time", "x/1t", config)
    assert kept == [1.0] * 8  # more than 3 x 2 samples
    rows = flag_rows(steady_machine)
    assert [r["disturbed"] for r in rows] == [False, False]
    assert rows[1]["outweighed_earlier_round"] == pytest.approx(1.5)


def test_a_slow_earlier_round_not_outweighed_in_time_flags_the_point(monkeypatch, steady_machine):
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setenv(flags.RUN, "two rounds")
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1, outweigh_seconds=0.0)
    protocol.measure(lambda: [1.5], 1, "b.C.track_time", "x/1t", config)
    protocol.measure(lambda: [1.0], 1, "b.C.track_time", "x/1t", config)
    protocol.measure(lambda: [1.0], 1, "b.C.track_time", "y/1t", config)  # another point
    rows = flag_rows(steady_machine)
    assert [(r["attempts"], r["disturbed"]) for r in rows] == [(1, False), (1, True), (1, False)]
    assert "earlier round ran 1.50x this one" in rows[1]["why"]


def test_rounds_of_another_run_or_commit_are_not_compared(monkeypatch, tmp_path):
    monkeypatch.setenv(flags.FLAGS_DIR, str(tmp_path))
    monkeypatch.setenv(flags.RUN, "one")
    monkeypatch.setenv(flags.COMMIT, "aaaaaaaa11")
    held = flags.Pool(1.0, 7, 8, False, 0.9, {"torch-cpu": 2e-4, "numpy": 1e-4})
    flags.note_rounds("b", "x/1t", held)
    assert flags.earlier_rounds("b", "x/1t") == held
    monkeypatch.setenv(flags.COMMIT, "bbbbbbbb22")
    assert flags.earlier_rounds("b", "x/1t") == flags.Pool()  # the gate's other commit
    monkeypatch.setenv(flags.RUN, "two")
    monkeypatch.setenv(flags.COMMIT, "aaaaaaaa11")
    assert flags.earlier_rounds("b", "x/1t") == flags.Pool()


def point_flag(sidecar: Path, label: str = "x/1t", benchmark: str = "b.C.track_time") -> Flag:
    return read_flags(sidecar)[0][(benchmark, label)]


def test_a_disturbed_round_beside_a_clean_one_is_set_aside(monkeypatch, steady_machine):
    """One clean round holds the point: the disturbed round gives asv one sample, its
    median, which cannot move the clean round's median or quartiles."""
    load = iter([0.0, 3.0, 3.0, 3.0])  # the first round clean, every attempt of the second busy
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: next(load))
    monkeypatch.setenv(flags.RUN, "two rounds")
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    protocol.measure(lambda: [1.0] * 7, 1, "b.C.track_time", "x/1t", config)
    kept = protocol.measure(lambda: [2.0, 2.1, 2.15], 1, "b.C.track_time", "x/1t", config)
    assert kept == [2.1]
    rows = flag_rows(steady_machine)
    assert [(r["disturbed"], r.get("set_aside")) for r in rows] == [(False, None), (True, True)]
    assert rows[1]["attempts"] == 3  # measured again to confirm the clean round, then set aside
    assert point_flag(steady_machine).disturbed is False


HELD = flags.Pool(1.0, 7, 7, False, 1.0)  # one clean round of 7 samples: settled
NOT_HELD = flags.Pool(1.0, 3, 3, False, 1.0)  # 3 clean samples would not outnumber 1 more


@pytest.mark.parametrize(("pool", "set_aside"), [(HELD, True), (NOT_HELD, False)])
def test_a_round_beside_clean_rounds_is_measured_again_to_confirm_them(
    monkeypatch, steady_machine, pool, set_aside
):
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 3.0)  # every attempt busy
    monkeypatch.setenv(flags.RUN, "two rounds")
    flags.note_rounds("b.C.track_time", "x/1t", pool)
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1, max_attempts=3)
    protocol.measure(lambda: [1.0] * 3, 1, "b.C.track_time", "x/1t", config)
    (row,) = flag_rows(steady_machine)
    assert row["attempts"] == 3
    assert row.get(protocol.SET_ASIDE, False) is set_aside


@pytest.mark.parametrize("pool", [HELD, NOT_HELD])
def test_every_round_waits_for_the_fast_state_even_beside_clean_rounds_that_hold_the_point(
    monkeypatch, steady_machine, pool
):
    """A later round beside a clean one waits for the fast state: a second clean round is what
    confirms the point."""
    monkeypatch.setattr(protocol, "slowness", lambda r: 2.0)  # the machine stays slow
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setenv(flags.RUN, "two rounds")
    flags.note_rounds("b.C.track_time", "x/1t", pool)
    config = protocol.Protocol(min_blocks=1, wait_seconds=0.2, poll_seconds=0.05)
    protocol.measure(lambda: [1.0] * 3, 1, "b.C.track_time", "x/1t", config)
    (row,) = flag_rows(steady_machine)
    assert row["disturbed"] is True
    assert row["waited_seconds"] >= 0.2


def test_a_round_is_set_aside_only_beside_clean_rounds_that_outnumber_it(
    monkeypatch, steady_machine
):
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 3.0)  # every attempt busy
    monkeypatch.setenv(flags.RUN, "two rounds")
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1, max_attempts=1)
    flags.note_rounds("b.C.track_time", "x/1t", flags.Pool(2.0, 3, 3, False, 2.0))  # 3 samples
    assert protocol.measure(lambda: [2.0, 2.0], 1, "b.C.track_time", "x/1t", config) == [2.0, 2.0]
    assert point_flag(steady_machine).disturbed is True


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((0.0, [1.5] * 7), (3.0, [1.0] * 7)),  # disturbed, yet faster than the clean round
        ((3.0, [1.0] * 7), (0.0, [1.5] * 7)),  # clean, yet slower than the disturbed round
    ],
)
def test_a_round_faster_than_the_one_that_would_hold_the_point_flags_it(
    monkeypatch, steady_machine, first, second
):
    """A slow state only makes a step slower: the faster round shows the other ran slow."""
    load = iter([first[0], second[0]])
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: next(load))
    monkeypatch.setenv(flags.RUN, "two rounds")
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1, max_attempts=1)
    protocol.measure(lambda: first[1], 1, "b.C.track_time", "x/1t", config)
    protocol.measure(lambda: second[1], 1, "b.C.track_time", "x/1t", config)
    rows = flag_rows(steady_machine)
    assert not any(r.get("set_aside") or r.get("overrules_earlier_rounds") for r in rows)
    assert point_flag(steady_machine).disturbed is True


def test_a_clean_round_after_a_disturbed_one_outweighs_it(monkeypatch, steady_machine):
    load = iter([3.0, 3.0, 3.0, 0.0])  # every attempt of the first round busy, then clean
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: next(load))
    monkeypatch.setenv(flags.RUN, "two rounds")
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    protocol.measure(lambda: [2.0, 2.0], 1, "b.C.track_time", "x/1t", config)
    kept = protocol.measure(lambda: [1.0, 1.0], 1, "b.C.track_time", "x/1t", config)
    assert kept == [1.0] * 8  # more than 3 x the pool's 2 samples
    rows = flag_rows(steady_machine)
    assert [(r["disturbed"], r.get("overrules_earlier_rounds")) for r in rows] == [
        (True, None),
        (False, True),
    ]
    assert point_flag(steady_machine).disturbed is False


def test_a_clean_round_that_cannot_outweigh_a_disturbed_one_leaves_it_flagged(
    monkeypatch, steady_machine
):
    load = iter([3.0, 3.0, 3.0, 0.0])
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: next(load))
    monkeypatch.setenv(flags.RUN, "two rounds")
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1, outweigh_seconds=0.0)
    protocol.measure(lambda: [2.0, 2.0], 1, "b.C.track_time", "x/1t", config)
    assert protocol.measure(lambda: [1.0], 1, "b.C.track_time", "x/1t", config) == [1.0]
    assert point_flag(steady_machine).disturbed is True
    assert "other processes" in point_flag(steady_machine).why


PAIRED = "b.Paired.track_relative_time"


class PairedRound:
    """A paired round's successive measurements, (ratio samples, sides) each, the last one
    repeated; ``parts`` gives the sides of the latest."""

    def __init__(self, measurements):
        self.queue = list(measurements)
        self.sides = None

    def measure_once(self):
        samples, self.sides = self.queue.pop(0) if len(self.queue) > 1 else self.queue[0]
        return samples

    def parts(self):
        return self.sides


def paired_rounds(monkeypatch, rounds, config):
    """Measure one paired point once per (ratio samples, sides) in ``rounds``, or per list of
    them (a round's successive measurements); what each round gave asv."""
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setenv(flags.RUN, "two rounds")
    kept = []
    for measurements in rounds:
        r = PairedRound([measurements] if isinstance(measurements, tuple) else measurements)
        kept.append(
            protocol.measure(r.measure_once, 1, PAIRED, "x/1t", config, False, parts=r.parts)
        )
    return kept


def test_a_paired_round_in_which_one_side_ran_slow_is_set_aside(monkeypatch, steady_machine):
    """The ratio moved 1.07x (within the rounds' 10%), torch-cpu's own side as much while
    numpy's held: the second round ran slow, and the first holds the point."""
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    first = ([2.0] * 7, {"torch-cpu": 2.0e-4, "numpy": 1.0e-4})
    second = ([2.14] * 7, {"torch-cpu": 2.14e-4, "numpy": 1.0e-4})
    kept = paired_rounds(monkeypatch, [first, second], config)
    assert kept[1] == [2.14]  # one sample: set aside
    rows = flag_rows(steady_machine)
    assert [(r["disturbed"], r.get("set_aside")) for r in rows] == [(False, None), (True, True)]
    assert "torch-cpu's side ran 1.07x the point's earlier round" in rows[1]["why"]
    assert rows[1]["parts"] == {"torch-cpu": 2.14e-4, "numpy": 1.0e-4}
    assert point_flag(steady_machine, benchmark=PAIRED).disturbed is False


def test_a_slow_paired_round_with_a_lower_ratio_is_set_aside_all_the_same(
    monkeypatch, steady_machine
):
    """Both sides ran slow in the second round, numpy's more, so its ratio fell 15%: a lower
    ratio does not show the first round slow (each side's time would), so the slow round is set
    aside and the point stays clean. Judged by the ratio alone, as a step time is, it would not."""
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    first = ([2.0] * 7, {"torch-cpu": 2.0e-4, "numpy": 1.0e-4})
    second = ([1.7] * 7, {"torch-cpu": 2.2e-4, "numpy": 1.3e-4})
    kept = paired_rounds(monkeypatch, [first, second], config)
    assert kept[1] == [1.7]  # one sample: set aside
    assert point_flag(steady_machine, benchmark=PAIRED).disturbed is False


def test_a_paired_round_after_one_whose_side_ran_slow_outweighs_it(monkeypatch, steady_machine):
    """numpy's side ran 1.08x in the first round, which lowered its ratio: the second round,
    faster on that side, measures on until its samples decide the pool."""
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    first = ([1.85] * 2, {"torch-cpu": 2.0e-4, "numpy": 1.08e-4})
    second = ([2.0] * 2, {"torch-cpu": 2.0e-4, "numpy": 1.0e-4})
    kept = paired_rounds(monkeypatch, [first, second], config)
    assert kept[1] == [2.0] * 8  # more than 3 x the pool's 2 samples
    rows = flag_rows(steady_machine)
    assert [r["disturbed"] for r in rows] == [False, False]
    assert rows[1]["outweighed_earlier_round"] == pytest.approx(1.85 / 2.0)


def test_a_round_outweighs_with_measurements_whose_sides_agree_with_its_own(
    monkeypatch, steady_machine
):
    """The second round's first measurement shows the first round slow; of its further
    measurements, those with torch-cpu's side 1.15x slower are left out of the pool."""
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    fast = ([2.0] * 2, {"torch-cpu": 2.0e-4, "numpy": 1.0e-4})
    slow = ([2.3] * 2, {"torch-cpu": 2.3e-4, "numpy": 1.0e-4})
    first = ([1.85] * 2, {"torch-cpu": 2.0e-4, "numpy": 1.08e-4})
    kept = paired_rounds(monkeypatch, [first, [fast, slow, fast, slow, fast, fast]], config)
    assert kept[1] == [2.0] * 8
    assert [r["disturbed"] for r in flag_rows(steady_machine)] == [False, False]


def test_a_round_that_cannot_outweigh_with_agreeing_measurements_leaves_the_point_flagged(
    monkeypatch, steady_machine
):
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1, outweigh_seconds=0.05)
    fast = ([2.0] * 2, {"torch-cpu": 2.0e-4, "numpy": 1.0e-4})
    slow = ([2.3] * 2, {"torch-cpu": 2.3e-4, "numpy": 1.0e-4})
    first = ([1.85] * 2, {"torch-cpu": 2.0e-4, "numpy": 1.08e-4})
    paired_rounds(monkeypatch, [first, [fast, slow]], config)
    assert point_flag(steady_machine, benchmark=PAIRED).disturbed is True


def test_a_paired_round_whose_sides_both_ran_slow_keeps_its_samples_when_its_ratio_held(
    monkeypatch, steady_machine
):
    """Both sides ran 1.2x in the second round and the ratio did not move: the round pools
    like any clean round (all its samples, not one, and not measured again)."""
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    first = ([2.0] * 7, {"torch-cpu": 2.0e-4, "numpy": 1.0e-4})
    second = ([2.02] * 7, {"torch-cpu": 2.42e-4, "numpy": 1.2e-4})
    kept = paired_rounds(monkeypatch, [first, second], config)
    assert kept[1] == [2.02] * 7
    rows = flag_rows(steady_machine)
    assert [(r["disturbed"], r["attempts"]) for r in rows] == [(False, 1), (False, 1)]
    assert point_flag(steady_machine, benchmark=PAIRED).disturbed is False


def test_a_paired_round_after_one_whose_sides_both_ran_slow_need_not_outweigh_it(
    monkeypatch, steady_machine
):
    """The first round ran both sides 1.2x, its ratio as the second's: no outweighing."""
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    first = ([2.0] * 2, {"torch-cpu": 2.4e-4, "numpy": 1.2e-4})
    second = ([1.98] * 2, {"torch-cpu": 2.0e-4, "numpy": 1.0e-4})
    kept = paired_rounds(monkeypatch, [first, second], config)
    assert kept[1] == [1.98] * 2
    assert flag_rows(steady_machine)[1]["outweighed_earlier_round"] is None


@pytest.mark.parametrize(
    ("median", "earlier", "held"),
    [(2.0, 2.0, True), (2.1, 2.0, True), (2.11, 2.0, False), (1.905, 2.0, True),
     (1.9, 2.0, False), (2.0, None, False)],
)  # fmt: skip
def test_a_value_holds_within_the_part_tolerance_either_way(median, earlier, held):
    assert protocol.value_held([median] * 3, earlier, protocol.Protocol()) is held


@pytest.mark.parametrize(
    ("sides", "expected"),
    [
        ({"a": 1.04, "numpy": 0.97}, ("", False)),
        ({"a": 1.06, "numpy": 0.9}, ("a's side ran 1.06x the point's earlier round", False)),
        ({"a": 0.9, "numpy": 1.0}, ("the point's earlier round ran a's side 1.11x this one", True)),
    ],
)
def test_parts_disagree_when_a_side_moved_past_the_tolerance(sides, expected):
    """A slower side makes this round the slow one, even beside a faster side."""
    earlier = {"a": 1.0, "numpy": 1.0}
    assert protocol.parts_disagreement(sides, earlier, protocol.Protocol()) == expected


def test_a_point_without_parts_is_judged_by_its_median_alone(monkeypatch, steady_machine):
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=1)
    first = ([2.0] * 7, None)
    second = ([2.14] * 7, {"torch-cpu": 9.0, "numpy": 1.0})  # no earlier parts to compare with
    paired_rounds(monkeypatch, [first, second], config)
    assert [r["disturbed"] for r in flag_rows(steady_machine)] == [False, False]


def ticking_paired_bench(monkeypatch, slowed: dict[int, float]) -> bench_paired.Paired:
    """A torch-cpu paired bench on a tick clock: torch-cpu's calls cost 3 ticks and numpy's 1,
    call N (counted from 1 over both sides) ``slowed[N]`` times that; one call a block, four
    pairs kept after the warm-up pairs."""
    clock = {"now": 0.0, "calls": 0}

    class Fake:
        def __init__(self, cost):
            self.cost = cost

        def step(self):
            clock["calls"] += 1
            clock["now"] += self.cost * slowed.get(clock["calls"], 1)

        def sync(self):
            pass

    bench = bench_paired.Paired()
    bench.point = Point.parse("torch-cpu/64x1000x100x10/float32/squared-relu/1t")
    bench.trainer, bench.baseline = Fake(3.0), Fake(1.0)
    monkeypatch.setattr(bench_paired.time, "perf_counter", lambda: clock["now"])
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setattr(protocol, "calibrate", lambda call, seconds: 1)
    monkeypatch.setattr(bench_paired, "MIN_PAIRS", 4)
    return bench


def test_paired_rounds_hand_each_sides_fast_step_time_to_the_protocol(monkeypatch, steady_machine):
    """torch-cpu's calls cost 3 ticks and numpy's 1, but for one slowed block of each."""
    bench = ticking_paired_bench(monkeypatch, {9: 5, 11: 5})
    monkeypatch.setattr(protocol, "PROTOCOL", protocol.Protocol(measure_seconds=0))
    assert bench.track_relative_time({}, "x")["samples"] == [3.0] * 3
    (row,) = flag_rows(steady_machine)
    assert row["parts"] == {"torch-cpu": 3.0, "numpy": 1.0}


# --- the gate --------------------------------------------------------------------------------


def timing(median, spread=0.02, disturbed=False):
    return gate.Timing(median, median * (1 - spread), median * (1 + spread), disturbed)


def test_gate_flags_only_a_clear_slowdown():
    a = {"numpy/1t": timing(1.0), "torch/1t": timing(1.0), "nn/1t": timing(1.0)}
    b = {"numpy/1t": timing(1.25), "torch/1t": timing(1.06), "nn/1t": timing(0.7)}
    found = {f.label: f.kind for f in gate.compare(a, b, list(a))}
    assert found == {"numpy/1t": "regression", "nn/1t": "improvement"}


def test_gate_divides_out_a_shift_common_to_all_points():
    labels = [f"impl{i}/1t" for i in range(9)] + ["numpy/1t"]
    a = {k: timing(1.0) for k in labels}
    b = {k: timing(1.12) for k in labels} | {"numpy/1t": timing(1.5)}
    shift = gate.common_shift(a, b, labels)
    assert shift == pytest.approx(1.12)
    found = {f.label: f.kind for f in gate.compare(a, b, labels, shift)}
    assert found == {"numpy/1t": "regression"}


def test_gate_fails_when_every_point_moved_together(tmp_path, monkeypatch):
    labels = [f"impl{i}/1t" for i in range(6)]
    a = {k: timing(1.0) for k in labels}
    b = {k: timing(1.4) for k in labels}
    monkeypatch.setattr(gate, "read_timings", lambda d, m, c: a if c == "a" else b)
    code, text = verdict(tmp_path, "box", "a", "b")
    assert code == 1
    assert "every point moved together (x1.40)" in text


def test_gate_does_not_call_overlapping_or_disturbed_points_regressions():
    a = {"x/1t": timing(1.0, spread=0.2), "y/1t": timing(1.0), "z/1t": timing(1.0, spread=0.2),
         "w/1t": timing(1.3, disturbed=True)}  # fmt: skip
    b = {"x/1t": timing(1.15, spread=0.2), "y/1t": timing(1.5, disturbed=True),
         "z/1t": timing(1.3, spread=0.2), "w/1t": timing(1.3)}  # fmt: skip
    found = {f.label: (f.kind, f.why.split(":")[0]) for f in gate.compare(a, b, list(a))}
    assert found == {
        "y/1t": ("unclear", "disturbed"),
        "z/1t": ("unclear", "the quartiles overlap"),
        "w/1t": ("unclear", "disturbed"),  # a disturbed side is not judged, whatever the ratio
    }


def test_gate_takes_the_machines_own_change_out_of_a_change_but_never_makes_one():
    def slow(median, reference):
        return replace(timing(median), reference=reference)

    a = {k: slow(1.0, 1.1) for k in ("x/1t", "y/1t", "z/1t", "w/1t")}
    b = {
        "x/1t": slow(1.16, 1.1 * 1.07),  # B's rounds on a machine 7% slower: not past 15% then
        "y/1t": slow(1.30, 1.1 * 1.07),  # past 15% even so
        "z/1t": slow(1.16, 1.1 / 1.07),  # A's rounds were the slower: B's 16% stands
        "w/1t": slow(0.84, 1.1 / 1.07),  # faster while A ran slow: not past 15% then
    }
    found = {f.label: (f.kind, f.why) for f in gate.compare(a, b, list(a))}
    quieter = "the other's: rerun on a quieter machine"
    assert found == {
        "x/1t": ("unclear", f"B's rounds ran while the reference read 1.070x {quieter}"),
        "y/1t": ("regression", ""),
        "z/1t": ("regression", ""),
        "w/1t": ("unclear", f"A's rounds ran while the reference read 1.070x {quieter}"),
    }


def test_gate_reads_the_machines_slowness_from_the_rounds_that_decide_each_point(tmp_path):
    rows = [
        {"run": "r1", "point": "x/1t", "disturbed": False, "reference_ratio": 3.0},  # older run
        {"run": "r2", "point": "x/1t", "disturbed": False, "reference_ratio": 1.0},
        {"run": "r2", "point": "x/1t", "disturbed": False, "reference_ratio": 1.21},
        {"run": "r2", "point": "y/1t", "disturbed": True},  # no reading: 1.0
        {"run": "r2", "point": "z/1t", "disturbed": False, "reference_ratio": 1.0},
        {
            "run": "r2",
            "point": "z/1t",
            "disturbed": True,
            "reference_ratio": 2.0,
            "set_aside": True,
        },
    ]
    path = tmp_path / "flags.jsonl"
    path.write_text("".join(json.dumps({"benchmark": gate.BENCHMARK, **r}) + "\n" for r in rows))
    found = {point: flag for (_, point), flag in read_flags(path)[0].items()}
    assert found["x/1t"].slowness == pytest.approx(1.1)  # the geometric mean of 1.0 and 1.21
    assert (found["y/1t"].disturbed, found["y/1t"].slowness) == (True, 1.0)
    assert (found["z/1t"].disturbed, found["z/1t"].slowness) == (False, 1.0)


def test_the_gate_keeps_a_change_only_where_a_second_pass_finds_it_again():
    def judged(*findings):
        code = int(any(f.kind == "regression" for f in findings))
        return gate.Judgement(code, "head", list(findings), 90)

    first = judged(
        gate.Finding("x", 1.20, "regression"),
        gate.Finding("y", 1.16, "regression"),
        gate.Finding("z", 0.80, "improvement"),
        gate.Finding("w", 1.30, "unclear", "disturbed: rerun on a quieter machine"),
    )
    again = judged(
        gate.Finding("x", 1.19, "regression"),
        gate.Finding("z", 0.84, "unclear", "the quartiles overlap"),
    )
    found = {f.label: (f.kind, f.why) for f in gate.confirm(first, again).findings}
    rerun = "rerun on a quieter machine"
    assert found == {
        "x": ("regression", "x1.19 when measured again"),
        "y": ("unclear", f"not confirmed: within 15% when measured again; {rerun}"),
        "z": (
            "unclear",
            f"not confirmed: unclear x0.84 when measured again (the quartiles overlap); {rerun}",
        ),
        "w": ("unclear", f"disturbed: {rerun}"),
    }
    assert gate.confirm(first, again).code == 1
    assert gate.confirm(first, judged()).code == 0  # nothing found again: nothing fails


def test_gate_verdict_reads_saved_results_and_flags(tmp_path):
    folder = tmp_path / "box"
    labels = [
        "'numpy/64x1000x100x10/float32/squared-relu/1t'",
        "'nn-cpu/64x1000x100x10/float32/squared-relu/1t'",
    ]
    for commit, values in (("a" * 40, [1.0, 1.0]), ("b" * 40, [1.3, 1.01])):
        row = [values, [labels], "v", 0, 0.1, None, None,
               [v * 0.98 for v in values], [v * 1.02 for v in values]]  # fmt: skip
        data = {
            "version": 2,
            "commit_hash": commit,
            "env_name": "e",
            "result_columns": ["result", "params", "version", "started_at", "duration",
                               "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75"],
            "results": {gate.BENCHMARK: row},
        }  # fmt: skip
        folder.mkdir(exist_ok=True)
        (folder / f"{commit[:8]}-e.json").write_text(json.dumps(data))
    code, text = verdict(tmp_path, "box", "a" * 40, "b" * 40)
    assert code == 1
    assert "regression: numpy/64x1000x100x10" in text
    assert "nn-cpu" not in text
    flagged = {"run": "r", "benchmark": gate.BENCHMARK, "point": labels[0].strip("'"),
               "disturbed": True}  # fmt: skip
    (folder / "ffbench-flags").mkdir()
    (folder / "ffbench-flags" / "bbbbbbbb-e.jsonl").write_text(json.dumps(flagged) + "\n")
    code, text = verdict(tmp_path, "box", "a" * 40, "b" * 40)
    assert code == 0
    assert "unclear" in text


def test_nonfinite_state_raises():
    problem = impls.Problem(8, 30, 12, 4, lr=1e-3)
    trainer = impls.create("numpy", problem)
    trainer.step()
    common.check_finite(trainer)
    w1, w2 = trainer.weights()
    w1[0, 0] = np.nan
    trainer.set_weights(w1, w2)
    with pytest.raises(common.NonFiniteState, match="non-finite"):
        common.check_finite(trainer)


def test_machine_entry_is_completed_and_kept_free_of_facts():
    machines = {"version": 1, "box": {"machine": "box", "cpu": "asv's", machine.FACTS_KEY: {}}}
    defaults = {"machine": "host", "cpu": "default", "ram": "1"}
    out = machine.complete_entry(machines, "box", defaults)
    assert out["box"] == {"machine": "box", "cpu": "asv's", "ram": "1"}
    assert machine.FACTS_KEY in machines["box"]  # the input is not modified
    assert machine.complete_entry({}, "new", defaults)["new"]["cpu"] == "default"


def test_facts_go_beside_asvs_recorded_machine_info():
    recorded = {"machine": "box", "cpu": "asv's", "version": 1}
    out = machine.with_facts(recorded, {"blas": "openblas"})
    assert out == {**recorded, machine.FACTS_KEY: {"blas": "openblas"}}
    assert recorded == {"machine": "box", "cpu": "asv's", "version": 1}


# --- asv itself --------------------------------------------------------------------------------


def test_asv_check_passes():
    done = asv("check", "--python=same")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No problems found" in done.stdout


@pytest.fixture(scope="module")
def asv_run(tmp_path_factory):
    """One real asv run of the tutorial batch point of every implementation, plus a planted NaN,
    results saved to a private results directory (private HOME for asv's machine file)."""
    tmp = tmp_path_factory.mktemp("asv")
    shutil.copytree(ROOT / "benchmarks", tmp / "benchmarks", ignore=shutil.ignore_patterns("__py*"))
    (tmp / "benchmarks" / "bench_planted.py").write_text(PLANTED)
    conf = json.loads(
        re.sub(r"^\s*//.*$", "", (ROOT / "asv.conf.json").read_text(), flags=re.MULTILINE)
    )
    conf.update(
        repo=str(ROOT),
        benchmark_dir=str(tmp / "benchmarks"),
        results_dir=str(tmp / "results"),
        env_dir=str(tmp / "env"),
        html_dir=str(tmp / "html"),
    )
    (tmp / "asv.conf.json").write_text(json.dumps(conf))
    env = {**os.environ, "HOME": str(tmp)}
    facts = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.machine",
            "--machine",
            MACHINE,
            "--config",
            str(tmp / "asv.conf.json"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert facts.returncode == 0, facts.stderr
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    done = asv(
        "run",
        "--config",
        str(tmp / "asv.conf.json"),
        "--python=same",
        f"--set-commit-hash={head}",
        f"--machine={MACHINE}",
        "--show-stderr",
        "--bench",
        SMOKE,
        env=env,
        cwd=tmp,
    )
    return done, tmp / "results" / MACHINE, tmp, env


def results_of(results_dir: Path, benchmark: str) -> dict[str, object]:
    """{label: value} of one benchmark in asv's results file (format version 2)."""
    (path,) = (p for p in results_dir.glob("*.json") if p.name != "machine.json")
    data = json.loads(path.read_text())
    columns_ = data["result_columns"]
    row = dict(zip(columns_, data["results"][benchmark], strict=False))
    (labels,) = row["params"]
    values = row["result"] or [None] * len(labels)  # None alone: every point failed
    return {label.strip("'"): value for label, value in zip(labels, values, strict=True)}


def test_asv_run_times_every_cpu_implementation_at_the_tutorial_point(asv_run):
    done, results_dir, *_ = asv_run
    values = results_of(results_dir, "bench_step.Step.track_time")
    measured = {
        k: v for k, v in values.items() if k.endswith("/64x1000x100x10/float32/squared-relu/1t")
    }
    assert {Point.parse(k).impl for k in measured} == set(grids.cpu_impls())
    for label, value in measured.items():
        assert isinstance(value, float), (label, value, done.stdout[-3000:])
        assert 0 < value < 1, (label, value)
    ratio = results_of(results_dir, "bench_paired.Paired.track_relative_time")
    value = ratio["torch-cpu/64x1000x100x10/float32/squared-relu/1t"]
    assert isinstance(value, float)
    assert 0.05 < value < 20


def test_asv_run_fails_a_planted_nonfinite_state(asv_run):
    done, results_dir, *_ = asv_run
    assert done.returncode == 2, done.stdout[-3000:]  # asv: some benchmarks failed
    (value,) = results_of(results_dir, "bench_planted.PlantedNaN.track_time").values()
    assert value is None  # asv's "failed"
    assert "NonFiniteState" in done.stdout


def test_machine_facts_are_recorded_after_the_run_and_publish_works(asv_run):
    _, results_dir, tmp, env = asv_run
    config = str(tmp / "asv.conf.json")
    path = machine.record_facts(MACHINE, config)
    assert path == results_dir / "machine.json"
    recorded = json.loads(path.read_text())
    assert recorded["machine"] == MACHINE
    facts = recorded[machine.FACTS_KEY]
    assert facts["physical_cores"] == impls.physical_cores()
    assert facts["tf32_matmul"] is False
    assert "blas" in facts
    published = asv("publish", "--config", config, env=env, cwd=tmp)
    assert published.returncode == 0, published.stdout + published.stderr
    assert (tmp / "html" / "index.json").exists()


def test_fast_blocks_keep_the_fast_mode_of_a_bimodal_machine():
    blocks = [300e-6, 305e-6, 590e-6, 310e-6, 700e-6, 302e-6]
    assert protocol.fast_blocks(blocks, 0.10) == [300e-6, 305e-6, 310e-6, 302e-6]


class FakeClock:
    """perf_counter for `blocked_times`: each call of the timed function takes the next of
    ``seconds``."""

    def __init__(self, seconds):
        self.now, self.seconds = 0.0, iter(seconds)

    def perf_counter(self):
        return self.now

    def call(self):
        self.now += next(self.seconds)


def test_blocks_go_on_until_enough_are_in_the_fast_state(monkeypatch):
    clock = FakeClock([1.0] + [2.0] * 4 + [1.0] * 20)  # slowed for four blocks
    monkeypatch.setattr(protocol.time, "perf_counter", clock.perf_counter)
    config = protocol.Protocol(min_blocks=3, measure_seconds=4.0, max_measure_seconds=100.0)
    samples = protocol.blocked_times(clock.call, 1, config)
    assert samples == [1.0] + [2.0] * 4 + [1.0] * 2


def test_blocks_stop_at_the_time_limit_however_few_are_fast(monkeypatch):
    clock = FakeClock([1.0] + [2.0] * 50)
    monkeypatch.setattr(protocol.time, "perf_counter", clock.perf_counter)
    config = protocol.Protocol(min_blocks=3, measure_seconds=4.0, max_measure_seconds=9.0)
    assert protocol.blocked_times(clock.call, 1, config) == [1.0] + [2.0] * 4


def test_an_attempt_mostly_in_the_slow_state_is_disturbed(monkeypatch, steady_machine):
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    attempts = iter([[1.0, 2.0, 2.0, 2.1], [1.0, 1.01, 1.02, 2.0]])
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=3)
    kept = protocol.measure(lambda: next(attempts), 1, "b.C.track_time", "x/1t", config)
    assert kept == [1.0, 1.01, 1.02]  # the second attempt: three of four blocks fast
    (row,) = flag_rows(steady_machine)
    assert row["attempts"] == 2


def test_a_point_that_began_fast_after_a_fast_reading_is_not_judged_by_the_reading_after(
    monkeypatch, steady_machine
):
    """A slow state that comes later slows only blocks the fast mode sets aside."""
    readings = iter([1.0, 3.0, 3.0])  # fast before; slow after (were it read), and after settle
    monkeypatch.setattr(protocol, "slowness", lambda r: next(readings))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    config = protocol.Protocol(pause_seconds=0.0, settle_seconds=0.0, min_blocks=2)
    kept = protocol.measure(lambda: [1.0, 1.05, 1.4, 1.4], 1, "b.C.track_time", "x/1t", config)
    assert kept == [1.0, 1.05]
    (row,) = flag_rows(steady_machine)
    assert (row["attempts"], row["disturbed"], row["reference_ratio"]) == (1, False, 1.0)


@pytest.mark.parametrize(
    ("blocks", "keep_fast", "began_fast"),
    [
        ([1.4, 1.0, 1.05], True, False),  # a slow first block: the fastest may be a slow best
        ([1.0, 1.05, 1.1], False, True),  # a value that chooses its blocks itself
    ],
)
def test_a_point_that_did_not_begin_fast_is_judged_by_the_reading_after(
    monkeypatch, steady_machine, blocks, keep_fast, began_fast
):
    readings = iter([1.0, 3.0, 3.0, 1.0, 1.0, 1.0])  # slow after the first attempt only
    monkeypatch.setattr(protocol, "slowness", lambda r: next(readings))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    config = protocol.Protocol(pause_seconds=0.0, settle_seconds=0.0, min_blocks=2)
    assert protocol.began_fast(blocks, config) is began_fast
    protocol.measure(lambda: blocks, 1, "b.C.track_time", "x/1t", config, keep_fast=keep_fast)
    (row,) = flag_rows(steady_machine)
    assert row["attempts"] == 2  # the slow reading after disturbed the first attempt


def test_a_machine_fast_before_each_point_and_slow_after_keeps_its_patience(
    monkeypatch, steady_machine
):
    """A machine that flips between its states is not busy: its points go on waiting."""
    readings = iter([1.0, 2.0] * 9)  # fast before each attempt, slow after it
    monkeypatch.setattr(protocol, "slowness", lambda r: next(readings))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    monkeypatch.setenv(flags.RUN, "flipping")
    config = protocol.Protocol(pause_seconds=0.0, settle_seconds=0.0, max_attempts=1)
    for i in range(config.patience_points + 1):
        protocol.measure(lambda: [1.0] * 9, 1, "b.C.track_time", f"x{i}/1t", config, False)
    assert all(row["disturbed"] for row in flag_rows(steady_machine))
    assert flags.slow_streak() == 0


@pytest.mark.parametrize(("slowed_call", "disturbed"), [(None, False), (5, True)])
def test_a_paired_round_that_began_fast_is_not_judged_by_the_reading_after(
    monkeypatch, steady_machine, slowed_call, disturbed
):
    """Fast before, slow after: clean if each side's first kept block is in its fast mode
    (calls 1-4 are the warm-up pairs; call 5 is torch-cpu's first kept block)."""
    bench = ticking_paired_bench(monkeypatch, {slowed_call: 2} if slowed_call else {})
    # fast before the round and after its first kept pair, slow after the first attempt only
    readings = iter([1.0, 1.0, 2.0] + [1.0] * 9)
    monkeypatch.setattr(protocol, "slowness", lambda r: next(readings))
    monkeypatch.setattr(bench_paired, "MIN_FAST_BLOCKS", 3)
    config = protocol.Protocol(measure_seconds=0, pause_seconds=0.0, settle_seconds=0.0)
    monkeypatch.setattr(protocol, "PROTOCOL", config)
    bench.track_relative_time({}, "x")
    (row,) = flag_rows(steady_machine)
    assert row["attempts"] == (2 if disturbed else 1)


@pytest.mark.parametrize(
    ("readings", "attempts"),
    [
        ([1.0, 1.0], 1),  # fast before and after the first block: no reading after the point
        ([1.0, 1.3, 1.3, 1.0, 1.0], 2),  # slow after the first block: read after, measured again
        ([1.2, 1.2, 1.3, 1.0, 1.0], 2),  # under the slow line but not clearly fast: read after
    ],
)
def test_a_point_skips_the_reading_after_only_when_its_first_block_ran_between_fast_readings(
    monkeypatch, steady_machine, readings, attempts
):
    taken = iter(readings)
    monkeypatch.setattr(protocol, "slowness", lambda r: next(taken))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    config = protocol.Protocol(pause_seconds=0.0, settle_seconds=0.0, min_blocks=2)

    def measure_once():
        protocol.first_block_timed()
        protocol.first_block_timed()  # once per measurement, however often a loop calls it
        return [1.0, 1.0, 1.05]

    protocol.measure(measure_once, 1, "b.C.track_time", "x/1t", config)
    (row,) = flag_rows(steady_machine)
    assert row["attempts"] == attempts
    assert next(taken, None) is None  # every reading listed was taken, and no other


def test_blocked_times_reads_the_reference_after_its_first_block_only(monkeypatch):
    clock = FakeClock([1.0] * 6)
    monkeypatch.setattr(protocol.time, "perf_counter", clock.perf_counter)
    reads = []  # the clock's time at each reading: the calls timed before it
    monkeypatch.setattr(protocol, "reference_by_core", lambda cores: reads.append(clock.now))
    monkeypatch.setattr(protocol, "slowness", lambda r: 1.25)
    config = protocol.Protocol(measure_seconds=0.0, min_blocks=3, max_measure_seconds=100.0)
    samples, after_first = protocol.bracketed(
        lambda: protocol.blocked_times(clock.call, 1, config), [0]
    )
    assert (samples, after_first) == ([1.0] * 3, 1.25)
    assert reads == [1.0]  # after the first block's call, before the second
    protocol.first_block_timed()  # outside a measurement: reads nothing
    assert reads == [1.0]


def test_a_pinned_one_thread_point_moves_to_the_core_found_fast(monkeypatch, steady_machine):
    """Its own core slow, the other fast: measured on the other, judged by readings there."""
    monkeypatch.setattr(protocol, "_movable_cores", [0, 1])
    monkeypatch.setattr(protocol, "point_cores", lambda: [1])  # pinned to the last core
    read_on = []
    monkeypatch.setattr(protocol, "reference_by_core", lambda cores: dict.fromkeys(cores, 1e-3))

    def slowness_by_core(readings):
        read_on.append(sorted(readings))
        return {core: {0: 1.0, 1: 2.0}[core] for core in readings}

    monkeypatch.setattr(protocol, "slowness_by_core", slowness_by_core)
    moved = []
    monkeypatch.setattr(protocol.os, "sched_setaffinity", lambda pid, cores: moved.append(cores))
    monkeypatch.setattr(protocol, "others_cores", lambda a, b: 0.0)
    config = protocol.Protocol(pause_seconds=0.0, min_blocks=2)

    def measure_once():
        protocol.first_block_timed()
        return [1.0, 1.0]

    protocol.measure(measure_once, 1, "b.C.track_time", "x/1t", config)
    assert moved == [{0}]
    assert read_on == [[0, 1], [0]]  # both cores before; core 0 after the first block
    (row,) = flag_rows(steady_machine)
    assert (row["attempts"], row["disturbed"], row["reference_ratio"]) == (1, False, 1.0)


def test_a_point_on_several_threads_or_unpinned_is_not_moved(monkeypatch):
    monkeypatch.setattr(protocol, "_movable_cores", [0, 1])
    monkeypatch.setattr(protocol, "point_cores", lambda: [0, 1])
    assert protocol.core_choice(2) == ([0, 1], False)
    assert protocol.core_choice(1) == ([0, 1], False)  # one busy thread, unpinned (CUDA)
    monkeypatch.setattr(protocol, "point_cores", lambda: [1])
    assert protocol.core_choice(1) == ([0, 1], True)
    monkeypatch.setattr(protocol, "_movable_cores", [])  # never pinned by `pin_one_core`
    assert protocol.core_choice(1) == ([1], False)
