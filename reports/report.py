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
from reports import figures, gpu, stats, summary, sweeps, tables


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
    machines: pd.DataFrame = field(default_factory=pd.DataFrame)
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    gpu_summary: str = ""


def method_text(
    baseline: str, env_notes: list[str] | None = None, env: str | None = None
) -> list[str]:
    """What was compared with what, one sentence each."""
    chosen = (
        f"Environment: {env} (chosen with --env)."
        if env
        else "Environment: one per machine and commit, the one with the most ok points (ties: "
        "the newest run); --env NAME chooses another."
    )
    if env_notes:
        chosen += " Left out: " + "; ".join(env_notes) + "."
    return [
        (
            f"Speedup = {baseline}'s time / the implementation's time, at the same machine, commit, "
            "environment, dtype, thread count, cost, activation and sizes; where the baseline has "
            "no such point the speedup is left empty and the note says which point is missing."
        ),
        (
            "Where the paired benchmark timed an implementation and numpy alternately in one "
            "process (column 'paired'), the speedup over numpy is 1 / its time ratio (interval "
            "1/hi .. 1/lo); else it is the ratio of the two medians."
        ),
        (
            "Times are asv's medians; intervals are asv's 99% confidence intervals of the median "
            "(the samples' quartiles where asv gives none), combined worst-case for ratios."
        ),
        (
            f"Flags: '!' unstable (the samples' interquartile range is {stats.UNSTABLE_IQR:.0%} of "
            "the median or more), '~' disturbed (the harness found the machine busy or slow "
            "while timing). "
            "Flagged points stay in the tables but are never quoted in the summary."
        ),
        (
            "GFLOP/s = the step's operations (impls/cost.py: 4BDH + 6BHO + elementwise) / time; "
            "% of peak divides by the fastest GEMM (2mkn / time) of the ceiling benchmark on the "
            "same machine, commit, device and dtype (on CPU at the same thread count)."
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
        chosen,
    ]


def runs_table(df: pd.DataFrame) -> pd.DataFrame:
    """Which machine, commit and environment each part of the report comes from, when the
    commit was made and when it ran, with its points by status, those disturbed, and those the
    harness wrote no flag for."""
    runs = pd.DataFrame(
        {
            "machine": df["machine"].astype(object),
            "commit": df["commit"].astype(object),
            "env": df["env"].astype(object),
            "date": df["date"],
            "run_date": df["run_date"],
            "status": df["status"].astype(object),
            "flagged": df["disturbed"].to_numpy(bool),
            "known": df["flags_known"].to_numpy(bool),
        }
    )
    runs = runs.groupby(["machine", "commit", "env"], as_index=False).agg(
        date=("date", "first"),
        run_date=("run_date", "max"),
        points=("status", "size"),
        ok=("status", lambda s: int((s == "ok").sum())),
        skipped=("status", lambda s: int((s == "skipped").sum())),
        failed=("status", lambda s: int((s == "failed").sum())),
        bad=("status", lambda s: int((s == "bad").sum())),
        disturbed=("flagged", "sum"),
        flags_unknown=("known", lambda k: int((~k).sum())),
    )
    runs["commit"] = runs["commit"].str[:8]  # enough to name it; the CSVs have it whole
    runs.insert(3, "committed", runs.pop("date").dt.strftime("%Y-%m-%d %H:%M UTC"))
    runs.insert(4, "ran", runs.pop("run_date").dt.strftime("%Y-%m-%d %H:%M UTC"))
    return runs


def facts_table(df: pd.DataFrame) -> pd.DataFrame:
    """Machine and software facts, one column per machine (unknown: '—')."""
    cols = [c for c in df.columns if c.startswith(("fact_", "asv_"))]
    first = df.drop_duplicates("machine")
    per = first.set_index(first["machine"].astype(object))[cols].astype(object).T
    per = per.rename_axis(columns=None)  # else the page shows an empty 'machine' column
    per = per[sorted(per.columns)]
    per.index = [c.removeprefix("fact_").removeprefix("asv_") for c in per.index]
    per = per[per.notna().any(axis=1)]
    per = per.where(per.notna(), "—")
    if "ram" in per.index:  # asv gives bytes; a reader wants GiB
        per.loc["ram"] = [tables.fmt_gib(v) for v in per.loc["ram"]]
    return per.reset_index(names="fact")


def _common_point(pts: pd.DataFrame, across: str) -> dict[str, object] | None:
    """The tutorial point (float32, one thread where measured so) if measured, else the point
    measured at the most ``across``. Filters on the categorical columns before converting
    anything, so that a long history costs little."""
    ok_mask = (pts["status"] == "ok").to_numpy(bool)
    if not ok_mask.any():
        return None
    mask = ok_mask & (pts["loss"] == "squared").to_numpy(bool)
    mask &= (pts["activation"] == "relu").to_numpy(bool)
    for k, v in TUTORIAL_SIZES.items():
        mask &= (pts[k] == v).fillna(False).to_numpy(bool)
    tut = pts.loc[mask, ["dtype", "threads"]]
    if not tut.empty:
        dtypes = set(tut["dtype"].astype(object))
        dtype = "float32" if "float32" in dtypes else min(dtypes)
        point = {**TUTORIAL_SIZES, "dtype": dtype, "loss": "squared", "activation": "relu"}
        if (tut["threads"] == 1).any():
            point["threads"] = 1
        return point
    keys = ["batch", "d_in", "hidden", "d_out", "dtype", "loss", "activation"]
    ok = tables.plain(pts.loc[ok_mask, [*keys, across]])
    counts = ok.groupby(keys)[across].nunique().sort_values(ascending=False, kind="stable")
    return {k: (int(v) if k in keys[:4] else v) for k, v in zip(keys, counts.index[0], strict=True)}


#: The columns the sweep figures read.
FIGURE_COLUMNS = ["machine", "commit", "env", "sweep", "axis", "sweep_title", "x", "impl",
                  "device", "dtype", "threads", "speedup", "speedup_lo", "speedup_hi",
                  "baseline_impl", "gflops", "flops", "time_lo", "time_hi", "gain", "gain_lo", "gain_hi", "cpu_threads",
                  "cpu_dtype", "cores", "fairness"]  # fmt: skip


def _for_figures(df: pd.DataFrame) -> pd.DataFrame:
    """The sweep rows of ``df`` with only the columns figures read, as plain values."""
    rows = sweeps.assign(df)
    return tables.plain(rows[[c for c in FIGURE_COLUMNS if c in rows.columns]])


def build(
    df: pd.DataFrame,
    history: pd.DataFrame | None = None,
    baseline: str = "numpy",
    env_notes: list[str] | None = None,
    env: str | None = None,
) -> Report:
    """The whole report of ``df`` (one commit and environment per machine); ``history``: the
    step times of all commits (one environment each), if any."""
    pts = stats.points(df)
    peaks = stats.ceilings(df)
    sp = stats.speedup(pts, baseline, stats.paired(df))
    th = stats.throughput(pts, peaks)
    gain = gpu.gpu_gain(pts)
    cross = gpu.crossovers(gain)
    ok = summary.clean(pts)
    cross_ok = gpu.crossovers(gpu.gpu_gain(ok))
    th_ok = sweeps.assign(stats.throughput(ok, peaks))
    texts = []
    for m in sorted(set(cross_ok["machine"])):
        flags = summary.flag_line(pts, m)
        texts.append("\n".join([summary.gpu_text(cross_ok, th_ok, m), *([flags] if flags else [])]))
    used = runs_table(df)[["machine", "commit", "env"]]
    method = method_text(baseline, env_notes, env)
    method[-1] += (
        " Used: "
        + "; ".join(f"{r.machine} {r.commit[:8]}: {r.env}" for r in used.itertuples())
        + "."
    )
    report = Report(
        summary=summary.summary_text(sp, cross_ok, th_ok, baseline),
        method=method,
        runs=runs_table(df),
        facts=facts_table(df),
        machines=tables.machines_view(df),
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
            f"range is {stats.UNSTABLE_IQR:.0%} of the median or more; '~': disturbed; 'paired': "
            "from the alternating paired measurement.",
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
            "allocations on GPU), the cold first step and the paired time relative to numpy, "
            "side by side.",
            meas,
            tables.measurements_view(meas),
        )
    )
    floors = stats.launch_floor(df)
    add(
        Table(
            "peaks",
            "Measured peaks and launch floors",
            "Fastest GEMM per machine, device, dtype and CPU threads; the time of an empty step.",
            peaks.merge(floors, on=["machine", "commit", "env", "device"], how="outer"),
            tables.peaks_view(peaks, floors),
        )
    )
    hpts = None
    if (
        history is not None
        and history.groupby("machine", observed=True)["commit"].nunique().max() > 1
    ):
        hpts = stats.points(history)
        ch = stats.changes(hpts, only_changed=True)
        if not ch.empty:
            add(
                Table(
                    "changes",
                    "Changes between commits",
                    f"Points whose time changed by more than {stats.CHANGE_FACTOR:.2f}x with "
                    "non-overlapping intervals (the page: the last 50 commits of each machine; "
                    "the CSV: all).",
                    ch,
                    tables.changes_view(ch),
                )
            )
    figs = [_for_figures(d) for d in (sp, th, gain)]
    _sweep_plots(report, *figs, cross, peaks, baseline)
    if hpts is not None:
        commits = hpts.groupby("machine", observed=True)["commit"].nunique()
        several = hpts["machine"].isin(list(commits[commits > 1].index)).to_numpy(bool)
        point = _common_point(hpts[several], "commit")  # a point with a history to draw
        if point:
            report.plots.append(
                Plot(
                    "history",
                    "History across commits",
                    "Step time at one point, per commit (the last 50 drawn; each panel's title "
                    "gives the whole range).",
                    figures.history_figure(hpts, point),
                )
            )
    if len(set(df["machine"].astype(object))) > 1:
        point = _common_point(pts, "machine")
        if point:
            report.plots.append(
                Plot(
                    "machines",
                    "Machines side by side",
                    "Step time per implementation at one point on each machine.",
                    figures.machines_figure(pts, point),
                )
            )
    return report


def _sweep_plots(report, sp, th, gain, cross, peaks, baseline) -> None:
    """Speedup and GPU-gain figures of every size sweep with data to draw; GFLOP/s figures of
    the scale sweeps (where the step becomes compute-bound; the throughput table has all)."""
    for sweep in sweeps.order(sp):
        rows = sp[sp["sweep"] == sweep]
        axis, title = str(rows["axis"].iloc[0]), str(rows["sweep_title"].iloc[0])
        if axis not in sweeps.SIZE_AXES:
            continue
        if rows.loc[rows["impl"] != baseline, "speedup"].notna().any():
            report.plots.append(
                Plot(
                    f"speedup_{sweep}",
                    f"Speedup, {title}",
                    f"Speedup over {baseline}; whiskers: its interval; dashed black: 1x.",
                    figures.speedup_figure(sp, sweep),
                )
            )
        if axis == "scale" and th.loc[th["sweep"] == sweep, "gflops"].notna().any():
            report.plots.append(
                Plot(
                    f"gflops_{sweep}",
                    f"GFLOP/s, {title}",
                    "Achieved GFLOP/s; whiskers: from the time's interval; dashed grey: measured GEMM "
                    "peak.",
                    figures.gflops_figure(th, peaks, sweep),
                )
            )
        if len(gain) and (gain["sweep"] == sweep).any():
            report.plots.append(
                Plot(
                    f"gpu_gain_{sweep}",
                    f"GPU gain, {title}",
                    "CPU time / GPU time; whiskers: its interval; dotted red: crossover; the CPU "
                    "side's threads and dtype in each panel's title.",
                    figures.gain_figure(gain, cross, sweep),
                )
            )
