"""The GPU gain: each CUDA point against the best CPU implementation, and where it crosses 1.

Pure functions on `reports.stats.points` rows, no I/O. The GPU gain is the one comparison where
a CPU point of another thread count or dtype may be used (the fastest CPU side measured), and
then the row's ``fairness`` column says so: fewer threads than the machine's physical cores,
or another dtype.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from reports import sweeps
from reports.stats import as_objects
from reports.sweeps import SIZE_AXES


def _fairness(cpu_dtype, dtype, cores, threads) -> str:
    labels = []
    if cpu_dtype != dtype:
        labels.append(f"cross-dtype: CPU {cpu_dtype} vs GPU {dtype}")
    if pd.isna(threads):
        labels.append("CPU thread count unknown")
    elif pd.isna(cores):
        labels.append(f"CPU on {threads} thread{'' if threads == 1 else 's'}; core count unknown")
    elif int(threads) < int(cores):
        labels.append(f"CPU on {threads} of {cores} cores")
    return "; ".join(labels) if labels else "fair"


def gpu_gain(pts: pd.DataFrame) -> pd.DataFrame:
    """Each CUDA point over the best CPU implementation at the same machine, commit and size.

    The CPU side is chosen among CPU points of the same dtype if any exist (else any dtype),
    at the highest thread count measured there, as the fastest implementation at that count;
    so the CPU implementations are compared at equal threads. Columns added: cpu_impl,
    cpu_time_s, cpu_threads, cpu_dtype, cores (physical, from the machine facts), gain
    (= cpu_time_s / time_s), gain_lo, gain_hi, fairness ('fair', or what makes it unequal).
    """
    size = ["machine", "commit", "env", "loss", "activation", "batch", "d_in", "hidden", "d_out"]
    pts = as_objects(pts, [*size, "impl", "dtype", "device"])
    ok = pts[pts["status"] == "ok"]
    cuda = ok[ok["device"] == "cuda"].reset_index(drop=True)
    cuda["gpu_row"] = np.arange(len(cuda))
    cpu_cols = {"impl": "cpu_impl", "time_s": "cpu_time_s", "time_lo": "cpu_lo",
                "time_hi": "cpu_hi", "threads": "cpu_threads", "dtype": "cpu_dtype"}  # fmt: skip
    cpu = ok[ok["device"] == "cpu"][[*size, *cpu_cols]].rename(columns=cpu_cols)
    pairs = cuda.merge(cpu, on=size, how="inner")
    pairs["same_dtype"] = pairs["cpu_dtype"] == pairs["dtype"]
    pairs = pairs.sort_values(
        ["gpu_row", "same_dtype", "cpu_threads", "cpu_time_s"],
        ascending=[True, False, False, True],
        na_position="last",
    )
    # Only the dtype and thread count chosen first compete: the fastest impl there wins.
    chosen = ["gpu_row", "cpu_dtype", "cpu_threads"]
    pairs = pairs.merge(pairs.groupby("gpu_row").head(1)[chosen], on=chosen, how="inner")
    best = pairs.sort_values(["gpu_row", "cpu_time_s"]).groupby("gpu_row").head(1)
    out = best.drop(columns=["same_dtype"]).reset_index(drop=True)
    cores = out["fact_physical_cores"].astype(object) if len(out) else pd.Series(dtype=object)
    out["cores"] = pd.to_numeric(cores, errors="coerce").astype("Int64")
    out["gain"] = out["cpu_time_s"] / out["time_s"]
    out["gain_lo"] = out["cpu_lo"] / out["time_hi"]
    out["gain_hi"] = out["cpu_hi"] / out["time_lo"]
    out["fairness"] = [
        _fairness(*v)
        for v in zip(out["cpu_dtype"], out["dtype"], out["cores"], out["cpu_threads"], strict=True)
    ]
    out["fairness"] = out["fairness"].astype(object)
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


CROSS_KEYS = ["machine", "commit", "env", "sweep", "sweep_title", "axis", "impl", "dtype"]


def crossovers(gain: pd.DataFrame) -> pd.DataFrame:
    """Per machine, commit, size sweep of the CUDA points, CUDA impl and dtype: where the GPU
    starts to win. ``gain``: `gpu_gain` rows (sweeps are assigned here).

    Columns: the keys, crossover (first measured size from which it wins), crossover_est
    (log-interpolated), smallest, largest (sizes measured), gain_at_largest,
    cpu_impl_at_largest, cpu_threads (the CPU side's thread counts), cpu_dtype, fairness (the
    labels of all points), verdict (a phrase).
    """
    columns = [*CROSS_KEYS, "crossover", "crossover_est", "smallest", "largest",
               "gain_at_largest", "cpu_impl_at_largest", "cpu_threads", "cpu_dtype",
               "fairness", "verdict"]  # fmt: skip
    rows = []
    g = sweeps.assign(gain) if len(gain) else gain
    if len(g):
        g = g[g["axis"].isin(SIZE_AXES)]
        g = g.astype(dict.fromkeys(CROSS_KEYS, object))
    for k, grp in g.groupby(CROSS_KEYS, sort=True) if len(g) else []:
        grp = grp.sort_values("x")
        xs, gains = grp["x"].astype(float).tolist(), grp["gain"].tolist()
        cross, est = crossover_point(xs, gains)
        last = grp.iloc[-1]
        if math.isnan(cross):
            verdict = f"never wins up to {int(xs[-1])}"
        elif cross == xs[0] and all(v > 1 for v in gains):
            verdict = f"wins at every size measured (from {int(cross)})"
        else:
            verdict = f"wins from {int(cross)} (about {est:.0f} interpolated)"
        labels = sorted({f for f in grp["fairness"] if f != "fair"})
        threads = sorted({int(t) for t in grp["cpu_threads"].dropna()})
        rows.append(
            {
                **dict(zip(CROSS_KEYS, k, strict=True)),
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
    return pd.DataFrame(rows, columns=columns)
