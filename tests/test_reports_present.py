"""Presentation: figures carry the expected lines and labels; tables and pages are complete."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reports import figures, stats, tables
from reports.load import load_results
from reports.report import build

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def st() -> pd.DataFrame:
    return stats.steps(stats.latest(load_results(FIXTURES / "handmade")))


def labels(ax) -> list[str]:
    return ax.get_legend_handles_labels()[1]


def test_speedup_figure_lines_and_reference(st):
    fig = figures.speedup_figure(stats.speedup(st), "QuickBatch")
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["cpubox", "gpubox", "labbox"]
    gpubox = axes[1]
    assert labels(gpubox) == ["torch-cpu", "torch-cuda", "numpy (1x)"]  # baseline not a line
    assert gpubox.get_xscale() == "log"
    assert gpubox.get_xlabel() == "batch size"
    assert gpubox.get_ylabel() == "speedup over numpy (×)"
    ref = next(ln for ln in gpubox.get_lines() if ln.get_label() == "numpy (1x)")
    assert list(ref.get_ydata()) == [1.0, 1.0]
    cuda = next(ln for ln in gpubox.get_lines() if ln.get_label() == "torch-cuda")
    assert list(cuda.get_xdata()) == [64, 256, 1024]
    assert list(cuda.get_ydata()) == pytest.approx([0.5, 4.0, 32.0])
    assert "Speedup over numpy" in fig.get_suptitle()


def test_gain_figure_states_cpu_side_and_unfairness(st):
    gain = stats.gpu_gain(st)
    fig = figures.gain_figure(gain, stats.crossovers(gain), "QuickBatch")
    gpubox, labbox = fig.axes
    assert gpubox.get_title() == "gpubox\nCPU side: 8 threads of 8 cores, float32"
    assert labbox.get_title() == "labbox\nCPU side: 1 thread of 8 cores, float32"
    assert [t.get_text() for t in gpubox.texts if "UNEQUAL" in t.get_text()] == []
    assert "UNEQUAL: CPU on 1 of 8 cores" in [t.get_text() for t in labbox.texts]
    marks = [t.get_text() for t in gpubox.texts]
    assert "torch-cuda crossover ≈ 141" in marks


def test_gflops_figure_draws_the_peak(st):
    df = load_results(FIXTURES / "handmade")
    peaks = stats.ceilings(df)
    fig = figures.gflops_figure(stats.throughput(st, peaks), peaks, "QuickBatch")
    gpubox = fig.axes[1]
    ceilings = sorted(ln.get_ydata()[0] for ln in gpubox.get_lines() if ln.get_linestyle() == "--")
    assert ceilings == pytest.approx([125.0, 4e4])
    assert "cuda float32 peak 40,000 GFLOP/s" in [t.get_text() for t in gpubox.texts]
    assert gpubox.get_ylabel() == "GFLOP/s (one training step)"


def test_speedup_table_columns_and_markdown(st):
    sp = stats.speedup(st)
    table = tables.speedup_table(sp)
    required = ["machine", "commit", "benchmark", "impl", "dtype", "threads", "batch", "d_in",
                "hidden", "d_out", "time_s", "baseline_impl", "baseline_time_s", "speedup"]  # fmt: skip
    assert list(table.columns[: len(required)]) == required
    assert len(table) == len(sp)
    text = tables.markdown(tables.speedup_view(sp))
    lines = text.splitlines()
    assert lines[0].startswith("| machine | commit | sweep | impl |")
    assert "| gpubox | cccccccc | QuickBatch | torch-cpu | float32 | 8 | 1024×1000×100×10 |" in text
    assert "2x [1.64–2.44]" in text
    # cpubox's torch-cuda points: in the CSV as skipped, never as a speed; left out of the view.
    cpu_cuda = table[(table["machine"] == "cpubox") & (table["impl"] == "torch-cuda")]
    assert set(cpu_cuda["status"]) == {"skipped"}
    assert cpu_cuda["speedup"].isna().all()
    assert "| cpubox | bbbbbbbb | QuickBatch | torch-cuda |" not in text


def test_report_for_two_machines_two_commits_has_history_and_side_by_side():
    df = load_results(FIXTURES / "two")
    report = build(stats.latest(df), df)
    names = [p.name for p in report.plots]
    assert "history" in names
    assert "machines" in names
    speedups = [p for p in report.plots if p.name.startswith("speedup_")]
    assert speedups
    assert all(len(p.figure.axes) == 2 for p in speedups)
    assert "changes" in [t.name for t in report.tables]
    assert "no CUDA results on this machine" in report.summary


def test_fmt_helpers():
    assert tables.fmt_time(1.5e-4) == "150 µs"
    assert tables.fmt_time(2.0) == "2 s"
    assert tables.fmt_time(float("nan")) == "—"
    assert tables.fmt_ratio(3.2, 2.9, 3.5) == "3.2x [2.9–3.5]"
    assert tables.markdown(pd.DataFrame({"a": ["x|y"]})) == "| a |\n|---|\n| x\\|y |"


def test_exercise_rows_show_their_cost_and_activation(st):
    sp = stats.speedup(st)
    assert "cost, act" not in tables.speedup_view(sp).columns  # one cost and activation only
    exp = sp[sp["machine"] == "gpubox"].assign(loss="exp", activation="sigmoid")
    view = tables.speedup_view(pd.concat([sp, exp], ignore_index=True))
    assert list(view.columns[6:8]) == ["B×D×H×O", "cost, act"]
    assert set(view["cost, act"]) == {"squared, relu", "exp, sigmoid"}


def test_two_environments_of_one_commit_are_two_lines(st):
    gpubox = st[st["machine"] == "gpubox"]
    other = gpubox.assign(env="existing-py_work_main_.nox_bench_bin_python")
    fig = figures.speedup_figure(stats.speedup(pd.concat([gpubox, other])), "QuickBatch")
    assert labels(fig.axes[0]) == [
        "torch-cpu, env usr",
        "torch-cpu, env work_main_.nox_bench",
        "torch-cuda, env usr",
        "torch-cuda, env work_main_.nox_bench",
        "numpy (1x)",
    ]
