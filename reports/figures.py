"""Presentation, figures: statistics DataFrames -> matplotlib Figures (never saved here).

Figures are built on `matplotlib.figure.Figure` directly, not pyplot: no GUI backend, no global
state, nothing left open. Machines sit side by side as columns of one figure so that they share
the y-axis. Each figure has a title, axis labels with units and a legend.
"""

from __future__ import annotations

import math
import re

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FixedLocator,
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
    NullLocator,
)

import impls
from reports.sweeps import AXIS_LABELS

WIDTH, HEIGHT = 5.2, 3.8  # inches per panel
LEGEND_WIDTH = 2.8  # inches added per panel for a legend outside it
#: Panel titles sit at this height (axes fraction). Given, it spares matplotlib a search of
#: every tick label's extent on each draw, a quarter of a figure's drawing time.
TITLE_Y = 1.01
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939")  # fmt: skip
MACHINE_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
MARKERS = ("o", "s", "^", "D", "v")
LINESTYLES = ("-", "--", "-.", ":")


def _panels(machines: list[str], title: str, top: float = 0.85, bottom: float = 0.6):
    """A figure with one panel per machine sharing the y-axis, and room at the right for one
    legend. Margins are fixed (inches: ``top`` for the title, ``bottom`` for the x labels)
    rather than solved by a layout engine, which would cost more than the drawing itself."""
    n = max(1, len(machines))
    width, height = WIDTH * n + LEGEND_WIDTH, HEIGHT + 0.6
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
    fig.subplots_adjust(left=0.75 / width, right=1 - LEGEND_WIDTH / width, bottom=bottom / height,
                        top=1 - top / height, wspace=0.08)  # fmt: skip
    fig.suptitle(title, fontsize=11, y=1 - 0.08 / height, va="top")
    return fig, list(axes)


def _figure_legend(fig: Figure, axes: list) -> None:
    """One legend for all panels, right of them: each label once, in the order first drawn."""
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    if seen:
        right = fig.subplotpars.right
        fig.legend(list(seen.values()), list(seen), loc="upper left", fontsize=8,
                   bbox_to_anchor=(right + 0.01, fig.subplotpars.top))  # fmt: skip


def impl_color(name: str) -> str:
    """One colour per implementation in every figure: registry order, then unknown names."""
    known = impls.names()
    i = known.index(name) if name in known else len(known) + sum(map(ord, name)) % 7
    return COLORS[i % len(COLORS)]


def short_env(env: object) -> str:
    """'existing-py_work_main_.nox_bench_bin_python' -> 'work_main_.nox_bench'."""
    text = str(env).removeprefix("existing-py_")
    return re.sub(r"_bin_python[\d.]*$", "", text)


def _series(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame, dict]]:
    """(label, rows, line style) per line: impl, plus dtype, threads and environment where they
    vary (two asv environments of one commit are two runs, never one line)."""
    df = plain_rows(df)
    varies = [c for c in ("dtype", "threads", "env") if len(set(df[c].astype(object))) > 1]
    out = []
    keys = ["impl", *varies]
    for n, (key, grp) in enumerate(df.groupby(keys, sort=True, dropna=False)):
        key = key if isinstance(key, tuple) else (key,)
        parts = [str(key[0])]
        for col, v in zip(varies, key[1:], strict=True):
            if col == "threads":
                parts.append(f"{'?' if pd.isna(v) else v} thr")
            else:
                parts.append(str(v) if col == "dtype" else f"env {short_env(v)}")
        style = {
            "color": impl_color(str(key[0])),
            "marker": MARKERS[n % len(MARKERS)] if varies else "o",
            "linestyle": "-" if not varies else LINESTYLES[n % len(LINESTYLES)],
        }
        out.append((", ".join(parts), grp.sort_values("x"), style))
    return out


def _log_y(ax) -> None:
    """Log y-axis with plain-number tick labels (0.5, 2, 100), not powers of ten."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    if hi / lo < 3:  # under half a decade: evenly spaced round numbers
        nice = MaxNLocator(nbins=6, steps=[1, 2, 5, 10]).tick_values(lo, hi)
        ticks = [t for t in nice if lo <= t <= hi]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
    else:
        subs = (1.0, 2.0, 5.0) if hi / lo > 30 else tuple(float(k) for k in range(1, 10))
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())  # unlabelled minor ticks cost more than they show
    ax.yaxis.set_minor_formatter(NullFormatter())


def _where(point: dict[str, object]) -> str:
    """'64×1000×100×10 float32' for a point given as Problem fields."""
    sizes = "×".join(str(point[k]) for k in ("batch", "d_in", "hidden", "d_out") if k in point)
    text = f"B×D×H×O = {sizes}, {point.get('dtype', '')}".rstrip(", ")
    threads = point.get("threads")
    return text if threads is None else f"{text}, {threads} thread{'' if threads == 1 else 's'}"


def _legend(ax, **kwargs) -> None:
    """A legend when the panel has labelled lines (an empty legend only warns)."""
    handles = ax.get_legend_handles_labels()[0]
    if len(handles) > 5:  # many lines: outside, to the right, so that no data is hidden
        kwargs.update(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        fig = ax.get_figure()
        if not getattr(fig, "legend_room", False):  # widen once, for every panel's legend
            fig.set_figwidth(fig.get_figwidth() + LEGEND_WIDTH * len(fig.axes))
            fig.legend_room = True
    if handles:
        ax.legend(**kwargs)


def _x_axis(ax, axis: str, xs: pd.Series) -> None:
    """Log-2 x-axis labelled with the measured sizes as plain numbers."""
    ax.set_xscale("log", base=2)
    ticks = sorted({int(v) for v in xs.dropna()})
    if 0 < len(ticks) <= 10:
        ax.set_xticks(ticks, [str(t) for t in ticks], fontsize=8)
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(AXIS_LABELS.get(axis, axis))
    ax.grid(True, which="major", alpha=0.3)


def _sweep_rows(df: pd.DataFrame, sweep: str, machine: str) -> pd.DataFrame:
    return df[(df["sweep"] == sweep) & (df["machine"] == machine) & df["x"].notna()]


def _sweep(df: pd.DataFrame, sweep: str) -> tuple[list[str], str, str]:
    """(machines with rows on ``sweep``, its axis, its title)."""
    rows = df[df["sweep"] == sweep]
    machines = sorted(set(rows["machine"].astype(object)))
    if rows.empty:
        return machines, sweep, sweep
    return machines, str(rows["axis"].iloc[0]), str(rows["sweep_title"].iloc[0])


def speedup_figure(sp: pd.DataFrame, sweep: str) -> Figure:
    """Speedup over the baseline vs the swept size, one line per implementation, 1x drawn.
    ``sp``: `stats.speedup` rows with their sweeps (`reports.sweeps.assign`)."""
    machines, axis, title = _sweep(sp, sweep)
    base = sp["baseline_impl"].iloc[0] if len(sp) else "baseline"
    fig, axes = _panels(machines, f"Speedup over {base} (higher is faster)\n{title}")
    for ax, machine in zip(axes, machines, strict=False):  # no machine: one empty panel
        rows = _sweep_rows(sp, sweep, machine).dropna(subset=["speedup"])
        rows = rows[rows["impl"] != base]
        for label, grp, style in _series(rows):
            xs = grp["x"].astype(float)
            ax.plot(xs, grp["speedup"], label=label, **style)
            lo, hi = grp["speedup_lo"], grp["speedup_hi"]
            if lo.notna().any():
                ax.fill_between(xs, lo, hi, color=style["color"], alpha=0.15, linewidth=0)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label=f"{base} (1x)")
        _log_y(ax)
        _x_axis(ax, axis, rows["x"])
        ax.set_title(machine, fontsize=10, y=TITLE_Y)
        ax.set_ylabel(f"speedup over {base} (×)")
    _figure_legend(fig, axes)
    return fig


def gflops_figure(th: pd.DataFrame, peaks: pd.DataFrame, sweep: str) -> Figure:
    """Achieved GFLOP/s vs the swept size, with each device's measured GEMM peak as a ceiling
    (on CPU the peak at the sweep's thread count)."""
    machines, axis, title = _sweep(th, sweep)
    fig, axes = _panels(machines, f"Achieved GFLOP/s (dashed: GEMM peak)\n{title}")
    key = ["machine", "commit", "env", "device", "dtype", "threads"]
    peaks = peaks.astype(dict.fromkeys(key, object))
    for ax, machine in zip(axes, machines, strict=False):  # no machine: one empty panel
        rows = _sweep_rows(th, sweep, machine).dropna(subset=["gflops"])
        for label, grp, style in _series(rows):
            ax.plot(grp["x"].astype(float), grp["gflops"], label=label, **style)
        shown = rows[key].astype(object).drop_duplicates()
        shown["threads"] = shown["threads"].where(shown["device"] == "cpu", None)
        ceil = peaks.merge(shown.astype({"threads": object}), on=key)
        for _, p in ceil.iterrows():
            ax.axhline(p["peak_gflops"], linestyle="--", linewidth=1, color="gray")
            ax.annotate(
                f"{p['device']} {p['dtype']} peak {p['peak_gflops']:,.0f} GFLOP/s",
                (0.01, p["peak_gflops"]),
                xycoords=("axes fraction", "data"),
                fontsize=7,
                va="bottom",
                color="dimgray",
            )
        _log_y(ax)
        _x_axis(ax, axis, rows["x"])
        ax.set_title(machine, fontsize=10, y=TITLE_Y)
        ax.set_ylabel("GFLOP/s (one training step)")
    _figure_legend(fig, axes)
    return fig


def gain_figure(gain: pd.DataFrame, cross: pd.DataFrame, sweep: str) -> Figure:
    """GPU gain over the best CPU implementation vs size, crossover marked, CPU side stated.
    ``gain``: `gpu.gpu_gain` rows with their sweeps (`reports.sweeps.assign`)."""
    machines, axis, title = _sweep(gain, sweep)
    fig, axes = _panels(machines, f"GPU gain over the best CPU implementation\n{title}", top=1.2)
    for ax, machine in zip(axes, machines, strict=False):  # no machine: one empty panel
        rows = _sweep_rows(gain, sweep, machine)
        for label, grp, style in _series(rows):
            ax.plot(grp["x"].astype(float), grp["gain"], label=label, **style)
            if grp["gain_lo"].notna().any():
                ax.fill_between(
                    grp["x"].astype(float),
                    grp["gain_lo"],
                    grp["gain_hi"],
                    color=style["color"],
                    alpha=0.15,
                    linewidth=0,
                )
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="CPU = GPU (1x)")
        mine = cross[(cross["machine"] == machine) & (cross["sweep"] == sweep)]
        for _, c in mine.iterrows():
            if not math.isnan(c["crossover_est"]):
                ax.axvline(c["crossover_est"], color="red", linestyle=":", linewidth=1.2)
                ax.annotate(
                    f"{c['impl']} crossover ≈ {c['crossover_est']:.0f}",
                    (c["crossover_est"], 0.02),
                    xycoords=("data", "axes fraction"),
                    rotation=90,
                    fontsize=7,
                    color="red",
                    ha="right",
                )
        threads = ",".join(sorted({str(int(t)) for t in rows["cpu_threads"].dropna()})) or "?"
        dtypes = ",".join(sorted(set(rows["cpu_dtype"].astype(str)))) or "?"
        cores = rows["cores"].dropna()
        side = f"CPU side: {threads} thread{'' if threads == '1' else 's'}"
        side += f" of {int(cores.iloc[0])} cores" if len(cores) else " (cores unknown)"
        side += f", {dtypes}"
        unfair = sorted({f for f in rows["fairness"] if f != "fair"})
        ax.set_title(f"{machine}\n{side}", fontsize=9, y=TITLE_Y)
        if unfair:
            ax.text(
                0.02,
                0.98,
                "UNEQUAL: " + "; ".join(unfair),
                transform=ax.transAxes,
                va="top",
                fontsize=7,
                color="darkred",
                wrap=True,
            )
        _log_y(ax)
        _x_axis(ax, axis, rows["x"])
        ax.set_ylabel("gain (CPU time / GPU time, ×)")
    _figure_legend(fig, axes)
    return fig


def history_figure(pts: pd.DataFrame, point: dict[str, object], last: int = 50) -> Figure:
    """Step time at one fixed point across commits (by commit date), one line per impl.

    Only the ``last`` commits of each machine are drawn, so that a long history stays
    readable; each panel states the whole range (commits, dates, fastest and slowest time).
    """
    mask = (pts["status"] == "ok").to_numpy(bool, copy=True)
    for col, v in point.items():
        mask &= (pts[col] == v).fillna(False).to_numpy(bool)
    cols = ["machine", "commit", "date", "impl", "threads", "dtype", "env", "time_s"]
    rows = plain_rows(pts.loc[mask, cols])  # one copy, of the rows drawn: a history is long
    rows = rows.drop_duplicates(["machine", "commit", "impl", "threads", "dtype"])
    commits = rows.groupby("machine")["commit"].nunique()
    machines = sorted(commits[commits > 1].index)  # one commit is no history
    fig, axes = _panels(machines, f"Step time across commits at {_where(point)}", 1.0, 1.1)
    for ax, machine in zip(axes, machines, strict=False):  # no machine: one empty panel
        every = rows[rows["machine"] == machine].sort_values(["date", "commit"])
        order = list(dict.fromkeys(every["commit"]))
        shown = order[-last:]
        pos = {c: i for i, c in enumerate(shown)}
        mine = every[every["commit"].isin(pos)]
        mine = mine.assign(x=mine["commit"].map(pos))
        for label, grp, style in _series(mine):
            ax.plot(grp["x"], grp["time_s"] * 1e3, label=label, markersize=3, **style)
        step = max(1, math.ceil(len(shown) / 12))
        ticks = list(range(0, len(shown), step))
        ax.set_xticks(ticks, [shown[i][:8] for i in ticks], rotation=30, fontsize=8)
        drawn = "" if len(shown) == len(order) else f"last {len(shown)} of "
        ax.set_xlabel(f"commit ({drawn}{len(order)}, oldest left)")
        ax.set_ylabel("time per step (ms)")
        _log_y(ax)
        first, final = every["date"].min(), every["date"].max()
        ax.set_title(
            f"{machine}: {len(order)} commits, {first:%Y-%m-%d} to {final:%Y-%m-%d}\n"
            f"all commits: {every['time_s'].min() * 1e3:.3g} to "
            f"{every['time_s'].max() * 1e3:.3g} ms",
            fontsize=9,
            y=TITLE_Y,
        )
        ax.grid(True, alpha=0.3)
    _figure_legend(fig, axes)
    return fig


def plain_rows(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with categorical columns as plain values (compared and grouped by value)."""
    conv = {c: object for c in df.columns if str(df[c].dtype) == "category"}
    return df.astype(conv) if conv else df


def machines_figure(st: pd.DataFrame, point: dict[str, object]) -> Figure:
    """Step time of each implementation at one point, machines side by side as grouped bars."""
    rows = plain_rows(st[st["status"] == "ok"])
    for col, v in point.items():
        rows = rows[rows[col] == v]
    rows = rows.sort_values("threads", na_position="first").drop_duplicates(
        ["machine", "impl"], keep="last"
    )
    machines = sorted(set(rows["machine"]))
    names = sorted(set(rows["impl"]))
    fig = Figure(figsize=(max(6.0, 1.2 * len(names) + 2), HEIGHT + 0.6), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(1, len(machines))
    for i, machine in enumerate(machines):
        mine = rows[rows["machine"] == machine].set_index("impl")
        heights = [mine["time_s"].get(n, math.nan) * 1e3 for n in names]
        xs = [j + (i - (len(machines) - 1) / 2) * width for j in range(len(names))]
        ax.bar(
            xs, heights, width=width, label=machine, color=MACHINE_COLORS[i % len(MACHINE_COLORS)]
        )
    ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
    ax.set_ylabel("time per step (ms, lower is faster)")
    ax.set_xlabel("implementation (most CPU threads measured)")
    ax.set_title(f"Machines side by side\n{_where(point)}", fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    _legend(ax, fontsize=8, title="machine")
    return fig
