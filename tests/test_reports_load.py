"""The loader on stored asv results: hand-made files, two machines, broken files, old layout."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import impls
from reports.flags import read_flags
from reports.load import COLUMNS, FACTS, ResultsError, ResultsWarning, load_results

FIXTURES = Path(__file__).parent / "fixtures"
GPU_FILE = f"{'c' * 40}-existing-py_usr_bin_python3"


@pytest.fixture(scope="module")
def handmade() -> pd.DataFrame:
    return load_results(FIXTURES / "handmade")


def copy(tmp_path: Path, name: str = "handmade") -> Path:
    root = tmp_path / "r"
    shutil.copytree(FIXTURES / name, root)
    return root


def test_loads_with_the_schema(handmade):
    df = handmade
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert set(df["status"]) <= {"ok", "skipped", "failed", "bad"}
    assert set(df["impl"].dropna()) <= set(impls.names())
    assert str(df["batch"].dtype) == "Int64"
    assert df["date"].dt.tz is not None
    # Only ok points carry a value; skipped and failed ones are NaN, never 0.
    assert df.loc[df["status"] != "ok", "value"].isna().all()
    assert df.loc[df["status"] == "ok", "value"].gt(0).all()
    assert set(df["measure"]) == {
        "time", "relative", "peakmem", "first_step", "device_time", "gpu_memory", "gemm", "floor"
    }  # fmt: skip


def test_point_labels_are_decoded(handmade):
    row = handmade[
        (handmade["machine"] == "gpubox")
        & (handmade["measure"] == "time")
        & (handmade["impl"] == "torch-cuda")
        & (handmade["batch"] == 1024)
    ].iloc[0]
    assert row["point"] == "torch-cuda/1024x1000x100x10/float32/squared-relu/8t"
    assert isinstance(row["batch"], (int, np.integer))
    assert (row["d_in"], row["hidden"], row["d_out"], row["threads"]) == (1000, 100, 10, 8)
    assert (row["dtype"], row["loss"], row["activation"]) == ("float32", "squared", "relu")
    assert row["value"] == pytest.approx(0.5e-3)
    assert row["ci_99_a"] == pytest.approx(0.45e-3)
    assert row["ci_99_b"] == pytest.approx(0.55e-3)
    assert row["q_25"] == pytest.approx(0.49e-3)
    assert int(row["repeat"]) == 10
    assert row["commit"] == "c" * 40
    assert (row["unit"], row["type"], row["suite"]) == ("seconds", "track", "Step")
    assert pd.isna(row["m"])  # not named by a step label: NA, not guessed
    gemm = handmade[(handmade["measure"] == "gemm") & (handmade["device"] == "cpu")]
    assert set(gemm["threads"]) == {8}
    assert set(gemm["m"]) == {1024, 2048}
    cuda = handmade[(handmade["measure"] == "gemm") & (handmade["device"] == "cuda")]
    assert cuda["threads"].isna().all()  # CUDA ceilings name no thread count
    floor = handmade[handmade["measure"] == "floor"].iloc[0]
    assert (floor["point"], floor["device"]) == ("cuda", "cuda")


def test_skipped_points_are_skipped_not_zero(handmade):
    cuda = handmade[(handmade["machine"] == "cpubox") & (handmade["impl"] == "torch-cuda")]
    assert len(cuda) == 6  # 3 sizes x 2 commits
    assert set(cuda["status"]) == {"skipped"}
    assert cuda["value"].isna().all()
    assert cuda["ci_99_a"].isna().all()


def test_null_result_is_failed(tmp_path):
    root = copy(tmp_path)
    path = root / "gpubox" / f"{GPU_FILE}.json"
    data = json.loads(path.read_text())
    data["results"]["bench_step.Step.track_time"][0][2] = None  # numpy at 1024
    data["results"]["bench_ceiling.Gemm.time_matmul"][0] = None  # the whole benchmark failed
    path.write_text(json.dumps(data))
    df = load_results(root)
    gpu = df[df["machine"] == "gpubox"]
    numpy = gpu[(gpu["impl"] == "numpy") & (gpu["batch"] == 1024) & (gpu["measure"] == "time")]
    assert numpy.iloc[0]["status"] == "failed"
    assert math.isnan(numpy.iloc[0]["value"])
    gemm = gpu[gpu["measure"] == "gemm"]
    assert len(gemm) == 4
    assert set(gemm["status"]) == {"failed"}


def test_facts_present_and_absent(handmade):
    gpu = handmade[handmade["machine"] == "gpubox"].iloc[0]
    assert gpu["fact_physical_cores"] == 8
    assert gpu["fact_gpu_name"] == "Test GPU"
    assert gpu["asv_arch"] == "x86_64"
    cpu = handmade[handmade["machine"] == "cpubox"]  # no ffbench_facts
    for fact in FACTS:
        assert cpu[f"fact_{fact}"].isna().all()


def test_two_machines_two_commits():
    df = load_results(FIXTURES / "two")
    assert df["machine"].nunique() == 2
    assert df.groupby("machine", observed=True)["commit"].nunique().tolist() == [2, 2]
    derived = df[df["machine"] == "lab-copy"]
    assert set(derived["fact_physical_cores"].dropna()) == {8}


def test_disturbed_flags_from_the_newest_run(handmade):
    time = handmade[(handmade["machine"] == "gpubox") & (handmade["measure"] == "time")]
    flagged = time[time["disturbed"]]
    # numpy at 1024: one of the newest run's two lines says disturbed.
    assert flagged["point"].tolist() == ["numpy/1024x1000x100x10/float32/squared-relu/8t"]
    assert flagged.iloc[0]["disturbed_why"] == "reference 1.4x"
    # numpy at 256: disturbed in an older run only, so not disturbed now.
    at256 = time[time["point"] == "numpy/256x1000x100x10/float32/squared-relu/8t"].iloc[0]
    assert (at256["disturbed"], at256["flags_known"]) == (False, True)
    # No sidecar line (another benchmark, another machine): not disturbed, flags unknown.
    other = handmade[(handmade["machine"] == "labbox") | (handmade["measure"] != "time")]
    assert not other["disturbed"].any()
    assert not other["flags_known"].any()


def test_broken_files_are_warned_by_name_and_skipped():
    with pytest.warns(ResultsWarning) as record:
        df = load_results(FIXTURES / "broken")
    messages = [str(w.message) for w in record]
    for kind, why in (
        ("truncated", "not valid JSON"),
        ("nonjson", "not valid JSON"),
        ("wrongversion", "version 1, expected 2"),
        ("oddshape", "9 points but a result of another length"),
        ("notobject", "expected a JSON object"),
        ("nullcommit", "commit_hash is None, not a commit hash"),
    ):
        assert any("skipping " in m and f"-{kind}.json" in m and why in m for m in messages), kind
    assert any("oldbox/machine.json" in m and "facts unknown" in m for m in messages)
    assert any("nomachine has results but no machine.json" in m for m in messages)
    assert any(
        "-badlabel.json: bench_step.Memory.peakmem_step left out: point label "
        "'numpy/64x1000/float32' is invalid" in m
        for m in messages
    )
    assert any(".jsonl line 5 skipped" in m for m in messages)
    assert any("badbox" in m and "3 impossible values" in m for m in messages)
    assert len(messages) == 11
    # The good files still load, including the machines with a broken or no machine.json.
    assert set(df["machine"]) == {"gpubox", "oldbox", "nomachine", "badbox"}
    assert set(df.loc[df["machine"] == "gpubox", "commit"]) == {"c" * 40, "3" * 40}
    assert df.loc[df["machine"] == "oldbox", "fact_cpu_model"].isna().all()
    badlabel = df[df["commit"] == "3" * 40]
    assert not (badlabel["measure"] == "peakmem").any()  # that benchmark, and only it, left out
    assert (badlabel["measure"] == "time").sum() == 9
    # The flags file's good lines still count despite its broken one.
    assert df.loc[(df["machine"] == "gpubox") & (df["commit"] == "c" * 40), "disturbed"].sum() == 1


def test_impossible_values_are_bad_never_numbers():
    with pytest.warns(ResultsWarning):
        df = load_results(FIXTURES / "broken")
    bad = df[df["machine"] == "badbox"]
    assert sorted(bad.loc[bad["status"] == "bad", "point"]) == [
        "numpy/1024x1000x100x10/float32/squared-relu/2t",  # negative
        "numpy/256x1000x100x10/float32/squared-relu/2t",  # zero
        "torch-cpu/64x1000x100x10/float32/squared-relu/2t",  # infinite
    ]
    assert bad.loc[bad["status"] == "bad", "value"].isna().all()
    assert bad.loc[bad["status"] == "bad", "ci_99_a"].isna().all()


def test_every_file_bad_names_them(tmp_path):
    root = tmp_path / "r"
    (root / "box").mkdir(parents=True)
    shutil.copy(FIXTURES / "handmade" / "benchmarks.json", root)
    (root / "box" / "machine.json").write_text('{"machine": "box", "version": 1}')
    (root / "box" / "aaaa-env.json").write_text("{")
    (root / "box" / "bbbb-env.json").write_text("[]")
    with pytest.warns(ResultsWarning), pytest.raises(ResultsError) as exc:
        load_results(root)
    text = str(exc.value)
    assert "every file skipped" in text
    assert "aaaa-env.json (not valid JSON" in text
    assert "bbbb-env.json (expected a JSON object" in text


def test_old_layout_gives_one_note(tmp_path):
    root = copy(tmp_path)
    shutil.copytree(FIXTURES / "old" / "ffbench-ci", root / "ffbench-ci")
    with pytest.warns(ResultsWarning) as record:
        df = load_results(root)
    assert len(record) == 1
    (note,) = [str(w.message) for w in record]
    assert note.startswith("left out 2 benchmarks in 1 file that benchmarks.json does not")
    assert "results from before point labels are not comparable with the current protocol" in note
    assert "ffbench-ci" not in set(df["machine"])


def test_only_old_layout_is_an_error():
    with pytest.raises(ResultsError, match="only results from before point labels"):
        load_results(FIXTURES / "old")


def test_flags_line_of_another_shape_is_skipped(tmp_path):
    root = copy(tmp_path)
    flags = root / "gpubox" / "ffbench-flags" / f"{GPU_FILE}.jsonl"
    flags.write_text(flags.read_text() + '["not", "an object"]\n{"run": "x"}\n')
    with pytest.warns(ResultsWarning) as record:
        load_results(root)
    assert [str(w.message).split(" skipped")[0][-6:] for w in record] == ["line 5", "line 6"]


def test_the_rounds_that_decide_a_point_flag_it(tmp_path):
    """A clean round that outweighs the pool overrules the lines before it; a round set aside
    flags nothing; a whole-run flag added after the rounds flags the point."""
    rounds = {
        "overruled": [{"disturbed": True}, {"disturbed": False, "overrules_earlier_rounds": True}],
        "set aside": [{"disturbed": False}, {"disturbed": True, "set_aside": True}],
        "two rounds": [{"disturbed": False}, {"disturbed": True, "why": "busy"}],
        "whole run": [
            {"disturbed": True},
            {"disturbed": False, "overrules_earlier_rounds": True},
            {"disturbed": True, "why": "the whole run ran slow"},
        ],
    }
    lines = [
        {"run": "r1", "benchmark": "b", "point": point, **fields}
        for point, fields_of_rounds in rounds.items()
        for fields in fields_of_rounds
    ]
    path = tmp_path / "flags.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    found, problems = read_flags(path)
    assert problems == []
    assert {point: (f.disturbed, f.why) for (_, point), f in found.items()} == {
        "overruled": (False, ""),
        "set aside": (False, ""),
        "two rounds": (True, "busy"),
        "whole run": (True, "the whole run ran slow"),
    }


def test_cache_is_used_and_invalidated(tmp_path):
    root = copy(tmp_path)
    cache = tmp_path / "cache"
    first = load_results(root, cache)
    assert len(list(cache.iterdir())) == 1
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    again = load_results(root, cache)
    pd.testing.assert_frame_equal(first, again)
    # A changed file (new size and time) is parsed again, not taken from the cache.
    path = root / "gpubox" / f"{GPU_FILE}.json"
    data = json.loads(path.read_text())
    data["results"]["bench_step.Step.track_time"][0][0] = 123.0
    path.write_text(json.dumps(data))
    os.utime(path, ns=(before[path] + 10**9, before[path] + 10**9))
    changed = load_results(root, cache)
    numpy64 = changed[changed["point"] == "numpy/64x1000x100x10/float32/squared-relu/8t"]
    assert numpy64.loc[numpy64["measure"] == "time", "value"].tolist() == [123.0]
    # An added file appears.
    shutil.copy(path, path.with_name(f"{'9' * 40}-existing-py_usr_bin_python3.json"))
    assert len(load_results(root, cache)) == len(changed) + 22


def test_cache_never_inside_the_results(tmp_path):
    root = copy(tmp_path)
    before = sorted(p.name for p in root.rglob("*"))
    load_results(root, root / "cache")
    assert sorted(p.name for p in root.rglob("*")) == before


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "does not exist; run `nox -s bench`"),
        ("file", "is a file, not a directory"),
        ("loop", "is a symlink loop"),
        ("no_benchmarks", "benchmarks.json not found"),
        ("bad_benchmarks", "benchmarks.json is unusable"),
        ("empty", "no asv results under"),
    ],
)
def test_unusable_results_dir(tmp_path, setup, message):
    root = tmp_path / "results"
    if setup not in ("missing", "file", "loop"):
        shutil.copytree(FIXTURES / "handmade", root)
    if setup == "file":
        root.write_text("{}")
    if setup == "loop":
        (tmp_path / "other").symlink_to(root)
        root.symlink_to(tmp_path / "other")
    if setup == "no_benchmarks":
        (root / "benchmarks.json").unlink()
    if setup == "bad_benchmarks":
        (root / "benchmarks.json").write_text("{")
    if setup == "empty":
        for d in ("cpubox", "gpubox", "labbox"):
            shutil.rmtree(root / d)
    with pytest.raises(ResultsError, match=message.replace("`", ".")):
        load_results(root)


def test_parallel_parsing_gives_the_same_frame(monkeypatch, handmade):
    """Parsing in forked processes (a long history) gives what parsing in one gives."""
    monkeypatch.setattr("reports.parse._CHUNK", 1)  # 4 files are then enough to fork for
    pd.testing.assert_frame_equal(load_results(FIXTURES / "handmade"), handmade)
