"""A synthetic history (tools/synthetic_history.py) in asv's layout, and reports over it."""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

import pandas as pd
import pytest

from reports import stats
from reports.cli import main
from reports.load import load_results

FIXTURES = Path(__file__).parent / "fixtures"
TOOL = Path(__file__).parent.parent / "tools" / "synthetic_history.py"


def synthetic():
    spec = importlib.util.spec_from_file_location("synthetic_history", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("hist") / "results"
    with contextlib.redirect_stdout(io.StringIO()):
        assert synthetic().main([str(FIXTURES / "handmade"), str(dest), "--commits", "6",
                                 "--machines", "2"]) == 0  # fmt: skip
    return dest


def test_layout_commits_and_dates(history):
    df = load_results(history)
    assert sorted(set(df["machine"])) == ["cpubox-synth0", "cpubox-synth1"]
    runs = df[["machine", "commit", "date"]].drop_duplicates()
    assert runs.groupby("machine", observed=True)["commit"].nunique().tolist() == [6, 6]
    for _, one in runs.groupby("machine", observed=True):
        assert one.sort_values("date")["date"].diff().dropna().eq(pd.Timedelta(hours=1)).all()
    assert (history / "cpubox-synth0" / "machine.json").is_file()


def test_noise_is_small_and_deterministic(history, tmp_path):
    df = load_results(history)
    source = load_results(FIXTURES / "handmade")
    base = source[(source["machine"] == "cpubox") & (source["commit"] == "b" * 40)]
    base = base.set_index(base["point"].astype(str))["value"]
    ok = df[df["status"] == "ok"]
    ratio = ok["value"].to_numpy() / base.loc[ok["point"].astype(str)].to_numpy()
    assert 0.95 < ratio.min() < 1 < ratio.max() < 1.05
    again = tmp_path / "again"
    with contextlib.redirect_stdout(io.StringIO()):
        synthetic().main([str(FIXTURES / "handmade"), str(again), "--commits", "6",
                          "--machines", "2"])  # fmt: skip
    for path in history.rglob("*.json"):
        assert path.read_bytes() == (again / path.relative_to(history)).read_bytes()


def test_report_over_the_history(history, tmp_path, capsys):
    rc = main(["--results", str(history), "--out", str(tmp_path / "o")])
    assert rc == 0
    names = {p.name for p in (tmp_path / "o").iterdir()}
    assert "history.png" in names
    assert "cpubox-synth1 (commit " in capsys.readouterr().out
    ch = stats.changes(stats.points(load_results(history)))
    assert len(ch) == 2 * 5 * 8  # 2 machines, 5 consecutive pairs, 8 measured points
    assert set(ch["change"]) == {"same"}  # 1% noise is no change
