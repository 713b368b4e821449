"""Assembly: the tidy DataFrame -> one `Report` in memory (tables, figures, text), no I/O.

`build` runs the statistics, picks the tables and figures that the data supports (no GPU-gain
figure without CUDA points, no history with one commit, no side-by-side with one machine) and
writes the text that says what was compared with what. `reports.write` puts it on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from impls.problem import TUTORIAL_SIZES
from reports import figures, stats, summary, tables


@dataclass
class Table:
    """One table: ``name`` (its CSV file stem), a heading, a sentence, CSV data and text view."""

    name: str
    title: str
    intro: str
    data: pd.DataFrame
    view: pd.DataFrame


@dataclass
class Plot:
    name: str
    title: str
    caption: str
    figure: Figure


@dataclass
class Report:
    summary: str
    method: list[str]
    runs: pd.DataFrame
    facts: pd.DataFrame
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    gpu_summary: str = ""


def method_text(baseline: str) -> list[str]:
    """What was compared with what, one sentence each."""
    return [
        (
            f"Speedup = {baseline}'s time / the implementation's time, at the same machine, commit, "
            "environment, dtype, thread count, cost, activation and sizes; where the baseline has "
            "no such point the speedup is left empty and the note says which point is missing."
        ),
        (
            "Times are asv's medians; intervals are asv's 99% confidence intervals of the median "
            "(the samples' quartiles where asv gives none), combined worst-case for ratios."
        ),
        (
            "GFLOP/s = the step's operations (impls/cost.py: 4BDH + 6BHO + elementwise) / time; "
            "% of peak divides by the fastest GEMM (2mkn / time) of the ceiling benchmark on the "
            "same machine, commit, device and dtype."
        ),
        (
            "GPU gain = the best CPU implementation's time / the CUDA implementation's time at the "
            "same size: the CPU side is the same dtype where measured, at the most threads measured, "
            "all CPU implementations compared at that thread count. A comparison on fewer threads "
            "than the machine's physical cores, or across dtypes, is labelled in 'fairness'."
        ),
        (
            "Crossover = the first measured size from which the GPU wins at every larger size "
            "(interpolated in log-log between the neighbouring points)."
        ),
    ]


def runs_table(df: pd.DataFrame) -> pd.DataFrame:
    """Which machine, commit, date and environment each part of the report comes from."""
    runs = df.groupby(["machine", "commit", "env"], as_index=False).agg(
        date=("date", "first"),
        points=("status", "size"),
        ok=("status", lambda s: int((s == "ok").sum())),
        skipped=("status", lambda s: int((s == "skipped").sum())),
        failed=("status", lambda s: int((s == "failed").sum())),
    )
    runs["date"] = runs["date"].dt.strftime("%Y-%m-%d %H:%M UTC")
    return runs


def facts_table(df: pd.DataFrame) -> pd.DataFrame:
    """Machine and software facts, one column per machine (unknown: '—')."""
    cols = [c for c in df.columns if c.startswith(("fact_", "asv_"))]
    per = df.groupby("machine")[cols].first().T
    per.index = [c.removeprefix("fact_").removeprefix("asv_") for c in per.index]
    per = per[per.notna().any(axis=1)]
    per = per.astype(object).where(per.notna(), "—")
    return per.reset_index(names="fact")


def _common_point(st: pd.DataFrame, across: str) -> dict[str, object] | None:
    """The tutorial point (float32) if measured, else the point measured at the most ``across``."""
    ok = st[(st["status"] == "ok") & st["grid"].notna()]
    if ok.empty:
        return None
    tut = ok
    for k, v in TUTORIAL_SIZES.items():
        tut = tut[tut[k] == v]
    if not tut.empty:
        dtype = "float32" if (tut["dtype"] == "float32").any() else tut["dtype"].iloc[0]
        return {**TUTORIAL_SIZES, "dtype": dtype}
    keys = ["batch", "d_in", "hidden", "d_out", "dtype"]
    counts = ok.groupby(keys)[across].nunique().sort_values(ascending=False, kind="stable")
    return {k: (int(v) if k != "dtype" else v) for k, v in zip(keys, counts.index[0], strict=True)}


def build(df: pd.DataFrame, history: pd.DataFrame | None = None, baseline: str = "numpy") -> Report:
    """The whole report of ``df`` (one commit per machine); ``history``: all commits, if any."""
    st = stats.steps(df)
    peaks = stats.ceilings(df)
    th = stats.throughput(st, peaks)
    sp = stats.speedup(st, baseline)
    gain = stats.gpu_gain(st)
    cross = stats.crossovers(gain)
    texts = [summary.gpu_text(cross, th, m) for m in sorted(set(cross["machine"]))]
    report = Report(
        summary=summary.summary_text(sp, cross, th, baseline),
        method=method_text(baseline),
        runs=runs_table(df),
        facts=facts_table(df),
        gpu_summary="\n".join(t for t in texts if t),
    )
    add = report.tables.append
    if not cross.empty:
        add(
            Table(
                "crossover",
                "GPU crossover per sweep",
                "Where each CUDA implementation starts "
                "to beat the best CPU implementation, and its gain at the largest size.",
                cross,
                tables.crossover_view(cross),
            )
        )
        add(
            Table(
                "gpu_gain",
                "GPU gain per point",
                "Every CUDA point against the best CPU "
                "implementation at equal size; CPU threads and dtype in every row.",
                tables.gain_table(gain),
                tables.gain_view(gain),
            )
        )
    add(
        Table(
            "speedup",
            f"Speedup over {baseline}",
            "One row per measured point and implementation; failed points say so, skipped ones "
            "(not runnable here) are in the CSV only. '!': unstable, the samples' interquartile "
            f"range is {stats.UNSTABLE_IQR:.0%} of the median or more.",
            tables.speedup_table(sp),
            tables.speedup_view(sp),
        )
    )
    add(
        Table(
            "throughput",
            "GFLOP/s and % of measured peak",
            "From the cost model and the same run's GEMM ceiling.",
            tables.throughput_table(th),
            tables.throughput_view(th),
        )
    )
    meas = stats.measurements(df)
    add(
        Table(
            "measurements",
            "All measurements per point",
            "Wall time, CUDA-event device time, peak memory (process RSS on CPU, torch's "
            "allocations on GPU) and the cold first step, side by side.",
            meas,
            tables.measurements_view(meas),
        )
    )
    floors = stats.launch_floor(df)
    add(
        Table(
            "peaks",
            "Measured peaks and launch floors",
            "Fastest GEMM per machine, device and dtype; the time of an empty step.",
            peaks.merge(floors, on=["machine", "commit", "device"], how="outer"),
            tables.peaks_view(peaks, floors),
        )
    )
    if history is not None:
        ch = stats.changes(stats.steps(history))
        if not ch.empty:
            add(
                Table(
                    "changes",
                    "Changes between commits",
                    f"Points whose time changed by more "
                    f"than {stats.CHANGE_FACTOR:.2f}x with non-overlapping intervals.",
                    ch,
                    tables.changes_view(ch),
                )
            )
    suites = [
        s
        for s in dict.fromkeys(st.sort_values(["grid", "axis"])["suite"])
        if stats.split_suite(s)[1] not in (None, "Exercises")
    ]
    for suite in suites:
        axis = stats.AXIS_LABELS[stats.split_suite(suite)[1]]
        if sp.loc[sp["suite"] == suite, "speedup"].notna().any():
            report.plots.append(
                Plot(
                    f"speedup_{suite}",
                    f"Speedup vs {axis} ({suite})",
                    f"Speedup over {baseline}; shaded: interval; dashed: 1x.",
                    figures.speedup_figure(sp, suite),
                )
            )
        if th.loc[th["suite"] == suite, "gflops"].notna().any():
            report.plots.append(
                Plot(
                    f"gflops_{suite}",
                    f"GFLOP/s vs {axis} ({suite})",
                    "Achieved GFLOP/s; dashed: measured GEMM peak.",
                    figures.gflops_figure(th, peaks, suite),
                )
            )
        if (gain["suite"] == suite).any():
            report.plots.append(
                Plot(
                    f"gpu_gain_{suite}",
                    f"GPU gain vs {axis} ({suite})",
                    "CPU time / GPU time; dotted red: crossover; the CPU "
                    "side's threads and dtype in each panel's title.",
                    figures.gain_figure(gain, cross, suite),
                )
            )
    if history is not None and history.groupby("machine")["commit"].nunique().max() > 1:
        hst = stats.steps(history)
        point = _common_point(hst, "commit")
        if point:
            report.plots.append(
                Plot(
                    "history",
                    "History across commits",
                    "Step time at one point, per commit.",
                    figures.history_figure(hst, point),
                )
            )
    if len(set(df["machine"])) > 1:
        point = _common_point(st, "machine")
        if point:
            report.plots.append(
                Plot(
                    "machines",
                    "Machines side by side",
                    "Step time per implementation at one point on each machine.",
                    figures.machines_figure(st, point),
                )
            )
    return report
