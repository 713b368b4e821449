"""Presentation: figures carry the expected lines and labels; tables and pages are complete."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reports import figures, gpu, stats, summary, sweeps, tables
from reports.load import load_results
from reports.report import build

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return stats.latest(load_results(FIXTURES / "handmade"))


@pytest.fixture(scope="module")
def pts(df) -> pd.DataFrame:
    return stats.points(df)


def labels(ax) -> list[str]:
    return ax.get_legend_handles_labels()[1]


def test_speedup_figure_lines_and_reference(pts, df):
    sp = sweeps.assign(stats.speedup(pts, "numpy", stats.paired(df)))
    fig = figures.speedup_figure(sp, "batch-float32-8t")
    (gpubox,) = fig.axes
    assert gpubox.get_title() == "gpubox"
    assert labels(gpubox) == ["torch-cpu", "torch-cuda", "numpy (1x)"]  # baseline not a line
    assert gpubox.get_xscale() == "log"
    assert gpubox.get_xlabel() == "batch size"
    assert gpubox.get_ylabel() == "speedup over numpy (×)"
    ref = next(ln for ln in gpubox.get_lines() if ln.get_label() == "numpy (1x)")
    assert list(ref.get_ydata()) == [1.0, 1.0]
    cuda = next(ln for ln in gpubox.get_lines() if ln.get_label() == "torch-cuda")
    assert list(cuda.get_xdata()) == [64, 256, 1024]
    assert list(cuda.get_ydata()) == pytest.approx([0.5, 4.0, 32.0])
    cpu = next(ln for ln in gpubox.get_lines() if ln.get_label() == "torch-cpu")
    assert list(cpu.get_ydata()) == pytest.approx([1.25, 2.0, 1 / 0.45])  # paired at 1024
    assert "Speedup over numpy" in fig.get_suptitle()
    assert "batch sweep — d_in 1000, hidden 100, float32, 8 threads" in fig.get_suptitle()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == labels(gpubox)


def test_machines_side_by_side_share_a_sweep():
    two = load_results(FIXTURES / "two")
    sp = sweeps.assign(stats.speedup(stats.points(stats.latest(two))))
    fig = figures.speedup_figure(sp, "batch-float32-8t")
    assert [ax.get_title() for ax in fig.axes] == ["gpubox", "lab-copy"]


def test_gain_figure_states_cpu_side_and_unfairness(pts):
    gain = gpu.gpu_gain(pts)
    cross = gpu.crossovers(gain)
    fig = figures.gain_figure(sweeps.assign(gain), cross, "batch-float32-8t")
    (gpubox,) = fig.axes
    assert gpubox.get_title() == "gpubox\nCPU side: 8 threads of 8 cores, float32"
    assert [t.get_text() for t in gpubox.texts if "UNEQUAL" in t.get_text()] == []
    assert "torch-cuda crossover ≈ 141" in [t.get_text() for t in gpubox.texts]
    fig = figures.gain_figure(sweeps.assign(gain), cross, "batch-float32-1t")
    (labbox,) = fig.axes
    assert labbox.get_title() == "labbox\nCPU side: 1 thread of 8 cores, float32"
    assert "UNEQUAL: CPU on 1 of 8 cores" in [t.get_text() for t in labbox.texts]


def test_gflops_figure_draws_the_peak_at_the_same_threads(pts, df):
    peaks = stats.ceilings(df)
    fig = figures.gflops_figure(sweeps.assign(stats.throughput(pts, peaks)), peaks,
                                "batch-float32-8t")  # fmt: skip
    (gpubox,) = fig.axes
    ceilings = sorted(ln.get_ydata()[0] for ln in gpubox.get_lines() if ln.get_linestyle() == "--")
    assert ceilings == pytest.approx([125.0, 4e4])
    assert "cuda float32 peak 40,000 GFLOP/s" in [t.get_text() for t in gpubox.texts]
    assert gpubox.get_ylabel() == "GFLOP/s (one training step)"


def test_history_figure_draws_the_last_commits_and_states_the_range():
    base = {"machine": "m", "env": "e", "impl": "numpy", "threads": 1, "dtype": "float32",
            "status": "ok", "batch": 64}  # fmt: skip
    rows = pd.DataFrame(
        [
            {**base, "commit": f"{i:040x}", "date": pd.Timestamp(1_700_000_000 + i * 3600, unit="s",
                                                                  tz="UTC"),
             "time_s": 1e-3 * (1 + i / 100)}
            for i in range(120)
        ]
    )  # fmt: skip
    fig = figures.history_figure(rows, {"batch": 64}, last=50)
    (ax,) = fig.axes
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "numpy"]
    assert len(line.get_xdata()) == 50
    assert line.get_ydata()[-1] == pytest.approx(1e3 * 1e-3 * (1 + 119 / 100))
    assert ax.get_xlabel() == "commit (last 50 of 120, oldest left)"
    assert "120 commits" in ax.get_title()
    assert "all commits: 1 to 2.19 ms" in ax.get_title()


def test_speedup_table_columns_and_markdown(pts, df):
    sp = stats.speedup(pts, "numpy", stats.paired(df))
    table = tables.speedup_table(sp)
    required = ["machine", "commit", "env", "point", "impl", "dtype", "threads", "batch", "d_in",
                "hidden", "d_out", "time_s", "baseline_impl", "baseline_time_s", "speedup"]  # fmt: skip
    assert list(table.columns[: len(required)]) == required
    assert len(table) == len(sp)
    text = tables.markdown(tables.speedup_view(sp[sp["machine"] != "cpubox"]))
    lines = text.splitlines()
    assert lines[0].startswith("| machine | commit | impl | dtype |")
    row = "| gpubox | cccccccc | torch-cpu | float32 | 8 |"
    assert f"{row} 256×1000×100×10 | 2 ms | 2x [1.64–2.44] |" in text
    assert f"{row} 1024×1000×100×10 | 8 ms | 2.22x [2.02–2.47] paired |" in text
    assert "| gpubox | cccccccc | torch-cuda | float32 | 8 | 1024×1000×100×10 | 500 µs |" in text
    # cpubox's torch-cuda points: in the CSV as skipped, never as a speed; left out of the view.
    cpu_cuda = table[(table["machine"] == "cpubox") & (table["impl"] == "torch-cuda")]
    assert set(cpu_cuda["status"]) == {"skipped"}
    assert cpu_cuda["speedup"].isna().all()
    assert "| cpubox | bbbbbbbb | torch-cuda |" not in tables.markdown(tables.speedup_view(sp))


def test_flags_are_marked_in_the_view(pts):
    sp = stats.speedup(pts)
    baseline = tables.speedup_view(sp.assign(baseline_impl="torch-cpu"))
    disturbed = baseline[(baseline["machine"] == "gpubox") & (baseline["impl"] == "numpy")]
    assert disturbed["time"].tolist() == ["1 ms", "4 ms", "16 ms ~"]


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
    assert "GPU gain over the best CPU implementation" in report.summary


def test_fmt_helpers():
    assert tables.fmt_time(1.5e-4) == "150 µs"
    assert tables.fmt_time(2.0) == "2 s"
    assert tables.fmt_time(float("nan")) == "—"
    assert tables.fmt_ratio(3.2, 2.9, 3.5) == "3.2x [2.9–3.5]"
    assert tables.markdown(pd.DataFrame({"a": ["x|y"]})) == "| a |\n|---|\n| x\\|y |"


def test_size_of_a_missing_value():
    """An exercise point has no swept size: its x is pd.NA, which used to raise TypeError."""
    assert summary._size(pd.NA) == "n/a"
    assert summary._size(float("nan")) == "n/a"
    assert summary._size(None) == "n/a"
    assert summary._size(1024) == "1024"


def test_exercise_rows_show_their_cost_and_activation(pts):
    sp = stats.speedup(pts)
    view = tables.speedup_view(sp)
    assert list(view.columns[5:7]) == ["B×D×H×O", "cost, act"]
    assert set(view["cost, act"]) == {"squared, relu", "exp, sigmoid"}
    one = tables.speedup_view(sp[sp["machine"] == "gpubox"])
    assert "cost, act" not in one.columns  # one cost and activation only


def test_two_environments_of_one_commit_are_two_lines(pts):
    gpubox = pts[pts["machine"] == "gpubox"]
    other = gpubox.assign(env="existing-py_work_main_.nox_bench_bin_python")
    sp = sweeps.assign(stats.speedup(pd.concat([gpubox, other])))
    fig = figures.speedup_figure(sp, "batch-float32-8t")
    assert labels(fig.axes[0]) == [
        "torch-cpu, env usr",
        "torch-cpu, env work_main_.nox_bench",
        "torch-cuda, env usr",
        "torch-cuda, env work_main_.nox_bench",
        "numpy (1x)",
    ]


def test_runs_table_counts_statuses_and_flags(df):
    report = build(df)
    runs = report.runs.set_index("machine")
    assert (runs.loc["gpubox", "ok"], runs.loc["gpubox", "disturbed"]) == (22, 1)
    assert runs.loc["gpubox", "flags_unknown"] == 20  # the sidecar names 2 of its 22 points
    assert (runs.loc["cpubox", "skipped"], runs.loc["cpubox", "flags_unknown"]) == (3, 11)
    for table in report.tables:
        assert "env" in table.data.columns or "env_new" in table.data.columns, table.name


def test_history_is_drawn_where_there_are_several_commits():
    """labbox has one-thread points but one commit; the history is cpubox's (two threads)."""
    everything = load_results(FIXTURES / "handmade")
    report = build(stats.latest(everything), everything)
    (plot,) = [p for p in report.plots if p.name == "history"]
    (ax,) = plot.figure.axes
    assert ax.get_title().startswith("cpubox: 2 commits")
    assert labels(ax) == ["numpy", "torch-cpu"]
