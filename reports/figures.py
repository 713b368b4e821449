"""Presentation, figures: statistics DataFrames -> matplotlib Figures (never saved here).

Figures are built on `matplotlib.figure.Figure` directly, not pyplot: no GUI backend, no global
state, nothing left open. Machines sit side by side as columns of one figure so that they share
the y-axis. Every figure has the same size and the same layout (title on top, one legend below
the panels, margins fixed in inches), and an implementation has the same colour and marker in
every figure, so that a reader who learned one figure can read the next at a glance.
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

from reports.sweeps import AXIS_LABELS

#: Every figure's size (inches); more than three machines widen it, a long legend heightens it.
FIG_WIDTH, FIG_HEIGHT = 10.0, 5.8
PANEL_MIN_WIDTH = 3.2  # inches a panel keeps when there are many machines
LEFT, RIGHT = 0.85, 0.25  # margins (inches): the y label; the right edge
TITLE_LINE = 0.2  # inches per line of a panel's title, above the figure's two-line title (0.6)
XAXIS = 0.62  # inches below the panels for tick labels and the x label
LEGEND_ROW, LEGEND_PAD = 0.24, 0.12  # inches per legend row, and under the legend
LEGEND_ROWS = 3  # legend rows the standard height holds; more rows make the figure taller
FONT = 10  # points: tick labels, legend, annotations (readable when the page shrinks the image)
#: Panel titles sit at this height (axes fraction). Given, it spares matplotlib a search of
#: every tick label's extent on each draw, a quarter of a figure's drawing time.
TITLE_Y = 1.01
#: One colour and marker per implementation family (Okabe-Ito, safe for colour-blind readers;
#: autograd, nn and custom-fn far apart). A family's CUDA variant has hollow markers.
FAMILY_STYLES = {
    "numpy": ("#0072B2", "o"),  # blue
    "torch": ("#E69F00", "s"),  # orange
    "autograd": ("#009E73", "^"),  # bluish green
    "nn": ("#D55E00", "D"),  # vermillion
    "custom-fn": ("#CC79A7", "v"),  # reddish purple
    "compile": ("#56B4E9", "P"),  # sky blue
    "cudagraph": ("#000000", "X"),  # black
}
UNKNOWN_STYLE = ("#7F7F7F", "*")  # an implementation this registry does not know: grey star
MARKER_SIZE, LONE_MARKER_SIZE = 6.5, 10.0  # a series of one point must be seen on its own
#: The ground of a label that sits on lines: white, so that the lines do not garble it.
LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
MACHINE_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
LINESTYLES = ("-", "--", "-.", ":")
BAND = 0.025  # the whiskers of the series at one x spread over this share of the x range


def impl_style(name: str) -> dict[str, object]:
    """Colour, marker and fill of an implementation, the same in every figure: its family's
    colour and marker ('torch-cuda' -> 'torch'), hollow on CUDA."""
    family, _, device = name.rpartition("-")
    if device not in ("cpu", "cuda") or not family:
        family, device = name, ""
    color, marker = FAMILY_STYLES.get(family, UNKNOWN_STYLE)
    face = "white" if device == "cuda" else color
    return {"color": color, "marker": marker, "markerfacecolor": face, "markeredgecolor": color}


def impl_color(name: str) -> str:
    """An implementation's colour (`impl_style`)."""
    return str(impl_style(name)["color"])


def _panels(machines: list[str], title: str, xaxis: float = XAXIS, title_lines: int = 1):
    """A figure of the standard size with one panel per machine sharing the y-axis. Margins are
    fixed in inches (`_finish` sets the bottom once the legend's rows are known) rather than
    solved by a layout engine, which would cost more than the drawing itself."""
    n = max(1, len(machines))
    width = max(FIG_WIDTH, LEFT + RIGHT + n * PANEL_MIN_WIDTH)
    fig = Figure(figsize=(width, FIG_HEIGHT))
    axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
    fig.subplots_adjust(left=LEFT / width, right=1 - RIGHT / width, wspace=0.08)
    fig.suptitle(title, fontsize=11, y=1 - 0.08 / FIG_HEIGHT, va="top")
    fig.xaxis_inches, fig.top_inches = xaxis, 0.65 + TITLE_LINE * title_lines
    for ax in axes:
        ax.tick_params(labelsize=FONT)
    return fig, list(axes)


def _finish(fig: Figure, axes: list) -> None:
    """One legend for all panels, centred below them, each label once in the order first drawn;
    the margins set so that it never covers a panel."""
    handles: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    width = fig.get_figwidth()
    ncol, rows = 1, 0
    if handles:
        longest = max(len(label) for label in handles)
        per = 0.75 + 0.075 * longest * FONT / 9  # inches: handle and text of the longest label
        most = max(1, min(len(handles), int((width - 0.4) / per)))
        rows = math.ceil(len(handles) / most)
        ncol = math.ceil(len(handles) / rows)  # rows evenly filled, none with one lone entry
    legend = rows * LEGEND_ROW + LEGEND_PAD
    height = FIG_HEIGHT + max(0, rows - LEGEND_ROWS) * LEGEND_ROW
    fig.set_figheight(height)
    bottom = legend + getattr(fig, "xaxis_inches", XAXIS)
    top = getattr(fig, "top_inches", 0.85)
    fig.subplots_adjust(bottom=bottom / height, top=1 - top / height)
    fig.suptitle(fig.get_suptitle(), fontsize=11, y=1 - 0.08 / height, va="top")
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol,
                   fontsize=FONT, frameon=False, bbox_to_anchor=(0.5, LEGEND_PAD / height),
                   columnspacing=1.5, handlelength=2.5)  # fmt: skip


def short_env(env: object) -> str:
    """'existing-py_work_main_.nox_bench_bin_python' -> 'work_main_.nox_bench'."""
    text = str(env).removeprefix("existing-py_")
    return re.sub(r"_bin_python[\d.]*$", "", text)


def _series(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame, dict]]:
    """(label, rows, line style) per line: impl, plus dtype, threads and environment where they
    vary (two asv environments of one commit are two runs, never one line). The implementation
    sets colour and marker; a variant (another dtype, thread count, environment) the line style,
    the same for the same variant of every implementation."""
    df = plain_rows(df)
    varies = [c for c in ("dtype", "threads", "env") if len(set(df[c].astype(object))) > 1]
    variants = sorted({tuple(map(str, k)) for k in df[varies].itertuples(index=False)})
    out = []
    for key, grp in df.groupby(["impl", *varies], sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        parts = [str(key[0])]
        for col, v in zip(varies, key[1:], strict=True):
            if col == "threads":
                parts.append(f"{'?' if pd.isna(v) else v} thr")
            else:
                parts.append(str(v) if col == "dtype" else f"env {short_env(v)}")
        style = impl_style(str(key[0]))
        if varies:
            style["linestyle"] = LINESTYLES[variants.index(tuple(map(str, key[1:]))) % 4]
        else:
            style["linestyle"] = "--" if style["markerfacecolor"] == "white" else "-"
        style["markersize"] = LONE_MARKER_SIZE if len(grp) == 1 else MARKER_SIZE
        out.append((", ".join(parts), grp.sort_values("x"), style))
    return out


def _whiskers(ax, xs, lo, hi, style: dict, k: int, n: int, octaves: float) -> None:
    """The interval of each point as a whisker, shifted a little sideways per series (``k`` of
    ``n``, over `BAND` of the x range's ``octaves``) so that the whiskers of series at the same
    x stay apart; the point stays put."""
    keep = (lo.notna() & hi.notna()).to_numpy(bool)
    if not keep.any():
        return
    shift = 2 ** ((k / max(1, n - 1) - 0.5) * BAND * octaves) if n > 1 else 1.0
    x = xs.to_numpy(float)[keep] * shift
    lo_v, hi_v = lo.to_numpy(float)[keep], hi.to_numpy(float)[keep]
    mid = (lo_v * hi_v) ** 0.5
    ax.errorbar(x, mid, yerr=[mid - lo_v, hi_v - mid], fmt="none", ecolor=style["color"],
                elinewidth=1.1, capsize=2.5, alpha=0.75, zorder=1.5)  # fmt: skip


def _limit_y(ax, core: list[float], spread: list[float]) -> None:
    """The y range: every point and reference line, and the intervals only up to 3x beyond them,
    so that one very wide interval cannot squash every line into a sliver (its whisker is cut
    at the panel's edge instead)."""
    core = [v for v in core if v > 0 and math.isfinite(v)]
    if not core:
        return
    lo, hi = min(core), max(core)
    wide = [v for v in spread if v > 0 and math.isfinite(v)]
    lo = max(min([lo, *wide]), lo / 3)
    hi = min(max([hi, *wide]), hi * 3)
    if hi / lo < 1.5:  # a flat panel: some room around its one level
        lo, hi = lo / 1.25, hi * 1.25
    ax.set_ylim(lo / 1.15, hi * 1.15)


def _log_y(ax) -> None:
    """Log y-axis with plain-number tick labels (0.5, 2, 100), not powers of ten."""
    lo, hi = ax.get_ylim()
    if lo <= 0:  # nothing drawn: a decade around 1
        lo, hi = 0.3, 3.0
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    if hi / lo < 3:  # under half a decade: evenly spaced round numbers
        nice = MaxNLocator(nbins=6, steps=[1, 2, 5, 10]).tick_values(lo, hi)
        ticks = [t for t in nice if lo <= t <= hi]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
    else:
        subs = (1.0, 2.0, 5.0) if hi / lo > 30 else (1.0, 2.0, 3.0, 5.0)  # never crowded
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


def _x_axis(ax, axis: str, xs: pd.Series) -> None:
    """Log-2 x-axis labelled with the measured sizes as plain numbers."""
    ax.set_xscale("log", base=2)
    ticks = sorted({int(v) for v in xs.dropna()})
    if 0 < len(ticks) <= 10:
        ax.set_xticks(ticks, [str(t) for t in ticks], fontsize=FONT)
        ax.xaxis.set_minor_locator(NullLocator())
    if ticks:  # room for the whiskers shifted beside the outermost points
        ax.set_xlim(ticks[0] / 2**0.3, ticks[-1] * 2**0.3)
    ax.set_xlabel(AXIS_LABELS.get(axis, axis))
    ax.grid(True, which="major", alpha=0.3)


def _sweep_rows(df: pd.DataFrame, sweep: str, machine: str) -> pd.DataFrame:
    return df[(df["sweep"] == sweep) & (df["machine"] == machine) & df["x"].notna()]


def _sweep(df: pd.DataFrame, sweep: str) -> tuple[list[str], str, str]:
    """(machines with rows on ``sweep``, its axis, its title in words)."""
    rows = df[df["sweep"] == sweep]
    machines = sorted(set(rows["machine"].astype(object)))
    if rows.empty:
        return machines, sweep, f"no points on {sweep}"
    return machines, str(rows["axis"].iloc[0]), str(rows["sweep_title"].iloc[0])


def _ratio_panels(fig, axes, df, sweep, col, skip: str | None = None) -> tuple[list, list]:
    """Draw ``col`` (with ``col``_lo/_hi whiskers) per implementation in each machine's panel;
    (the values, the interval ends) for `_limit_y`."""
    core, spread = [], []
    for ax, machine in zip(axes, fig.machines, strict=False):  # no machine: one empty panel
        rows = _sweep_rows(df, sweep, machine).dropna(subset=[col])
        if skip is not None:
            rows = rows[rows["impl"] != skip]
        lines = _series(rows)
        x = rows["x"].astype(float)
        octaves = math.log2(x.max() / x.min()) + 0.6 if len(x) else 1.0
        for k, (label, grp, style) in enumerate(lines):
            xs = grp["x"].astype(float)
            ax.plot(xs, grp[col], label=label, zorder=3 if len(grp) == 1 else 2, **style)
            lo, hi = grp[f"{col}_lo"], grp[f"{col}_hi"]
            _whiskers(ax, xs, lo, hi, style, k, len(lines), octaves)
            core += list(grp[col])
            spread += [*grp[f"{col}_lo"].dropna(), *grp[f"{col}_hi"].dropna()]
        ax.set_title(machine, fontsize=10, y=TITLE_Y)
    return core, spread


def speedup_figure(sp: pd.DataFrame, sweep: str) -> Figure:
    """Speedup over the baseline vs the swept size, one line per implementation, 1x drawn.
    ``sp``: `stats.speedup` rows with their sweeps (`reports.sweeps.assign`)."""
    machines, axis, title = _sweep(sp, sweep)
    base = sp["baseline_impl"].iloc[0] if len(sp) else "baseline"
    fig, axes = _panels(machines, f"Speedup over {base} (higher is faster)\n{title}")
    fig.machines = machines
    core, spread = _ratio_panels(fig, axes, sp, sweep, "speedup", skip=base)
    for ax, machine in zip(axes, [*machines, ""], strict=False):
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label=f"{base} (1x)")
        _x_axis(ax, axis, _sweep_rows(sp, sweep, machine)["x"])
    axes[0].set_ylabel(f"speedup over {base} (×)")
    _limit_y(axes[0], [*core, 1.0], spread)
    _log_y(axes[0])
    _finish(fig, axes)
    return fig


def _peak_line(ax, p: pd.Series, first: bool) -> None:
    """A measured GEMM peak: a dashed line labelled at its right end, on a white ground so that
    lines passing under the label do not garble it."""
    ax.axhline(p["peak_gflops"], linestyle="--", linewidth=1.4, color="#444444", zorder=1,
               label="measured GEMM peak" if first else None, gid="peak")  # fmt: skip
    ax.annotate(
        f"{p['device']} {p['dtype']} peak {p['peak_gflops']:,.0f} GFLOP/s",
        (0.99, p["peak_gflops"]),
        xycoords=("axes fraction", "data"),
        xytext=(0, 2),
        textcoords="offset points",
        fontsize=FONT,
        ha="right",
        va="bottom",
        color="#222222",
        bbox=LABEL_BOX,
    )


def gflops_figure(th: pd.DataFrame, peaks: pd.DataFrame, sweep: str) -> Figure:
    """Achieved GFLOP/s vs the swept size, with whiskers from the time's interval and each
    device's measured GEMM peak as a ceiling (on CPU the peak at the sweep's thread count)."""
    machines, axis, title = _sweep(th, sweep)
    fig, axes = _panels(machines, f"Achieved GFLOP/s (higher is faster)\n{title}")
    th = th.assign(gflops_lo=th["flops"] / th["time_hi"] / 1e9,
                   gflops_hi=th["flops"] / th["time_lo"] / 1e9)  # fmt: skip
    fig.machines = machines
    core, spread = _ratio_panels(fig, axes, th, sweep, "gflops")
    key = ["machine", "commit", "env", "device", "dtype", "threads"]
    peaks = peaks.astype(dict.fromkeys(key, object))
    first = True
    for ax, machine in zip(axes, machines, strict=False):
        rows = _sweep_rows(th, sweep, machine).dropna(subset=["gflops"])
        shown = rows[key].astype(object).drop_duplicates()
        shown["threads"] = shown["threads"].where(shown["device"] == "cpu", None)
        for _, p in peaks.merge(shown.astype({"threads": object}), on=key).iterrows():
            _peak_line(ax, p, first)
            first = False
            core.append(p["peak_gflops"] * 1.6)  # room above the line for its label
        _x_axis(ax, axis, rows["x"])
    axes[0].set_ylabel("GFLOP/s (one training step)")
    _limit_y(axes[0], core, spread)
    _log_y(axes[0])
    _finish(fig, axes)
    return fig


def gain_figure(gain: pd.DataFrame, cross: pd.DataFrame, sweep: str) -> Figure:
    """GPU gain over the best CPU implementation vs size, crossover marked, CPU side stated.
    ``gain``: `gpu.gpu_gain` rows with their sweeps (`reports.sweeps.assign`)."""
    machines, axis, title = _sweep(gain, sweep)
    fig, axes = _panels(
        machines, f"GPU gain over the best CPU implementation\n{title}", title_lines=2
    )
    fig.machines = machines
    core, spread = _ratio_panels(fig, axes, gain, sweep, "gain")
    for ax, machine in zip(axes, machines, strict=False):
        rows = _sweep_rows(gain, sweep, machine)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="CPU = GPU (1x)")
        mine = cross[(cross["machine"] == machine) & (cross["sweep"] == sweep)]
        for _, c in mine.iterrows():
            if not math.isnan(c["crossover_est"]):
                ax.axvline(c["crossover_est"], color="#C00000", linestyle=":", linewidth=1.2,
                           label="crossover: GPU wins from here")  # fmt: skip
                ax.annotate(f"{c['impl']} crossover ≈ {c['crossover_est']:.0f}",
                            (c["crossover_est"], 0.03), xycoords=("data", "axes fraction"),
                            rotation=90, fontsize=FONT - 1, color="#C00000",
                            ha="right")  # fmt: skip
        threads = ",".join(sorted({str(int(t)) for t in rows["cpu_threads"].dropna()})) or "?"
        dtypes = ",".join(sorted(set(rows["cpu_dtype"].astype(str)))) or "?"
        cores = rows["cores"].dropna()
        side = f"CPU side: {threads} thread{'' if threads == '1' else 's'}"
        side += f" of {int(cores.iloc[0])} cores" if len(cores) else " (cores unknown)"
        side += f", {dtypes}"
        ax.set_title(f"{machine}\n{side}", fontsize=9, y=TITLE_Y)
        unfair = sorted({f for f in rows["fairness"] if f != "fair"})
        if unfair:
            ax.text(0.02, 0.98, "UNEQUAL: " + "; ".join(unfair), transform=ax.transAxes,
                    va="top", fontsize=FONT - 1, color="darkred", wrap=True)  # fmt: skip
        _x_axis(ax, axis, rows["x"])
    axes[0].set_ylabel("gain (CPU time / GPU time, ×)")
    _limit_y(axes[0], [*core, 1.0], spread)
    _log_y(axes[0])
    _finish(fig, axes)
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
    fig, axes = _panels(machines, f"Step time across commits\n{_where(point)}", 0.95, 2)
    times = []
    for ax, machine in zip(axes, machines, strict=False):  # no machine: one empty panel
        every = rows[rows["machine"] == machine].sort_values(["date", "commit"])
        order = list(dict.fromkeys(every["commit"]))
        shown = order[-last:]
        pos = {c: i for i, c in enumerate(shown)}
        mine = every[every["commit"].isin(pos)]
        mine = mine.assign(x=mine["commit"].map(pos))
        for label, grp, style in _series(mine):
            ax.plot(grp["x"], grp["time_s"] * 1e3, label=label, **{**style, "markersize": 4})
            times += list(grp["time_s"] * 1e3)
        step = max(1, math.ceil(len(shown) / 12))
        ticks = list(range(0, len(shown), step))
        ax.set_xticks(ticks, [shown[i][:8] for i in ticks], rotation=30, fontsize=FONT - 1)
        ax.set_xlim(-0.4, len(shown) - 0.6)  # the first and last commit clear of the frame
        drawn = "" if len(shown) == len(order) else f"last {len(shown)} of "
        ax.set_xlabel(f"commit ({drawn}{len(order)}, oldest left)")
        first, final = every["date"].min(), every["date"].max()
        ax.set_title(
            f"{machine}: {len(order)} commits, {first:%Y-%m-%d} to {final:%Y-%m-%d}\n"
            f"all commits: {every['time_s'].min() * 1e3:.3g} to "
            f"{every['time_s'].max() * 1e3:.3g} ms",
            fontsize=9,
            y=TITLE_Y,
        )
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("time per step (ms, lower is faster)")
    _limit_y(axes[0], times, [])
    _log_y(axes[0])
    _finish(fig, axes)
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
    fig, (ax,) = _panels(["all"], f"Machines side by side\n{_where(point)}", 1.0, 0)
    width = 0.8 / max(1, len(machines))
    for i, machine in enumerate(machines):
        mine = rows[rows["machine"] == machine].set_index("impl")
        heights = [mine["time_s"].get(n, math.nan) * 1e3 for n in names]
        xs = [j + (i - (len(machines) - 1) / 2) * width for j in range(len(names))]
        ax.bar(
            xs, heights, width=width, label=machine, color=MACHINE_COLORS[i % len(MACHINE_COLORS)]
        )
    ax.set_xticks(range(len(names)), names, rotation=20, fontsize=FONT)
    ax.set_ylabel("time per step (ms, lower is faster)")
    ax.set_xlabel("implementation (most CPU threads measured)")
    ax.grid(True, axis="y", alpha=0.3)
    _finish(fig, [ax])
    return fig
