"""The terminal summary: a few sentences per machine, from the statistics layer's DataFrames.

`gpu_gain_text` is the entry point ``nox -s gpu`` prints (through ``python -m reports --summary
gpu``): per machine and size axis, where the GPU starts to win and its gain at the largest size,
against the best CPU implementation at equal threads and dtype, with any unfairness named; and
how close the best CUDA implementation gets to the measured GEMM peak at the largest point.
Machines without CUDA results get the best CPU speedups over the baseline instead, said plainly.
"""

from __future__ import annotations

import math

import pandas as pd

from reports import stats


def _size(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{int(x)}"


def _cpu_side(row: pd.Series) -> str:
    threads = row["cpu_threads"]
    side = f"best CPU impl at {threads} thread{'' if threads == '1' else 's'}, {row['cpu_dtype']}"
    return side if row["fairness"] == "fair" else f"{side}; UNEQUAL: {row['fairness']}"


def gpu_lines(cross: pd.DataFrame, machine: str) -> list[str]:
    """One line per (sweep, CUDA impl, dtype) of ``machine``: crossover and gain at the largest."""
    lines = []
    for _, r in cross[cross["machine"] == machine].iterrows():
        axis = stats.AXIS_LABELS.get(r["axis"], r["axis"])
        lines.append(
            f"  {r['grid']}{r['axis']} ({axis}), {r['impl']} {r['dtype']}: {r['verdict']}; "
            f"{r['gain_at_largest']:.2f}x at {_size(r['largest'])} over "
            f"{r['cpu_impl_at_largest']} ({_cpu_side(r)})"
        )
    return lines


def peak_lines(th: pd.DataFrame, machine: str) -> list[str]:
    """The best CUDA % of the measured GEMM peak at the largest point of each sweep's dtype,
    on the scale sweep where there is one (else the sweep with the most work)."""
    rows = th[(th["machine"] == machine) & (th["device"] == "cuda") & th["pct_peak"].notna()]
    rows = rows[rows["axis"].isin(stats.SIZE_AXES)]
    if rows.empty:
        return []
    scale = rows[rows["axis"] == "Scale"]
    rows = scale if not scale.empty else rows
    lines = []
    for dtype, grp in rows.groupby("dtype", sort=True):
        top = grp[grp["flops"] == grp["flops"].max()]
        best = top.loc[top["pct_peak"].idxmax()]
        lines.append(
            f"  peak: {best['impl']} reaches {best['pct_peak']:.0f}% of the measured CUDA "
            f"{dtype} GEMM peak ({best['gflops']:,.0f} of {best['peak_gflops']:,.0f} GFLOP/s) "
            f"at {best['suite']} B×D×H×O = {best['batch']}×{best['d_in']}×{best['hidden']}"
            f"×{best['d_out']}"
        )
    return lines


def cpu_lines(sp: pd.DataFrame, machine: str, baseline: str) -> list[str]:
    """The best speedup of each non-baseline CPU impl over ``baseline`` on ``machine``."""
    rows = sp[(sp["machine"] == machine) & (sp["device"] == "cpu") & (sp["impl"] != baseline)]
    rows = rows.dropna(subset=["speedup"])
    lines = []
    for impl, grp in rows.groupby("impl", sort=True):
        best = grp.loc[grp["speedup"].idxmax()]
        threads = "default" if pd.isna(best["threads"]) else int(best["threads"])
        lines.append(
            f"  {impl}: up to {best['speedup']:.2f}x over {baseline} "
            f"({best['suite']} at {stats.AXIS_LABELS.get(best['axis'], 'point')} "
            f"{_size(best['x'])}, {best['dtype']}, {threads} threads)"
        )
    return lines


def gpu_text(cross: pd.DataFrame, th: pd.DataFrame, machine: str) -> str:
    """The GPU paragraph of one machine (empty when it has no GPU comparison)."""
    lines = gpu_lines(cross, machine)
    if not lines:
        return ""
    commit = cross.loc[cross["machine"] == machine, "commit"].iloc[0][:8]
    head = f"{machine} (commit {commit}): GPU gain over the best CPU implementation"
    return "\n".join([head, *lines, *peak_lines(th, machine)])


def machine_text(
    sp: pd.DataFrame, cross: pd.DataFrame, th: pd.DataFrame, machine: str, baseline: str
) -> str:
    """The summary paragraph of one machine."""
    rows = sp[sp["machine"] == machine]
    gpu = gpu_text(cross, th, machine)
    if gpu:
        return gpu
    head = f"{machine} (commit {rows['commit'].iloc[0][:8]}):"
    if ((rows["device"] == "cuda") & (rows["status"] == "ok")).any():
        return f"{head} CUDA results exist but no CPU point of the same size to compare with."
    cpu = cpu_lines(sp, machine, baseline)
    if not cpu:
        return f"{head} no CUDA results on this machine; no CPU speedup over {baseline} either."
    return "\n".join(
        [f"{head} no CUDA results on this machine (CPU only); best CPU speedups:", *cpu]
    )


def summary_text(
    sp: pd.DataFrame, cross: pd.DataFrame, th: pd.DataFrame, baseline: str = "numpy"
) -> str:
    """One paragraph per machine, machines in name order."""
    machines = sorted(set(sp["machine"]))
    return "\n".join(machine_text(sp, cross, th, m, baseline) for m in machines)


def gpu_gain_text(df: pd.DataFrame) -> str:
    """The GPU-gain summary straight from the tidy DataFrame of `reports.load.load_results`
    (one commit per machine: see `reports.stats.latest`); empty when there is no GPU gain."""
    st = stats.steps(df)
    cross = stats.crossovers(stats.gpu_gain(st))
    th = stats.throughput(st, stats.ceilings(df))
    texts = [gpu_text(cross, th, m) for m in sorted(set(cross["machine"]))]
    return "\n".join(t for t in texts if t)
