"""Statistics: tidy DataFrame (see `reports.load`) -> DataFrames of derived numbers.

Pure functions, no I/O. Every comparison here matches like with like: a speedup compares two
implementations at the same machine, commit, environment, dtype, thread count, cost, activation
and sizes, and leaves the speedup empty (with a note) when the baseline has no such point; it
never falls back to another dtype or thread count. The GPU gain is the one place a CPU point of
another thread count or dtype may be used, and then the row's ``fairness`` column says so.

Uncertainty comes from asv's spread: each time's interval is its 99% confidence interval of the
median (``ci_99_a``..``ci_99_b``) where both ends are finite and positive, else the samples'
quartiles; a ratio's interval combines the two worst cases (lo = a_lo / b_hi, hi = a_hi / b_lo).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd

import impls
from impls.problem import Problem

#: The asv class suffixes of the steady-state sweeps and the parameter each one varies.
AXES = {
    "Batch": "batch",
    "DIn": "d_in",
    "Hidden": "hidden",
    "Scale": "batch",
    "Threads": "threads",
    "Exercises": None,
}
#: Axes along which a size grows (crossovers are computed on these only).
SIZE_AXES = ("Batch", "DIn", "Hidden", "Scale")
AXIS_LABELS = {
    "Batch": "batch size",
    "DIn": "input size d_in",
    "Hidden": "hidden size",
    "Scale": "batch (d_in and hidden scale with it)",
    "Threads": "CPU threads",
    "Exercises": "cost / activation",
}
GRIDS = ("Quick", "Full")
PROBLEM_FIELDS = ("batch", "d_in", "hidden", "d_out", "dtype", "loss", "activation")
#: Columns that identify one measured point apart from its implementation.
POINT = ("machine", "commit", "env", "dtype", "threads", "loss", "activation", *PROBLEM_FIELDS[:4])
#: Relative interquartile range above which a time is flagged unstable (pyperf warns at 10%).
UNSTABLE_IQR = 0.10
#: A change between commits counts only beyond this factor and with non-overlapping intervals.
CHANGE_FACTOR = 1.10


def impl_device(name: object) -> str:
    """The device of an implementation; names from other commits are inferred from the suffix."""
    if not isinstance(name, str):
        return "unknown"
    try:
        return impls.registry.entry(name).device
    except ValueError:
        return "cuda" if name.endswith("-cuda") else "cpu"


def split_suite(suite: str) -> tuple[str | None, str | None]:
    """'QuickBatch' -> ('Quick', 'Batch'); (None, None) when not a sweep name."""
    for grid in GRIDS:
        if suite.startswith(grid) and suite[len(grid) :] in AXES:
            return grid, suite[len(grid) :]
    return None, None


def interval(df: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Each row's time interval (lo, hi) and its kind: 'ci99', 'iqr' or 'none'."""
    ci_ok = (df["ci_99_a"] > 0) & np.isfinite(df["ci_99_b"]) & (df["ci_99_b"] > 0)
    iqr_ok = (df["q_25"] > 0) & (df["q_75"] > 0)
    lo = df["ci_99_a"].where(ci_ok, df["q_25"].where(iqr_ok))
    hi = df["ci_99_b"].where(ci_ok, df["q_75"].where(iqr_ok))
    kind = pd.Series(np.where(ci_ok, "ci99", np.where(iqr_ok, "iqr", "none")), index=df.index)
    return lo, hi, kind


def steps(df: pd.DataFrame) -> pd.DataFrame:
    """The steady-state step times (``bench_step.*.time_step``), one row per point.

    Adds ``grid``, ``axis``, ``x`` (the swept parameter's value), ``device`` (of the impl),
    ``time_s``, ``time_lo``, ``time_hi``, ``spread`` and ``unstable``. Problem fields a sweep does
    not vary are filled with `impls.Problem`'s defaults, which is what the benchmarks hold them at.
    """
    out = df[
        df["benchmark"].str.startswith("bench_step.") & df["benchmark"].str.endswith(".time_step")
    ].copy()
    grid_axis = [split_suite(s) for s in out["suite"]]
    out["grid"] = pd.Series([g for g, _ in grid_axis], index=out.index, dtype="string")
    out["axis"] = pd.Series([a for _, a in grid_axis], index=out.index, dtype="string")
    defaults = Problem()
    for name in PROBLEM_FIELDS:
        out[name] = out[name].fillna(getattr(defaults, name))
    out["device"] = out["impl"].map(impl_device).astype("string")
    x = pd.Series(pd.NA, index=out.index, dtype="Int64")
    for axis, param in AXES.items():
        if param is not None:
            x = x.mask((out["axis"] == axis).fillna(False).astype(bool), out[param])
    out["x"] = x
    out["time_s"] = out["value"].where(out["status"] == "ok")
    out["time_lo"], out["time_hi"], out["spread"] = interval(out)
    out["unstable"] = (out["q_75"] - out["q_25"]) / out["time_s"] >= UNSTABLE_IQR
    return out.reset_index(drop=True)


def ceilings(df: pd.DataFrame) -> pd.DataFrame:
    """Measured peak GFLOP/s per (machine, commit, device, dtype): max over GEMM shapes."""
    g = df[(df["benchmark"] == "bench_ceiling.Gemm.time_matmul") & (df["status"] == "ok")].copy()
    cols = ["machine", "commit", "device", "dtype", "peak_gflops", "peak_shape"]
    if g.empty:
        return pd.DataFrame(columns=cols)
    flops = 2.0 * g["m"].astype("float64") * g["k"].astype("float64") * g["n"].astype("float64")
    g["peak_gflops"] = flops / g["value"] / 1e9
    g["peak_shape"] = [f"{m}x{k}x{n}" for m, k, n in zip(g["m"], g["k"], g["n"], strict=True)]
    best = (
        g.sort_values("peak_gflops")
        .groupby(["machine", "commit", "device", "dtype"], as_index=False, sort=True)
        .tail(1)
    )
    return best[cols].sort_values(cols[:4]).reset_index(drop=True)


def launch_floor(df: pd.DataFrame) -> pd.DataFrame:
    """The launch/sync floor per (machine, commit, device): an empty step's time."""
    rows = df[(df["benchmark"] == "bench_ceiling.LaunchFloor.time_empty_step")]
    rows = rows[rows["status"] == "ok"]
    return rows[["machine", "commit", "device", "value"]].rename(columns={"value": "floor_s"})


#: The measurements beside the steady-state time, by asv method name.
MEASURES = {
    "time_step": "time_s",
    "track_device_time": "device_time_s",
    "peakmem_step": "peak_rss_bytes",
    "track_gpu_peak_memory": "gpu_peak_bytes",
    "track_first_step": "first_step_s",
}


def measurements(df: pd.DataFrame) -> pd.DataFrame:
    """Every measurement of each point side by side: wall and CUDA-event time, peak memory,
    the cold first step. One row per (machine, commit, impl, point); a point measured in several
    sweeps takes their median; NaN where not measured (or skipped, or failed)."""
    method = df["benchmark"].str.rsplit(".", n=1).str[-1]
    rows = df[method.isin(list(MEASURES)) & (df["status"] == "ok") & df["impl"].notna()].copy()
    rows["measure"] = method[rows.index].map(MEASURES)
    defaults = Problem()
    for name in PROBLEM_FIELDS:
        rows[name] = rows[name].fillna(getattr(defaults, name))
    key = ["machine", "commit", "impl", *POINT[3:]]
    wide = rows.pivot_table(
        index=key, columns="measure", values="value", aggfunc="median", dropna=False
    )
    wide = wide.dropna(how="all").reset_index()
    wide.columns.name = None
    for col in MEASURES.values():
        if col not in wide.columns:
            wide[col] = np.nan
    return wide[[*key, *MEASURES.values()]]


@cache
def _flops(batch: int, d_in: int, hidden: int, d_out: int, dtype: str, loss: str, act: str) -> int:
    p = Problem(batch, d_in, hidden, d_out, dtype=dtype, loss=loss, activation=act)
    return impls.step_flops(p)


def throughput(st: pd.DataFrame, peaks: pd.DataFrame) -> pd.DataFrame:
    """``steps`` rows plus ``gflops`` (from `impls.cost`) and ``pct_peak`` of the same run's GEMM.

    The peak is that of the same machine, commit, device and dtype; NaN where not measured.
    """
    out = st.copy()
    flops = [
        _flops(int(b), int(d), int(h), int(o), str(t), str(lo), str(a))
        for b, d, h, o, t, lo, a in zip(*(out[c] for c in PROBLEM_FIELDS), strict=True)
    ]
    out["flops"] = np.asarray(flops, dtype="float64")
    out["gflops"] = out["flops"] / out["time_s"] / 1e9
    key = ["machine", "commit", "device", "dtype"]
    out = out.merge(peaks[[*key, "peak_gflops"]], on=key, how="left")
    out["pct_peak"] = 100.0 * out["gflops"] / out["peak_gflops"]
    return out


def speedup(st: pd.DataFrame, baseline: str = "numpy") -> pd.DataFrame:
    """Speedup of every point over ``baseline`` at the same point (see `POINT`).

    The baseline's time is taken from the same benchmark, else from any sweep holding that exact
    point (the median of them). Columns added: baseline_impl, baseline_time_s, speedup
    (= baseline_time_s / time_s), speedup_lo, speedup_hi, note (why a speedup is empty).
    """
    key = list(POINT)
    base = st[(st["impl"] == baseline) & (st["status"] == "ok")]
    cols = {"time_s": "baseline_time_s", "time_lo": "base_lo", "time_hi": "base_hi"}
    same = base[[*key, "benchmark", *cols]].rename(columns=cols)
    same = same.drop_duplicates([*key, "benchmark"])
    other = (
        base.groupby(key, dropna=False, as_index=False)[list(cols)].median().rename(columns=cols)
    )
    out = st.merge(same, on=[*key, "benchmark"], how="left")
    fill = st[key].merge(other, on=key, how="left")
    for col in cols.values():
        out[col] = out[col].fillna(fill[col])
    out["baseline_impl"] = baseline
    out["speedup"] = out["baseline_time_s"] / out["time_s"]
    out["speedup_lo"] = out["base_lo"] / out["time_hi"]
    out["speedup_hi"] = out["base_hi"] / out["time_lo"]
    note = pd.Series("", index=out.index, dtype="string")
    note = note.mask(out["status"] != "ok", out["status"])
    missing = (out["status"] == "ok") & out["baseline_time_s"].isna()
    threads = out["threads"].astype("string").fillna("default")
    note = note.mask(
        missing,
        f"no {baseline} point at " + out["dtype"].astype("string") + ", " + threads + " threads",
    )
    out["note"] = note
    return out.drop(columns=["base_lo", "base_hi"])


def _fairness(row: pd.Series) -> str:
    labels = []
    if row["cpu_dtype"] != row["dtype"]:
        labels.append(f"cross-dtype: CPU {row['cpu_dtype']} vs GPU {row['dtype']}")
    cores, threads = row["cores"], row["cpu_threads"]
    if pd.isna(threads):
        labels.append("CPU thread count unknown")
    elif pd.isna(cores):
        labels.append(f"CPU on {threads} threads; core count unknown")
    elif int(threads) < int(cores):
        labels.append(f"CPU on {threads} of {cores} cores")
    return "; ".join(labels) if labels else "fair"


def gpu_gain(st: pd.DataFrame) -> pd.DataFrame:
    """Each CUDA point over the best CPU implementation at the same machine, commit and size.

    The CPU side is chosen among CPU points of the same dtype if any exist (else any dtype),
    from the same sweep if it has any (else another sweep holding that exact size), at the
    highest thread count measured there, as the fastest implementation at that count; so the
    CPU implementations are compared at equal threads. Columns added: cpu_impl, cpu_time_s,
    cpu_threads, cpu_dtype, cores (physical, from the machine facts), gain (= cpu_time_s /
    time_s), gain_lo, gain_hi, fairness ('fair', or what makes the comparison unequal).
    """
    ok = st[st["status"] == "ok"]
    gpu = ok[ok["device"] == "cuda"].reset_index(drop=True)
    gpu["gpu_row"] = np.arange(len(gpu))
    size = ["machine", "commit", "env", "loss", "activation", "batch", "d_in", "hidden", "d_out"]
    cpu_cols = {
        "impl": "cpu_impl",
        "time_s": "cpu_time_s",
        "time_lo": "cpu_lo",
        "time_hi": "cpu_hi",
        "threads": "cpu_threads",
        "dtype": "cpu_dtype",
        "benchmark": "cpu_benchmark",
    }
    cpu = ok[ok["device"] == "cpu"][[*size, *cpu_cols]].rename(columns=cpu_cols)
    pairs = gpu.merge(cpu, on=size, how="inner")
    pairs["same_dtype"] = pairs["cpu_dtype"] == pairs["dtype"]
    pairs["same_sweep"] = pairs["cpu_benchmark"] == pairs["benchmark"]
    pairs = pairs.sort_values(
        ["gpu_row", "same_dtype", "same_sweep", "cpu_threads", "cpu_time_s"],
        ascending=[True, False, False, False, True],
        na_position="last",
    )
    # Only the dtype, sweep and thread count chosen first compete: the fastest impl there wins.
    chosen = ["gpu_row", "cpu_dtype", "cpu_benchmark", "cpu_threads"]
    pairs = pairs.merge(pairs.groupby("gpu_row").head(1)[chosen], on=chosen, how="inner")
    best = pairs.sort_values(["gpu_row", "cpu_time_s"]).groupby("gpu_row").head(1)
    out = best.drop(columns=["same_dtype", "same_sweep"]).reset_index(drop=True)
    out["cores"] = pd.to_numeric(out["fact_physical_cores"], errors="coerce").astype("Int64")
    out["gain"] = out["cpu_time_s"] / out["time_s"]
    out["gain_lo"] = out["cpu_lo"] / out["time_hi"]
    out["gain_hi"] = out["cpu_hi"] / out["time_lo"]
    if out.empty:
        out["fairness"] = pd.Series(dtype="string")
    else:
        out["fairness"] = out.apply(_fairness, axis=1).astype("string")
    return out.drop(columns=["gpu_row", "cpu_lo", "cpu_hi"])


def crossover_point(xs: list[float], gains: list[float]) -> tuple[float, float]:
    """(first measured size from which the GPU wins at every larger size, interpolated size).

    The interpolation is linear in log(size) and log(gain) between the last losing and the
    first winning point. (nan, nan) if the GPU does not win at the largest size; the smallest
    size twice if it wins everywhere measured (the crossover is at or below it).
    """
    pts = sorted(zip(xs, gains, strict=True))
    if not pts or not pts[-1][1] > 1:
        return math.nan, math.nan
    i = len(pts) - 1
    while i > 0 and pts[i - 1][1] > 1:
        i -= 1
    x1, g1 = pts[i]
    if i == 0:
        return x1, x1
    x0, g0 = pts[i - 1]
    if g0 <= 0 or g1 <= 0 or g1 == g0:
        return x1, x1
    t = -math.log(g0) / (math.log(g1) - math.log(g0))
    return x1, math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0)))


def crossovers(gain: pd.DataFrame) -> pd.DataFrame:
    """Per machine, commit, size axis, CUDA impl and dtype: where the GPU starts to win.

    Columns: machine, commit, grid, axis, benchmark, impl, dtype, loss, activation, crossover
    (first measured size from which it wins), crossover_est (log-interpolated), smallest,
    largest (sizes measured), gain_at_largest, cpu_impl_at_largest, cpu_threads (the CPU
    side's thread counts), cpu_dtype, fairness (the labels of all points), verdict (a phrase).
    """
    keys = ["machine", "commit", "grid", "axis", "benchmark", "impl", "dtype", "loss", "activation"]
    rows = []
    g = gain[gain["axis"].isin(SIZE_AXES)]
    for k, grp in g.groupby(keys, sort=True):
        grp = grp.sort_values("x")
        xs, gains = grp["x"].astype(float).tolist(), grp["gain"].tolist()
        cross, est = crossover_point(xs, gains)
        last = grp.iloc[-1]
        if math.isnan(cross):
            verdict = f"never wins up to {int(xs[-1])}"
        elif cross == xs[0] and len(xs) > 0 and all(v > 1 for v in gains):
            verdict = f"wins at every size measured (from {int(cross)})"
        else:
            verdict = f"wins from {int(cross)} (about {est:.0f} interpolated)"
        labels = sorted({f for f in grp["fairness"] if f != "fair"})
        threads = sorted({int(t) for t in grp["cpu_threads"].dropna()})
        rows.append(
            {
                **dict(zip(keys, k, strict=True)),
                "crossover": cross,
                "crossover_est": est,
                "smallest": xs[0],
                "largest": xs[-1],
                "gain_at_largest": last["gain"],
                "cpu_impl_at_largest": last["cpu_impl"],
                "cpu_threads": ",".join(map(str, threads)) or "unknown",
                "cpu_dtype": ",".join(sorted(set(grp["cpu_dtype"].astype(str)))),
                "fairness": "; ".join(labels) if labels else "fair",
                "verdict": verdict,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            *keys,
            "crossover",
            "crossover_est",
            "smallest",
            "largest",
            "gain_at_largest",
            "cpu_impl_at_largest",
            "cpu_threads",
            "cpu_dtype",
            "fairness",
            "verdict",
        ],
    )


def changes(st: pd.DataFrame) -> pd.DataFrame:
    """Each point's time at consecutive commits (by commit date) of one machine, and the ratio.

    ``ratio`` = new / old (below 1: faster); ``change`` is 'faster' or 'slower' when the ratio is
    beyond `CHANGE_FACTOR` and the two intervals do not overlap (intervals unknown: the factor
    alone decides), else 'same'.
    """
    point = ["machine", "benchmark", "impl", *POINT[3:]]
    ok = st[st["status"] == "ok"].sort_values(["date", "commit"])
    ok = ok.drop_duplicates([*point, "commit"], keep="last")
    cols = ["commit", "date", "time_s", "time_lo", "time_hi"]
    prev = ok.groupby(point, dropna=False, sort=False)[cols].shift(1)
    out = ok[[*point, *cols]].copy()
    for c in cols:
        out[f"{c}_old"] = prev[c]
    out = out.rename(columns={c: f"{c}_new" for c in cols})
    out = out[out["commit_old"].notna()].reset_index(drop=True)
    out["ratio"] = out["time_s_new"] / out["time_s_old"]
    apart = (out["time_lo_new"] > out["time_hi_old"]) | (out["time_hi_new"] < out["time_lo_old"])
    known = out[["time_lo_new", "time_hi_new", "time_lo_old", "time_hi_old"]].notna().all(axis=1)
    real = apart | ~known
    change = np.where(
        real & (out["ratio"] > CHANGE_FACTOR),
        "slower",
        np.where(real & (out["ratio"] < 1 / CHANGE_FACTOR), "faster", "same"),
    )
    out["change"] = pd.Series(change, index=out.index, dtype="string")
    return out


def latest(df: pd.DataFrame, machine: str | None = None, commit: str | None = None) -> pd.DataFrame:
    """The rows of one commit per machine: ``commit`` (a prefix) or the latest by commit date.

    ValueError (with what exists) when the machine or commit is not in the results.
    """
    if machine is not None:
        if machine not in set(df["machine"]):
            known = ", ".join(sorted(set(df["machine"])))
            raise ValueError(f"machine {machine!r} is not in the results (there: {known})")
        df = df[df["machine"] == machine]
    if commit is not None:
        sel = df[df["commit"].str.startswith(commit)]
        if sel.empty:
            known = ", ".join(sorted({c[:8] for c in df["commit"]}))
            raise ValueError(f"commit {commit!r} is not in the results (there: {known})")
        return sel
    order = df.sort_values(["date", "commit"]).groupby("machine")["commit"].last()
    return df[df["commit"] == df["machine"].map(order)]
