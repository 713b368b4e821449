"""The terminal summary: a few sentences per machine, from the statistics layer's DataFrames.

`gpu_gain_text` is the entry point ``nox -s gpu`` prints (through ``python -m reports --summary
gpu``): per machine and size sweep, where the GPU starts to win and its gain at the largest size,
against the best CPU implementation at equal threads and dtype, with any unfairness named; and
how close the best CUDA implementation gets to the measured GEMM peak at the largest point.
Machines without CUDA results get the best CPU speedups over the baseline instead, said plainly.

Headlines are honest: a point flagged unstable or disturbed is never quoted (the crossovers and
peaks passed in are computed without them, `clean`); each machine says how many points were
flagged and what to do about them, as pyperf warns of an unstable benchmark.
"""

from __future__ import annotations

import pandas as pd

from reports import gpu, stats, sweeps


def _size(x: object) -> str:
    """A size as text; 'n/a' where there is none (NaN, None, pd.NA)."""
    return "n/a" if x is None or pd.isna(x) else f"{int(x)}"


def clean(pts: pd.DataFrame) -> pd.DataFrame:
    """The points a headline may quote: neither unstable nor disturbed."""
    return pts[~pts["flagged"]]


def _cpu_side(row: pd.Series) -> str:
    threads = row["cpu_threads"]
    side = f"best CPU impl at {threads} thread{'' if threads == '1' else 's'}, {row['cpu_dtype']}"
    return side if row["fairness"] == "fair" else f"{side}; UNEQUAL: {row['fairness']}"


def where(row: pd.Series) -> str:
    """'64×1000×100×10' plus the cost and activation where they are not the tutorial's."""
    sizes = "×".join(_size(row[k]) for k in ("batch", "d_in", "hidden", "d_out"))
    if (row["loss"], row["activation"]) != ("squared", "relu"):
        sizes += f" {row['loss']}-{row['activation']}"
    return sizes


def gpu_lines(cross: pd.DataFrame, machine: str) -> list[str]:
    """One line per (sweep, CUDA impl, dtype) of ``machine``: crossover and gain at the largest."""
    lines = []
    for _, r in cross[cross["machine"] == machine].iterrows():
        lines.append(
            f"  {r['sweep_title']}: {r['impl']} {r['verdict']}; "
            f"{r['gain_at_largest']:.2f}x at {_size(r['largest'])} over "
            f"{r['cpu_impl_at_largest']} ({_cpu_side(r)})"
        )
    return lines


def peak_lines(th: pd.DataFrame, machine: str) -> list[str]:
    """The best CUDA % of the measured GEMM peak at the largest point of each dtype, on the
    scale sweep where there is one (else the sweep with the most work)."""
    rows = th[(th["machine"] == machine) & (th["device"] == "cuda") & th["pct_peak"].notna()]
    if "axis" in rows.columns:
        rows = rows[rows["axis"].isin(sweeps.SIZE_AXES)]
        scale = rows[rows["axis"] == "scale"]
        rows = scale if not scale.empty else rows
    lines = []
    for dtype, grp in rows.groupby(rows["dtype"].astype(object), sort=True):
        top = grp[grp["flops"] == grp["flops"].max()]
        best = top.loc[top["pct_peak"].idxmax()]
        lines.append(
            f"  peak: {best['impl']} reaches {best['pct_peak']:.0f}% of the measured CUDA "
            f"{dtype} GEMM peak ({best['gflops']:,.0f} of {best['peak_gflops']:,.0f} GFLOP/s) "
            f"at B×D×H×O = {where(best)}"
        )
    return lines


def cpu_lines(sp: pd.DataFrame, machine: str, baseline: str) -> list[str]:
    """The best unflagged speedup of each non-baseline CPU impl over ``baseline``."""
    rows = sp[(sp["machine"] == machine) & (sp["device"] == "cpu") & (sp["impl"] != baseline)]
    rows = rows[~rows["speedup_flagged"]].dropna(subset=["speedup"])
    lines = []
    for impl, grp in rows.groupby(rows["impl"].astype(object), sort=True):
        best = grp.loc[grp["speedup"].idxmax()]
        threads = "? threads" if pd.isna(best["threads"]) else int(best["threads"])
        threads = f"{threads} thread{'' if threads == 1 else 's'}"
        how = ", paired" if best["paired"] else ""
        lines.append(
            f"  {impl}: up to {best['speedup']:.2f}x over {baseline} "
            f"(at {where(best)}, {best['dtype']}, {threads}{how})"
        )
    return lines


def flag_line(pts: pd.DataFrame, machine: str) -> str:
    """How many of ``machine``'s measured points were flagged, and what to do; '' if none."""
    rows = pts[(pts["machine"] == machine) & (pts["status"] == "ok")]
    flagged = rows[rows["flagged"]]
    if flagged.empty:
        return ""
    unstable, disturbed = int(flagged["unstable"].sum()), int(flagged["disturbed"].sum())
    return (
        f"  WARNING: {len(flagged)} of {len(rows)} points flagged and not quoted here "
        f"({unstable} unstable: interquartile range at least {stats.UNSTABLE_IQR:.0%} of the "
        f"median; {disturbed} disturbed: the machine was busy or slow while timing); "
        f"{stats.ADVICE}."
    )


def bad_line(rows: pd.DataFrame) -> str:
    """How many impossible values (status 'bad') ``rows`` hold; '' if none."""
    bad = int((rows["status"] == "bad").sum())
    if not bad:
        return ""
    return (
        f"  WARNING: {bad} impossible time{'s' if bad > 1 else ''} (zero, negative or infinite) "
        "marked bad and left out; check the benchmark that wrote them."
    )


def gpu_text(cross: pd.DataFrame, th: pd.DataFrame, machine: str) -> str:
    """The GPU paragraph of one machine (empty when it has no GPU comparison)."""
    lines = gpu_lines(cross, machine)
    if not lines:
        return ""
    commit = str(cross.loc[cross["machine"] == machine, "commit"].iloc[0])[:8]
    head = f"{machine} (commit {commit}): GPU gain over the best CPU implementation"
    return "\n".join([head, *lines, *peak_lines(th, machine)])


def machine_text(
    sp: pd.DataFrame, cross: pd.DataFrame, th: pd.DataFrame, machine: str, baseline: str
) -> str:
    """The summary paragraph of one machine: ``sp`` has every point (flags and all);
    ``cross`` and ``th`` only unflagged ones."""
    rows = sp[sp["machine"] == machine]
    flags = [line for line in [flag_line(sp, machine), bad_line(rows)] if line]
    paragraph = gpu_text(cross, th, machine)
    if paragraph:
        return "\n".join([paragraph, *flags])
    head = f"{machine} (commit {str(rows['commit'].iloc[0])[:8]}):"
    if ((rows["device"] == "cuda") & (rows["status"] == "ok")).any():
        text = f"{head} CUDA results exist but no unflagged CPU point of the same size to compare."
        return "\n".join([text, *flags])
    cpu = cpu_lines(sp, machine, baseline)
    if not cpu:
        text = f"{head} no CUDA results on this machine; no unflagged CPU speedup over {baseline}."
        return "\n".join([text, *flags])
    head += " no CUDA results on this machine (CPU only); best CPU speedups:"
    return "\n".join([head, *cpu, *flags])


def summary_text(
    sp: pd.DataFrame, cross: pd.DataFrame, th: pd.DataFrame, baseline: str = "numpy"
) -> str:
    """One paragraph per machine, machines in name order."""
    machines = sorted(set(sp["machine"].astype(object)))
    return "\n".join(machine_text(sp, cross, th, m, baseline) for m in machines)


def gpu_gain_text(df: pd.DataFrame) -> str:
    """The GPU-gain summary straight from the tidy DataFrame of `reports.load.load_results`
    (one commit per machine: see `reports.stats.latest`); empty when there is no GPU gain."""
    pts = stats.points(df)
    ok = clean(pts)
    cross = gpu.crossovers(gpu.gpu_gain(ok))
    th = stats.throughput(sweeps.assign(ok), stats.ceilings(df))
    texts = []
    for m in sorted(set(cross["machine"])):
        flags = flag_line(pts, m)
        texts.append("\n".join([gpu_text(cross, th, m), *([flags] if flags else [])]))
    return "\n".join(t for t in texts if t)
