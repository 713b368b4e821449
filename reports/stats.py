"""Statistics: tidy DataFrame (see `reports.load`) -> DataFrames of derived numbers.

Pure functions, no I/O. Every comparison here matches like with like: a speedup compares two
implementations at the same machine, commit, environment, dtype, thread count, cost, activation
and sizes, and leaves the speedup empty (with a note) when the baseline has no such point; it
never falls back to another dtype or thread count. Where the paired benchmark timed the
implementation against numpy alternately in one process, its ratio is the speedup (``paired``);
else the ratio of the two medians. The GPU gain, the one comparison that may cross thread
counts or dtypes, is `reports.gpu`; which sweeps a point lies on, `reports.sweeps`.

Uncertainty comes from asv's spread: each time's interval is its 99% confidence interval of the
median (``ci_99_a``..``ci_99_b``) where both ends are finite and positive, else the samples'
quartiles; a ratio's interval combines the two worst cases (lo = a_lo / b_hi, hi = a_hi / b_lo).
A point is ``flagged`` when its samples are spread (``unstable``) or the harness saw other load
while it ran (``disturbed``): tables show it marked, headlines never quote it.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

import impls
from impls.problem import Problem
from reports import sweeps

PROBLEM_FIELDS = ("batch", "d_in", "hidden", "d_out", "dtype", "loss", "activation")
#: Columns that identify one measured point apart from its implementation.
POINT = ("machine", "commit", "env", "dtype", "threads", "loss", "activation", *PROBLEM_FIELDS[:4])
#: The columns the history (changes between commits, the history figure) reads.
HISTORY_COLUMNS = ["machine", "commit", "date", "run_date", "env", "measure", "point", "impl",
                   *PROBLEM_FIELDS, "threads", "value", "status", "ci_99_a", "ci_99_b", "q_25",
                   "q_75", "disturbed"]  # fmt: skip
#: Relative interquartile range above which a time is flagged unstable (pyperf warns at 10%).
UNSTABLE_IQR = 0.10
#: A change between commits counts only beyond this factor and with non-overlapping intervals.
CHANGE_FACTOR = 1.10
#: The implementation the paired benchmark times every other one against.
PAIRED_BASELINE = "numpy"
ADVICE = (
    "rerun them with fewer threads (one thread is the stable setting), on a quieter machine, "
    "or with more rounds (nox -s bench -- -a rounds=4)"
)


def impl_device(name: object) -> str:
    """The device of an implementation; names from other commits are inferred from the suffix."""
    if not isinstance(name, str):
        return "unknown"
    try:
        return impls.registry.entry(name).device
    except ValueError:
        return "cuda" if name.endswith("-cuda") else "cpu"


def interval(df: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Each row's time interval (lo, hi) and its kind: 'ci99', 'iqr' or 'none'."""
    ci_ok = (df["ci_99_a"] > 0) & np.isfinite(df["ci_99_b"]) & (df["ci_99_b"] > 0)
    iqr_ok = (df["q_25"] > 0) & (df["q_75"] > 0)
    lo = df["ci_99_a"].where(ci_ok, df["q_25"].where(iqr_ok))
    hi = df["ci_99_b"].where(ci_ok, df["q_75"].where(iqr_ok))
    kind = pd.Series(np.where(ci_ok, "ci99", np.where(iqr_ok, "iqr", "none")), index=df.index)
    return lo, hi, kind


def codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(integer code per row, the values coded): equal values, equal codes; NA: -1."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(dtype=np.int64), np.asarray(column.cat.categories)
    found, uniques = pd.factorize(column)
    return found.astype(np.int64), np.asarray(uniques)


def instants(column: pd.Series) -> np.ndarray:
    """A date column as int64 ticks (same unit within the column), for sorting and grouping."""
    return pd.to_datetime(column, utc=True).array.asi8


def _spread_flags(out: pd.DataFrame) -> None:
    """``unstable``, ``disturbed`` and ``flagged`` of rows with ``value`` and quartiles."""
    value = out["value"].where(out["status"] == "ok")
    out["unstable"] = ((out["q_75"] - out["q_25"]) / value >= UNSTABLE_IQR).to_numpy(bool)
    out["disturbed"] = out["disturbed"].astype(bool)
    out["flagged"] = out["unstable"] | out["disturbed"]


def points(df: pd.DataFrame) -> pd.DataFrame:
    """The steady-state step times (measure ``time``), one row per point.

    Adds ``device`` (of the impl), ``time_s``, ``time_lo``, ``time_hi``, ``spread``,
    ``unstable`` (IQR >= `UNSTABLE_IQR` of the median) and ``flagged`` (unstable or disturbed).
    """
    out = df[(df["measure"] == "time") & df["impl"].notna()].copy()
    impl, names = codes(out["impl"])
    devices = np.asarray([impl_device(n) for n in names] + ["unknown"], dtype=object)
    out["device"] = pd.Categorical(devices[impl])
    out["time_s"] = out["value"].where(out["status"] == "ok")
    out["time_lo"], out["time_hi"], out["spread"] = interval(out)
    _spread_flags(out)
    return out.reset_index(drop=True)


def steps(df: pd.DataFrame) -> pd.DataFrame:
    """`points`, one row per (point, sweep it lies on): see `reports.sweeps.assign`."""
    return sweeps.assign(points(df))


def ceilings(df: pd.DataFrame) -> pd.DataFrame:
    """Measured peak GFLOP/s per (machine, commit, env, device, dtype, threads): the max over
    shapes.

    CPU peaks are per thread count (threads NA on CUDA): a point is held to the peak of its own.
    """
    g = df[(df["measure"] == "gemm") & (df["status"] == "ok")].copy()
    key = ["machine", "commit", "env", "device", "dtype", "threads"]
    cols = [*key, "peak_gflops", "peak_shape"]
    if g.empty:
        return pd.DataFrame(columns=cols)
    flops = 2.0 * g["m"].astype("float64") * g["k"].astype("float64") * g["n"].astype("float64")
    g["peak_gflops"] = flops / g["value"] / 1e9
    g["peak_shape"] = [f"{m}x{k}x{n}" for m, k, n in zip(g["m"], g["k"], g["n"], strict=True)]
    g[key[:5]] = g[key[:5]].astype(object)
    best = g.sort_values("peak_gflops").groupby(key, dropna=False, sort=True).tail(1)
    return best[cols].sort_values(key, na_position="first").reset_index(drop=True)


def launch_floor(df: pd.DataFrame) -> pd.DataFrame:
    """The launch/sync floor per (machine, commit, env, device): an empty step's time."""
    rows = df[(df["measure"] == "floor") & (df["status"] == "ok")]
    key = ["machine", "commit", "env", "device"]
    out = rows[[*key, "value"]].rename(columns={"value": "floor_s"})
    return out.astype(dict.fromkeys(key, object))


#: The measurements beside the steady-state time, by measure.
MEASURES = {
    "time": "time_s",
    "device_time": "device_time_s",
    "peakmem": "peak_rss_bytes",
    "gpu_memory": "gpu_peak_bytes",
    "first_step": "first_step_s",
    "relative": "relative_time",
}


def _fill_problem(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    defaults = Problem()
    for name in PROBLEM_FIELDS:
        col = rows[name].astype("Int64" if name in PROBLEM_FIELDS[:4] else object)
        rows[name] = col.fillna(getattr(defaults, name))
    return rows


def measurements(df: pd.DataFrame) -> pd.DataFrame:
    """Every measurement of each point side by side: wall and CUDA-event time, peak memory,
    the cold first step, the paired time relative to numpy. One row per (machine, commit, env,
    impl, point); NaN where not measured (or skipped, or failed)."""
    rows = df[df["measure"].isin(list(MEASURES)) & (df["status"] == "ok") & df["impl"].notna()]
    rows = _fill_problem(rows)
    rows["measure"] = rows["measure"].astype(object).map(MEASURES)
    key = ["machine", "commit", "env", "impl", *POINT[3:]]
    rows[key[:4]] = rows[key[:4]].astype(object)
    wide = rows.pivot_table(index=key, columns="measure", values="value", aggfunc="median")
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
    """``st`` rows plus ``flops`` (`impls.cost`), ``gflops`` and ``pct_peak`` of the same run's
    GEMM peak (same machine, commit, device, dtype; on CPU the same thread count); NaN where
    that peak was not measured."""
    out = st.copy()
    flops = [
        _flops(int(b), int(d), int(h), int(o), str(t), str(lo), str(a))
        for b, d, h, o, t, lo, a in zip(*(out[c] for c in PROBLEM_FIELDS), strict=True)
    ]
    out["flops"] = np.asarray(flops, dtype="float64")
    out["gflops"] = out["flops"] / out["time_s"] / 1e9
    key = ["machine", "commit", "env", "device", "dtype"]
    cuda = out["device"].astype(object) == "cuda"
    out["peak_threads"] = out["threads"].astype("Int64").mask(cuda)
    right = peaks[[*key, "threads", "peak_gflops"]].rename(columns={"threads": "peak_threads"})
    right = right.astype(dict.fromkeys(key, object))
    left = out.astype(dict.fromkeys(key, object))
    left["peak_threads"] = left["peak_threads"].astype("Int64")
    right["peak_threads"] = right["peak_threads"].astype("Int64")
    out = left.merge(right, on=[*key, "peak_threads"], how="left")
    out["pct_peak"] = 100.0 * out["gflops"] / out["peak_gflops"]
    return out.drop(columns=["peak_threads"])


def paired(df: pd.DataFrame) -> pd.DataFrame:
    """The paired relative times (impl's time / numpy's, alternating in one process), one row
    per point: the ratio, its interval and whether it is flagged."""
    rows = df[(df["measure"] == "relative") & (df["status"] == "ok") & df["impl"].notna()].copy()
    key = ["impl", *POINT]
    if rows.empty:
        return pd.DataFrame(columns=[*key, "ratio", "ratio_lo", "ratio_hi", "ratio_flagged"])
    lo, hi, _ = interval(rows)
    _spread_flags(rows)
    out = rows[key].astype(
        dict.fromkeys(("impl", *POINT[:3], "dtype", "loss", "activation"), object)
    )
    out = out.assign(ratio=rows["value"], ratio_lo=lo, ratio_hi=hi, ratio_flagged=rows["flagged"])
    return out.drop_duplicates(key, keep="last").reset_index(drop=True)


def as_objects(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``df`` with categorical key columns as plain objects, so merges match by value."""
    conv = {c: object for c in cols if c in df.columns and str(df[c].dtype) == "category"}
    return df.astype(conv) if conv else df


def speedup(
    st: pd.DataFrame, baseline: str = "numpy", pairs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Speedup of every point over ``baseline`` at the same point (see `POINT`).

    Where ``pairs`` (`paired`) has the point and the baseline is numpy, speedup = 1 / the
    paired ratio (``paired`` True; interval 1/hi .. 1/lo); else the ratio of medians. Columns
    added: baseline_impl, baseline_time_s, speedup, speedup_lo, speedup_hi, paired,
    speedup_flagged (the numbers it rests on are flagged), note (why a speedup is empty).
    """
    key = list(POINT)
    st = as_objects(st, [*key, "impl"])
    base = st[(st["impl"] == baseline) & (st["status"] == "ok")]
    cols = {"time_s": "baseline_time_s", "time_lo": "base_lo", "time_hi": "base_hi",
            "flagged": "base_flagged"}  # fmt: skip
    same = base[[*key, *cols]].rename(columns=cols).drop_duplicates(key)
    out = st.merge(same, on=key, how="left")
    out["baseline_impl"] = baseline
    out["speedup"] = out["baseline_time_s"] / out["time_s"]
    out["speedup_lo"] = out["base_lo"] / out["time_hi"]
    out["speedup_hi"] = out["base_hi"] / out["time_lo"]
    out["speedup_flagged"] = out["flagged"] | out["base_flagged"].fillna(False).astype(bool)
    out["paired"] = False
    if pairs is not None and baseline == PAIRED_BASELINE and not pairs.empty:
        p = as_objects(pairs, [*key, "impl"])
        out = out.merge(p, on=["impl", *key], how="left")
        has = (out["status"] == "ok") & out["ratio"].notna()
        out["speedup"] = out["speedup"].mask(has, 1.0 / out["ratio"])
        out["speedup_lo"] = out["speedup_lo"].mask(has, 1.0 / out["ratio_hi"])
        out["speedup_hi"] = out["speedup_hi"].mask(has, 1.0 / out["ratio_lo"])
        flagged = out["ratio_flagged"].astype("boolean").fillna(False).astype(bool)
        out["speedup_flagged"] = out["speedup_flagged"].mask(has, flagged)
        out["paired"] = has.to_numpy(bool)
        out = out.drop(columns=["ratio", "ratio_lo", "ratio_hi", "ratio_flagged"])
    note = pd.Series("", index=out.index, dtype=object)
    note = note.mask(out["status"] != "ok", out["status"].astype(object))
    missing = (out["status"] == "ok") & out["speedup"].isna()
    threads = out["threads"].astype("string").fillna("default").astype(object)
    note = note.mask(
        missing,
        f"no {baseline} point at " + out["dtype"].astype(object) + ", " + threads + " threads",
    )
    out["note"] = note
    return out.drop(columns=["base_lo", "base_hi", "base_flagged"])


#: Columns that describe a point in the changes table.
CHANGE_POINT = ["machine", "point", "impl", "dtype", "threads", "batch", "d_in", "hidden",
                "d_out", "loss", "activation"]  # fmt: skip


def changes(pts: pd.DataFrame, only_changed: bool = False) -> pd.DataFrame:
    """Each point's time at consecutive commits (by commit date) of one machine, and the ratio.

    ``ratio`` = new / old (below 1: faster); ``change`` is 'faster' or 'slower' when the ratio is
    beyond `CHANGE_FACTOR` and the two intervals do not overlap (intervals unknown: the factor
    alone decides), else 'same'; ``flagged`` when either time is flagged. ``pts``: `points`
    rows of one environment per commit (a point is its label). ``only_changed``: keep the
    faster and slower rows only. Vectorised: a history of a thousand commits is one sort.
    """
    ok = pts[pts["status"] == "ok"]
    machine, point = codes(ok["machine"])[0], codes(ok["point"])[0]
    date = instants(ok["date"])
    commit = codes(ok["commit"])[0]
    order = np.lexsort((commit, date, point, machine))
    m, p, c = machine[order], point[order], commit[order]
    follows = (m[1:] == m[:-1]) & (p[1:] == p[:-1]) & (c[1:] != c[:-1])
    new, old = order[1:][follows], order[:-1][follows]
    t = {k: ok[k].to_numpy(dtype="float64") for k in ("time_s", "time_lo", "time_hi")}
    flagged = ok["flagged"].to_numpy(bool)
    ratio = t["time_s"][new] / t["time_s"][old]
    lo_new, hi_new, lo_old, hi_old = (
        t["time_lo"][new],
        t["time_hi"][new],
        t["time_lo"][old],
        t["time_hi"][old],
    )
    apart = (lo_new > hi_old) | (hi_new < lo_old)
    known = ~(np.isnan(lo_new) | np.isnan(hi_new) | np.isnan(lo_old) | np.isnan(hi_old))
    real = apart | ~known
    change = np.where(
        real & (ratio > CHANGE_FACTOR),
        "slower",
        np.where(real & (ratio < 1 / CHANGE_FACTOR), "faster", "same"),
    )
    keep = change != "same" if only_changed else np.ones(len(new), dtype=bool)
    new, old = new[keep], old[keep]
    out = ok.iloc[new][[c for c in CHANGE_POINT if c in ok.columns]].reset_index(drop=True)
    for side, idx in (("new", new), ("old", old)):
        out[f"commit_{side}"] = ok["commit"].to_numpy()[idx]
        out[f"env_{side}"] = ok["env"].to_numpy()[idx]
        out[f"date_{side}"] = ok["date"].array.take(idx)
        for k in ("time_s", "time_lo", "time_hi"):
            out[f"{k}_{side}"] = t[k][idx]
    out["ratio"] = ratio[keep]
    out["change"] = change[keep]
    out["flagged"] = flagged[new] | flagged[old]
    out["date_new"] = pd.to_datetime(out["date_new"], utc=True)
    out["date_old"] = pd.to_datetime(out["date_old"], utc=True)
    return out


def choose_env(df: pd.DataFrame, env: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One environment per (machine, commit), and a sentence per environment left out.

    By default the one with the most ok points, ties broken by the newest run; ``env``: that
    one wherever it exists (ValueError, listing those there, if it exists nowhere).
    """
    envs = set(pd.unique(df["env"].astype(object))) if env is not None else set()
    if env is not None:
        if env not in envs:
            raise ValueError(
                f"env {env!r} is not in the results (there: {', '.join(sorted(envs))})"
            )
        return df[df["env"] == env], []
    (m, machines), (c, commits), (e, envs) = (codes(df[k]) for k in ("machine", "commit", "env"))
    key = (m * (len(commits) + 1) + c) * (len(envs) + 1) + e
    runs = pd.DataFrame({"key": key, "m": m, "c": c, "e": e, "run_date": instants(df["run_date"]),
                         "ok": (df["status"] == "ok").to_numpy(int)})  # fmt: skip
    counts = runs.groupby("key", sort=False).agg(
        m=("m", "first"), c=("c", "first"), e=("e", "first"), ok=("ok", "sum"),
        run_date=("run_date", "max"),
    )  # fmt: skip
    if not counts.duplicated(["m", "c"]).any():
        return df, []
    counts["name"] = envs[counts["e"].to_numpy()]
    counts = counts.sort_values(["ok", "run_date", "name"], ascending=[False, False, True])
    chosen = counts.drop_duplicates(["m", "c"])
    notes = [
        f"{machines[r.m]} commit {str(commits[r.c])[:8]}: env {r.name} ({r.ok} ok points) left out"
        for r in counts.drop(chosen.index).itertuples()
    ]
    return df[np.isin(key, chosen.index.to_numpy())], notes


def latest(df: pd.DataFrame, machine: str | None = None, commit: str | None = None) -> pd.DataFrame:
    """The rows of one commit per machine: ``commit`` (a prefix) or the latest by commit date.

    ValueError (with what exists) when the machine or commit is not in the results, or the
    commit prefix is empty.
    """
    if machine is not None:
        if machine not in set(df["machine"].astype(object)):
            known = ", ".join(sorted(set(df["machine"].astype(object))))
            raise ValueError(f"machine {machine!r} is not in the results (there: {known})")
        df = df[df["machine"] == machine]
    if commit is not None:
        if not commit:
            raise ValueError("commit prefix is empty: give the first digits of a commit hash")
        commits = pd.Series(df["commit"].astype(object).unique())
        match = set(commits[commits.str.startswith(commit)])
        if not match:
            known = ", ".join(sorted({c[:8] for c in commits}))
            raise ValueError(f"commit {commit!r} is not in the results (there: {known})")
        return df[df["commit"].astype(object).isin(match)]
    m, c = codes(df["machine"])[0], codes(df["commit"])[0]
    date = instants(df["date"])
    runs = pd.DataFrame({"m": m, "c": c, "date": date, "commit": df["commit"].to_numpy()})
    runs = runs.drop_duplicates(["m", "c"]).sort_values(["date", "commit"])
    last = runs.groupby("m")["c"].last()
    pick = np.full(int(m.max(initial=0)) + 1, -2, dtype=np.int64)
    pick[last.index.to_numpy()] = last.to_numpy()
    return df[pick[m] == c]
