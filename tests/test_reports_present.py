"""Presentation: figures carry the expected lines and labels; tables and pages are complete."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import impls
from reports import figures, gpu, pages, stats, summary, sweeps, tables
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
    ceilings = sorted(ln.get_ydata()[0] for ln in gpubox.get_lines() if ln.get_gid() == "peak")
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


@pytest.fixture(scope="module")
def two_report():
    two = load_results(FIXTURES / "two")
    return build(stats.latest(two), two)


def line_colors(report) -> dict[str, set[str]]:
    """Each legend label's line colours across every figure of ``report``."""
    seen: dict[str, set[str]] = {}
    for plot in report.plots:
        for ax in plot.figure.axes:
            for ln in ax.get_lines():
                if not ln.get_label().startswith("_"):
                    seen.setdefault(ln.get_label(), set()).add(ln.get_color())
    return seen


def test_every_implementation_has_its_own_style_in_every_figure(two_report):
    styles = {name: figures.impl_style(name) for name in impls.names()}
    assert all(s["color"] != figures.UNKNOWN_STYLE[0] for s in styles.values()), styles
    look = {(s["color"], s["marker"], s["markerfacecolor"]) for s in styles.values()}
    assert len(look) == len(styles)  # no two implementations drawn alike
    family = {
        n: figures.impl_style(n)["color"] for n in ("autograd-cpu", "nn-cpu", "custom-fn-cpu")
    }
    assert len(set(family.values())) == 3  # the three that used to look alike
    assert styles["torch-cpu"]["color"] == styles["torch-cuda"]["color"]
    assert styles["torch-cuda"]["markerfacecolor"] == "white"  # CUDA: hollow
    colors = line_colors(two_report)
    for name in ("numpy", "torch-cpu", "torch-cuda"):
        assert colors[name] == {figures.impl_color(name)}, name


def test_figures_share_one_size_and_a_legend_below_the_panels(two_report):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for plot in two_report.plots:
        fig = plot.figure
        assert tuple(fig.get_size_inches()) == (figures.FIG_WIDTH, figures.FIG_HEIGHT), plot.name
        (legend,) = fig.legends
        assert [ax.get_legend() for ax in fig.axes] == [None] * len(fig.axes)
        renderer = FigureCanvasAgg(fig).get_renderer()
        top = legend.get_window_extent(renderer).y1
        for ax in fig.axes:
            assert top < ax.get_tightbbox(renderer).y0, plot.name  # under the tick labels


def test_figure_titles_are_words(two_report):
    """No benchmark's class or method name (bench_step.Step.track_time, LaunchFloor), no
    CamelCase, no sweep id: a title says in words what is drawn."""
    names = set(load_results(FIXTURES / "two")["benchmark"].astype(str))
    parts = {p for n in names for p in n.split(".")[1:]}
    code = {p for p in parts if "_" in p or p[1:] != p[1:].lower()}  # track_time, LaunchFloor
    assert "LaunchFloor" in code
    for plot in two_report.plots:
        for text in (plot.title, plot.figure.get_suptitle()):
            assert not re.search(r"\b[A-Z][a-z]+[A-Z]\w*|[A-Za-z]\.[A-Za-z]", text), text
            assert not [p for p in code if p in text], text
            assert not re.search(r"\b\w+-float\d+-\d+t\b", text), text  # no sweep ids
        if plot.name.startswith(("speedup_", "gpu_gain_", "gflops_")):
            assert "sweep — " in plot.figure.get_suptitle()


def test_wide_intervals_are_whiskers_cut_at_the_panel(pts, df):
    sp = sweeps.assign(stats.speedup(pts, "numpy", stats.paired(df)))
    cuda = sp["impl"] == "torch-cuda"
    noisy = sp.assign(speedup_lo=sp["speedup_lo"].mask(cuda, 2e-4),
                      speedup_hi=sp["speedup_hi"].mask(cuda, 1e4))  # fmt: skip
    (ax,) = figures.speedup_figure(noisy, "batch-float32-8t").axes
    assert not [c for c in ax.collections if type(c).__name__ == "PolyCollection"]  # no bands
    lo, hi = ax.get_ylim()
    # torch-cuda's speedups run from 0.5 to 32: the panel shows them, not 0.0002 to 10000
    assert lo == pytest.approx(0.5 / 3 / 1.15)
    assert hi == pytest.approx(32 * 3 * 1.15)
    whiskers = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    assert len(whiskers) == 2  # one per implementation drawn


def test_gflops_points_carry_their_interval(pts, df):
    peaks = stats.ceilings(df)
    th = sweeps.assign(stats.throughput(pts, peaks))
    (ax,) = figures.gflops_figure(th, peaks, "batch-float32-8t").axes
    row = th[(th["sweep"] == "batch-float32-8t") & (th["impl"] == "torch-cuda") & (th["x"] == 1024)]
    lo = float(row["flops"].iloc[0] / row["time_hi"].iloc[0] / 1e9)
    hi = float(row["flops"].iloc[0] / row["time_lo"].iloc[0] / 1e9)
    ends = [seg[:, 1] for c in ax.collections for seg in c.get_segments()]
    assert any(e[0] == pytest.approx(lo) and e[1] == pytest.approx(hi) for e in ends)
    (label,) = [t for t in ax.texts if "cuda float32 peak" in t.get_text()]
    assert label.get_fontsize() >= figures.FONT
    assert label.get_bbox_patch() is not None  # a white ground under the text


def test_a_lone_point_is_drawn_large(pts, df):
    sp = sweeps.assign(stats.speedup(pts, "numpy", stats.paired(df)))
    one = sp[~((sp["impl"] == "torch-cuda") & (sp["x"] != 256))]
    (ax,) = figures.speedup_figure(one, "batch-float32-8t").axes
    (cuda,) = [ln for ln in ax.get_lines() if ln.get_label() == "torch-cuda"]
    assert cuda.get_markersize() == figures.LONE_MARKER_SIZE


def test_machine_block_states_run_date_and_ram_in_gib(df):
    view = tables.machines_view(df).set_index("machine")
    gpubox = df[df["machine"] == "gpubox"]
    ran = gpubox["run_date"].max()
    assert view.loc["ran", "gpubox"] == f"{ran:%Y-%m-%d %H:%M} UTC"
    assert ran.floor("min") != gpubox["date"].iloc[0].floor("min")  # not the commit's date
    assert view.loc["RAM", "gpubox"] == "61 MiB"  # asv's 64000000 bytes
    assert view.loc["GPU", "gpubox"] == "Test GPU"
    assert view.loc["GPU", "cpubox"] == "—"  # no facts: unknown, not 'none'
    assert view.loc["threads measured", "labbox"] == "1, 8"
    assert view.loc["address layout", "gpubox"].startswith("fixed (address randomisation off")
    assert view.loc["address layout", "cpubox"] == "—"
    assert tables.fmt_gib("25276510208") == "23.5 GiB"
    assert tables.fmt_gib(None) == tables.fmt_gib("") == "—"


def test_page_puts_the_machine_first_and_every_table_in_a_box(two_report):
    page = pages.render_html(two_report, {p.name: b"png" for p in two_report.plots})
    assert page.index("Where and when it ran") < page.index("<table")
    assert page.index("Derived CPU") < page.index("<h2>Summary")
    assert "64000000" not in page
    assert "61 MiB" in page
    boxed = len(re.findall(r'<div class="(?:wide|scroll)"><table', page))
    assert boxed == page.count("<table") > 3
    bodies = re.findall(r"<tbody>(.*?)</tbody>", page, re.DOTALL)
    assert [b for b in bodies if "<th" in b] == []  # no stray, empty row-header column
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)  # works offline
    md = pages.render_markdown(two_report)
    assert md.index("## Where and when it ran") < md.index("## Summary")
