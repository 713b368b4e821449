"""The loader on stored asv results: a real run, hand-made files, two machines, broken files."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import impls
from reports.load import COLUMNS, FACTS, ResultsError, ResultsWarning, load_results

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def handmade() -> pd.DataFrame:
    return load_results(FIXTURES / "handmade")


def test_real_run_loads_with_the_schema():
    df = load_results(FIXTURES / "real")
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert set(df["status"]) <= {"ok", "skipped", "failed"}
    assert (df["status"] == "ok").any()
    steps = df[df["benchmark"].str.startswith("bench_step.")]
    assert not steps.empty
    assert set(steps["impl"].dropna()) <= set(impls.names())
    assert str(df["batch"].dtype) == "Int64"
    assert df["date"].dt.tz is not None
    # Only ok points carry a value; skipped and failed ones are NaN, never 0.
    assert df.loc[df["status"] != "ok", "value"].isna().all()
    assert df.loc[df["status"] == "ok", "value"].gt(0).all()


def test_params_are_parsed_from_their_repr(handmade):
    row = handmade[
        (handmade["machine"] == "gpubox")
        & (handmade["impl"] == "torch-cuda")
        & (handmade["batch"] == 1024)
    ].iloc[0]
    assert row["impl"] == "torch-cuda"  # "'torch-cuda'" in the file
    assert isinstance(row["batch"], (int, np.integer))
    assert row["batch"] == 1024
    assert row["threads"] == 8
    assert row["value"] == pytest.approx(0.5e-3)
    assert row["ci_99_a"] == pytest.approx(0.45e-3)
    assert row["ci_99_b"] == pytest.approx(0.55e-3)
    assert row["q_25"] == pytest.approx(0.49e-3)
    assert int(row["repeat"]) == 10
    assert row["commit"] == "c" * 40
    assert row["unit"] == "seconds"
    assert row["type"] == "time"
    assert row["suite"] == "QuickBatch"
    assert pd.isna(row["d_in"])  # not a parameter of this sweep: NA, not guessed


def test_skipped_points_are_skipped_not_zero(handmade):
    cuda = handmade[(handmade["machine"] == "cpubox") & (handmade["impl"] == "torch-cuda")]
    assert len(cuda) == 6  # 3 sizes x 2 commits
    assert set(cuda["status"]) == {"skipped"}
    assert cuda["value"].isna().all()
    assert cuda["ci_99_a"].isna().all()


def test_null_result_is_failed(tmp_path):
    root = tmp_path / "r"
    shutil.copytree(FIXTURES / "handmade", root)
    path = next((root / "gpubox").glob("c*.json"))
    data = json.loads(path.read_text())
    data["results"]["bench_step.QuickBatch.time_step"][0][2] = None  # numpy at 1024
    data["results"]["bench_ceiling.Gemm.time_matmul"][0] = None  # the whole benchmark failed
    path.write_text(json.dumps(data))
    df = load_results(root)
    gpu = df[df["machine"] == "gpubox"]
    numpy = gpu[(gpu["impl"] == "numpy") & (gpu["batch"] == 1024)].iloc[0]
    assert numpy["status"] == "failed"
    assert math.isnan(numpy["value"])
    gemm = gpu[gpu["benchmark"] == "bench_ceiling.Gemm.time_matmul"]
    assert len(gemm) == 4
    assert set(gemm["status"]) == {"failed"}


def test_facts_present_and_absent(handmade):
    gpu = handmade[handmade["machine"] == "gpubox"].iloc[0]
    assert gpu["fact_physical_cores"] == 8
    assert gpu["fact_gpu_name"] == "Test GPU"
    assert gpu["asv_arch"] == "x86_64"
    cpu = handmade[handmade["machine"] == "cpubox"]  # older results: no ffbench_facts
    for fact in FACTS:
        assert cpu[f"fact_{fact}"].isna().all()


def test_two_machines_two_commits():
    df = load_results(FIXTURES / "two")
    assert df["machine"].nunique() == 2
    assert df.groupby("machine")["commit"].nunique().tolist() == [2, 2]
    derived = df[df["machine"] == "lab-copy"]
    assert set(derived["fact_physical_cores"].dropna()) == {8}


def test_broken_files_are_warned_by_name_and_skipped():
    with pytest.warns(ResultsWarning) as record:
        df = load_results(FIXTURES / "broken")
    messages = [str(w.message) for w in record]
    for kind, why in (
        ("truncated", "not valid JSON"),
        ("nonjson", "not valid JSON"),
        ("wrongversion", "version 1, expected 2"),
        ("oddshape", "parameter points but a result of another length"),
        ("notobject", "expected a JSON object"),
    ):
        assert any(f"-{kind}.json" in m and why in m for m in messages), kind
    assert any("oldbox/machine.json" in m and "facts unknown" in m for m in messages)
    assert len(messages) == 6
    # The good files still load, including those of the machine with a broken machine.json.
    assert set(df["machine"]) == {"gpubox", "oldbox"}
    assert set(df.loc[df["machine"] == "gpubox", "commit"]) == {"c" * 40}
    assert df.loc[df["machine"] == "oldbox", "fact_cpu_model"].isna().all()


def test_unknown_benchmark_is_warned(tmp_path):
    root = tmp_path / "r"
    shutil.copytree(FIXTURES / "handmade", root)
    bench = json.loads((root / "benchmarks.json").read_text())
    del bench["bench_step.QuickHidden.time_step"]
    (root / "benchmarks.json").write_text(json.dumps(bench))
    with pytest.warns(ResultsWarning, match=r"labbox.*QuickHidden.time_step is not in benchmarks"):
        df = load_results(root)
    assert not (df["suite"] == "QuickHidden").any()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "does not exist; run `nox -s bench`"),
        ("no_benchmarks", "benchmarks.json not found"),
        ("bad_benchmarks", "benchmarks.json is unusable"),
        ("empty", "no asv results under"),
    ],
)
def test_unusable_results_dir(tmp_path, setup, message):
    root = tmp_path / "results"
    if setup != "missing":
        shutil.copytree(FIXTURES / "handmade", root)
    if setup == "no_benchmarks":
        (root / "benchmarks.json").unlink()
    if setup == "bad_benchmarks":
        (root / "benchmarks.json").write_text("{")
    if setup == "empty":
        for d in ("cpubox", "gpubox", "labbox"):
            shutil.rmtree(root / d)
    with pytest.raises(ResultsError, match=message.replace("`", ".")):
        load_results(root)
