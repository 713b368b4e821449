"""`benchmarks.drift`: a whole run checked against the machine's recent runs of the same code.

The results files here are written by hand in asv's format, with their flags sidecars, so the
check reads them as it reads a real run's; no benchmark runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks import drift, gate, layout
from benchmarks.__main__ import after_run
from reports.flags import read_flags, sidecar

REPO = Path(__file__).resolve().parents[1]
ENV = "existing-py_test"
BATCHES = (4, 16, 64, 256)
CALM = {"numpy": 100e-6, "torch-cpu": 120e-6, "autograd-cpu": 200e-6}


def label(impl: str, batch: int, threads: int = 1) -> str:
    return f"{impl}/{batch}x1000x100x10/float32/squared-relu/{threads}t"


def times(scale: dict[str, float] | None = None) -> dict[str, float]:
    """Step times of every implementation at every batch, each implementation scaled."""
    scale = scale or {}
    return {
        label(impl, batch): base * batch / 4 * scale.get(impl, 1.0)
        for impl, base in CALM.items()
        for batch in BATCHES
    }


def save(
    machine: Path,
    commit: str,
    run: str,
    medians: dict[str, float],
    disturbed=(),
    measured=None,
    ratios: dict[str, float] | None = None,
) -> Path:
    """An asv results file of the step benchmark (and paired ratios of the torch
    implementations, 1.2 unless given) and its sidecar with ``run``'s lines for the points it
    ``measured`` (all by default), as a run of the harness leaves them (asv overwrites the
    values of a commit it measures again, and keeps the others)."""
    ratios = {k: 1.2 for k in medians if not k.startswith("numpy/")} | (ratios or {})
    benchmarks = {drift.BENCHMARK: medians, drift.PAIRED: ratios}
    columns = ["result", "params", "stats_q_25", "stats_q_75"]
    path = machine / f"{commit[:8]}-{ENV}.json"
    machine.mkdir(parents=True, exist_ok=True)
    rows = {benchmark: _row(values) for benchmark, values in benchmarks.items()}
    path.write_text(json.dumps({"result_columns": columns, "results": rows}))
    sidecar = machine / "ffbench-flags" / f"{path.stem}.jsonl"
    sidecar.parent.mkdir(exist_ok=True)
    with sidecar.open("a") as out:
        for benchmark, values in benchmarks.items():
            for k in values if measured is None else measured & set(values):
                hit = benchmark == drift.BENCHMARK and k in disturbed
                line = {"run": run, "benchmark": benchmark, "point": k, "disturbed": hit}
                out.write(json.dumps(line) + "\n")
    return path


def _row(medians: dict[str, float]) -> list:
    """One benchmark's row of an asv results file, in the order of `save`'s columns."""
    labels = list(medians)
    return [
        [medians[k] for k in labels],
        [[repr(k) for k in labels]],
        [medians[k] * 0.99 for k in labels],
        [medians[k] * 1.01 for k in labels],
    ]


def flagged(path: Path, benchmark: str = drift.BENCHMARK) -> set[str]:
    return {k for k, t in gate.read_file(path, benchmark).items() if t.disturbed}


def run_in_turn(machine: Path, runs: list[dict[str, float]]) -> tuple[Path, list[str]]:
    """Save and check each run in turn, all of one commit; the last file and its lines."""
    for number, medians in enumerate(runs):
        run = f"2026-11-30T10:{number:02d}:00Z"
        path = save(machine, "abcdef0123", run, medians)
        lines = drift.check(path, run)
    return path, lines


def test_the_first_run_of_some_code_has_nothing_to_check_against(tmp_path):
    path, lines = run_in_turn(tmp_path, [times()])
    assert flagged(path) == set()
    assert lines == [f"whole-run check: {drift.NEW}: autograd-cpu, numpy, torch-cpu"]
    kept = json.loads((tmp_path / "ffbench-flags" / drift.STATE_FILE).read_text())["runs"]
    assert [set(r["points"]) for r in kept] == [set(times())]


def test_a_run_slow_throughout_is_flagged_implementation_by_implementation(tmp_path):
    calm = [times({"numpy": 1.0}), times({"numpy": 1.01, "autograd-cpu": 0.99}), times()]
    slow = times({"autograd-cpu": 1.15, "torch-cpu": 1.03})
    path, lines = run_in_turn(tmp_path, [*calm, slow])
    assert flagged(path) == {label("autograd-cpu", b) for b in BATCHES}
    assert flagged(path, drift.PAIRED) == {label("autograd-cpu", b) for b in BATCHES}
    assert "autograd-cpu 1.15x" in lines[0]
    assert "their 4 step points and their paired ratios are flagged disturbed" in lines[0]
    assert "2 implementations within 7%" in lines[1]
    found, _ = read_flags(sidecar(path))
    hit = {point for (bench, point), f in found.items() if bench == gate.BENCHMARK and f.disturbed}
    assert hit == {label("autograd-cpu", b) for b in BATCHES}


def test_one_slow_run_among_the_recent_ones_does_not_move_the_baseline(tmp_path):
    slow = times({"numpy": 1.3, "torch-cpu": 1.3, "autograd-cpu": 1.3})
    path, lines = run_in_turn(tmp_path, [times(), slow, times(), times({"numpy": 1.02})])
    assert flagged(path) == set()
    steady = "3 implementations within 7% of this machine's recent runs of the same code"
    assert lines[0] == f"whole-run check: {steady} (furthest: numpy 1.02x)"
    # numpy's 2% against three runs, one of them slow, is its median; the others' 0%
    assert "this run's 12 points lie a median 0.0% from the same points in up to 3" in lines[1]
    assert "(9 in 10 within 2.0%)" in lines[1]


def test_the_run_to_run_spread_of_the_recent_runs_is_told():
    history = [
        {"fingerprints": {"numpy": "c"}, "points": times({"numpy": 1.00})},
        {"fingerprints": {"numpy": "c"}, "points": times({"numpy": 1.10})},
        {"fingerprints": {"numpy": "other"}, "points": times({"numpy": 2.0})},  # other code
    ]
    now = {k: v for k, v in times({"numpy": 1.05}).items() if k.startswith("numpy/")}
    apart = drift.spread(now, {"numpy": "c"}, history)
    assert (apart.points, apart.runs) == (4, 2)
    assert apart.median == pytest.approx(0.05 / 1.075, rel=0.03)  # 1.05 against 1.00 and 1.10
    assert drift.spread(now, {"numpy": "new"}, history) is None


def test_a_faster_run_says_the_earlier_runs_were_slow_and_stands(tmp_path):
    path, lines = run_in_turn(tmp_path, [times({"torch-cpu": 1.2}), times()])
    assert flagged(path) == set()
    assert "faster than this machine's recent runs of the same code: torch-cpu 0.83x" in lines[0]


@pytest.mark.parametrize(("scale", "alone"), [(1.5, True), (1.2, False)])
def test_a_point_far_slower_than_its_recent_runs_is_flagged_by_itself(tmp_path, scale, alone):
    """numpy at batch 64 ran 1.5x (1.2x) its recent runs while its implementation's median
    held: past the point line it is flagged alone, with its ratio as the reason."""
    lone = label("numpy", 64)
    path, lines = run_in_turn(tmp_path, [times(), times(), times() | {lone: times()[lone] * scale}])
    assert flagged(path) == ({lone} if alone else set())
    assert flagged(path, drift.PAIRED) == set()
    told = [line for line in lines if "their own times" in line]
    expected = (
        "whole-run check: 1 points ran past 1.25x their own times in this machine's recent runs"
        f" of the same code, flagged disturbed: {lone} 1.50x"
    )
    assert told == ([expected] if alone else [])
    if alone:
        found, _ = read_flags(sidecar(path))
        assert "the point's time read 1.50x its own" in found[(gate.BENCHMARK, lone)].why


@pytest.mark.parametrize(("ratio", "alone"), [(1.44, True), (1.32, False)])
def test_a_paired_ratio_far_above_its_recent_values_is_flagged_by_itself(tmp_path, ratio, alone):
    """torch-cpu's paired ratio at batch 16 read 1.2x (1.1x) its recent runs' while every step
    time held: past the ratio line it is flagged, and no step point is."""
    lone = label("torch-cpu", 16)
    for number, value in enumerate([1.2, 1.2, ratio]):
        run = f"2026-11-30T10:{number:02d}:00Z"
        path = save(tmp_path, "abcdef0123", run, times(), ratios={lone: value})
        lines = drift.check(path, run)
    assert flagged(path, drift.PAIRED) == ({lone} if alone else set())
    assert flagged(path) == set()
    told = [line for line in lines if "paired ratios ran past 1.15x" in line]
    assert len(told) == alone
    if alone:
        assert f"{lone} 1.20x" in told[0]
        found, _ = read_flags(sidecar(path))
        assert "the point's ratio read 1.20x its own" in found[(drift.PAIRED, lone)].why


def test_a_paired_ratio_is_checked_against_runs_of_the_same_code_on_both_sides(tmp_path):
    """A change to numpy's code starts torch-cpu's paired history afresh, not its steps'."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "impls", root / "impls")
    shutil.copytree(REPO / "benchmarks", root / "benchmarks")

    def prints() -> tuple[str, str]:
        step = drift.fingerprint("impls.torch_backprop", ENV, root)
        paired = drift.fingerprint("impls.torch_backprop", ENV, root, ("bench_paired", "layout"),
                                   ("impls.numpy_backprop",))  # fmt: skip
        return step, paired

    step, paired = prints()
    numpy_module = root / "impls" / "numpy_backprop.py"
    numpy_module.write_text(numpy_module.read_text() + "\nEXTRA = 1\n")
    assert prints()[0] == step
    assert prints()[1] != paired


def test_a_point_of_an_implementation_flagged_as_slow_is_not_told_again(tmp_path):
    slow = times({"autograd-cpu": 1.15})
    slow[label("autograd-cpu", 4)] *= 1.3  # 1.5x its recent runs
    path, lines = run_in_turn(tmp_path, [times(), times(), slow])
    assert flagged(path) == {label("autograd-cpu", b) for b in BATCHES}
    assert not any("their own times" in line for line in lines)


def test_a_point_is_checked_against_its_own_times_in_runs_of_the_same_code_only():
    history = [{"fingerprints": {"numpy": "c"}, "points": times()}]
    slow = {k: v for k, v in times({"numpy": 1.5}).items() if k.startswith("numpy/")}
    assert set(drift.lone_points(slow, {"numpy": "c"}, history)) == set(slow)
    assert drift.lone_points(slow, {"numpy": "changed"}, history) == {}


def test_points_the_run_flagged_itself_are_left_out_and_too_few_go_unjudged(tmp_path):
    machine = tmp_path
    save(machine, "abcdef0123", "r1", times())
    drift.check(machine / f"abcdef01-{ENV}.json", "r1")
    slow = times({"numpy": 1.2})
    disturbed = {label("numpy", b) for b in BATCHES[:2]}
    path = save(machine, "abcdef0123", "r2", slow, disturbed)
    lines = drift.check(path, "r2")
    assert flagged(path) == disturbed  # two numpy points left: fewer than MIN_POINTS
    assert f"whole-run check: {drift.FEW}: numpy" in lines


def test_when_every_judged_implementation_ran_slow_the_unjudged_are_flagged_too(tmp_path):
    """The machine was slow, not one implementation: numpy's two undisturbed points cannot be
    judged, yet ran in the same minutes as the others' slow ones."""
    machine = tmp_path
    save(machine, "abcdef0123", "r1", times())
    drift.check(machine / f"abcdef01-{ENV}.json", "r1")
    slow = times({"numpy": 1.2, "torch-cpu": 1.2, "autograd-cpu": 1.25})
    disturbed = {label("numpy", b) for b in BATCHES[:2]}
    path = save(machine, "abcdef0123", "r2", slow, disturbed)
    lines = drift.check(path, "r2")
    assert flagged(path) == set(slow)  # numpy's two undisturbed points as well
    assert "all it judged ran slow, so numpy (not judged) did too" in lines[0]
    assert not any(drift.FEW in line for line in lines)
    found, _ = read_flags(sidecar(path))
    why = found[(gate.BENCHMARK, label("numpy", 256))].why
    assert "every implementation judged read slow (median 1.23x" in why


@pytest.mark.parametrize(
    ("earlier", "scale"),
    [
        (("torch-cpu", "autograd-cpu"), {"torch-cpu": 1.2}),  # one of the two judged ran slow
        (("torch-cpu",), {"torch-cpu": 1.2, "autograd-cpu": 1.2}),  # one judged at all
    ],
)
def test_an_unjudged_implementation_is_left_alone_unless_the_whole_run_was_slow(
    tmp_path, earlier, scale
):
    first = {k: v for k, v in times().items() if k.split("/")[0] in earlier}
    save(tmp_path, "abcdef0123", "r1", first)
    drift.check(tmp_path / f"abcdef01-{ENV}.json", "r1")
    path = save(tmp_path, "abcdef0123", "r2", times({"numpy": 1.5, **scale}))
    lines = drift.check(path, "r2")
    assert {point.split("/")[0] for point in flagged(path)} == {"torch-cpu"}
    new = [line for line in lines if line.startswith(f"whole-run check: {drift.NEW}")]
    assert "numpy" in new[0]


def test_points_an_earlier_run_left_in_the_file_are_not_this_runs(tmp_path):
    """A run narrowed with --bench: asv keeps the commit's other values from the run before."""
    run_in_turn(tmp_path, [times(), times()])
    numpy = {k: v * 1.2 for k, v in times().items() if k.startswith("numpy/")}
    path = save(tmp_path, "abcdef0123", "r3", {**times(), **numpy}, measured=set(numpy))
    lines = drift.check(path, "r3")
    kept = json.loads((tmp_path / "ffbench-flags" / drift.STATE_FILE).read_text())["runs"]
    assert set(kept[-1]["points"]) == set(numpy)
    assert "numpy 1.20x" in lines[0]


def test_changed_code_starts_an_implementations_history_afresh(tmp_path):
    root = tmp_path / "checkout"
    for package in ("impls", "benchmarks"):
        shutil.copytree(REPO / package, root / package)

    def prints() -> dict[str, str]:
        return {m: drift.fingerprint(m, ENV, root) for m in
                ("impls.numpy_backprop", "impls.torch_autograd", "impls.custom_function")}  # fmt: skip

    before = prints()
    assert len(set(before.values())) == 3
    autograd = root / "impls" / "torch_autograd.py"
    source = autograd.read_text()
    assert source.startswith('"""')
    autograd.write_text('"""Reworded."""  # a comment\n' + source.split('"""', 2)[2] + "\n\n")
    assert prints() == before  # docstrings, comments and blank lines are not code
    autograd.write_text(source + "\nCHANGED = 1\n")
    after = prints()
    assert after["impls.numpy_backprop"] == before["impls.numpy_backprop"]
    assert after["impls.torch_autograd"] != before["impls.torch_autograd"]
    # custom_function builds on torch_autograd: its step changed too
    assert after["impls.custom_function"] != before["impls.custom_function"]
    gate = root / "benchmarks" / "gate.py"  # judges results, times nothing
    gate.write_text(gate.read_text() + "\nCHANGED = 1\n")
    assert prints() == after
    protocol = root / "benchmarks" / "protocol.py"  # imported by bench_step's modules
    protocol.write_text(protocol.read_text() + "\nCHANGED = 1\n")
    assert prints()["impls.numpy_backprop"] != after["impls.numpy_backprop"]
    assert (
        drift.fingerprint("impls.numpy_backprop", "other-env", root)
        != prints()["impls.numpy_backprop"]
    )


def test_runs_of_other_code_are_not_a_baseline():
    history = [
        {"run": "r1", "fingerprints": {"numpy": "old", "torch-cpu": "old"}, "points": times()}
    ]
    prints = {"numpy": "new", "torch-cpu": "old"}
    found, unjudged = drift.shifts(times({"numpy": 2.0, "torch-cpu": 1.1}), prints, history)
    assert [(s.impl, round(s.ratio, 3)) for s in found] == [("torch-cpu", 1.1)]
    assert unjudged == {"numpy": drift.NEW}


def test_the_runner_sums_up_and_checks_the_files_this_run_saved_with_the_fixed_layout_only(
    tmp_path, capsys
):
    commit = "abcdef0123"
    save(tmp_path, commit, "r1", times())
    drift.check(tmp_path / f"abcdef01-{ENV}.json", "r1")
    save(tmp_path, commit, "r2", times({"numpy": 1.2}))
    after_run(tmp_path, commit, "r2", layout.RANDOM)
    assert "whole-run check: skipped (the address layout is not fixed" in capsys.readouterr().out
    after_run(tmp_path, commit, "r3", layout.FIXED)  # saved nothing: nothing checked
    assert capsys.readouterr().out == ""
    after_run(tmp_path, commit, "r2", layout.FIXED)
    out = capsys.readouterr().out
    assert out.startswith("the machine during this run: 0 point measurements")  # none timed here
    assert "numpy 1.20x" in out
    assert flagged(tmp_path / f"abcdef01-{ENV}.json") == {label("numpy", b) for b in BATCHES}


def test_a_results_file_the_check_cannot_read_is_named_and_left_as_it_is(tmp_path, capsys):
    path = save(tmp_path, "abcdef0123", "r1", times())
    path.write_text('{"result_columns": ["result"], "results": {"bench_step.Step.track_time": 1}}')
    after_run(tmp_path, "abcdef0123", "r1", layout.FIXED)
    assert f"\nwhole-run check: skipped {path}: " in capsys.readouterr().out
    assert not (tmp_path / "ffbench-flags" / drift.STATE_FILE).exists()


@pytest.mark.parametrize("text", ["", "not json", '{"runs": [{"run": "r1"}]}', '["a list"]'])
def test_a_bad_history_file_is_no_history(tmp_path, text):
    (tmp_path / "ffbench-flags").mkdir()
    (tmp_path / "ffbench-flags" / drift.STATE_FILE).write_text(text)
    path = save(tmp_path, "abcdef0123", "r1", times())
    lines = drift.check(path, "r1")
    assert "no earlier run of the same code" in lines[0]
    kept = json.loads((tmp_path / "ffbench-flags" / drift.STATE_FILE).read_text())["runs"]
    assert len(kept) == 1


@pytest.mark.parametrize("kept", ["not a dict", {label("torch-cpu", 4): "not a number"}])
def test_a_malformed_ratio_in_the_history_is_no_baseline(kept):
    history = [{"fingerprints": {}, "points": {}, "paired_fingerprints": {"torch-cpu": "c"},
                "paired": kept}]  # fmt: skip
    now = {label("torch-cpu", 4): 9.0}
    assert drift.lone_points(now, {"torch-cpu": "c"}, history, drift.RATIO) == {}
