"""Presentation, tables: statistics DataFrames -> the tables a reader sees (CSV and markdown).

Each ``*_table`` picks and orders columns and rows; `markdown` and the ``fmt_*`` helpers turn
numbers into text. CSV tables keep full-precision numbers; markdown/HTML tables use the text.
"""

from __future__ import annotations

import math

import pandas as pd

#: speedup.csv's columns: the point first, then the comparison, then its quality.
SPEEDUP_COLUMNS = [
    "machine",
    "commit",
    "env",
    "point",
    "impl",
    "dtype",
    "threads",
    "batch",
    "d_in",
    "hidden",
    "d_out",
    "time_s",
    "baseline_impl",
    "baseline_time_s",
    "speedup",
    "speedup_lo",
    "speedup_hi",
    "paired",
    "loss",
    "activation",
    "status",
    "spread",
    "unstable",
    "disturbed",
    "speedup_flagged",
    "note",
]
GAIN_COLUMNS = [
    "machine",
    "commit",
    "env",
    "point",
    "impl",
    "dtype",
    "batch",
    "d_in",
    "hidden",
    "d_out",
    "time_s",
    "cpu_impl",
    "cpu_time_s",
    "cpu_threads",
    "cpu_dtype",
    "cores",
    "gain",
    "gain_lo",
    "gain_hi",
    "fairness",
    "flagged",
    "loss",
    "activation",
]
THROUGHPUT_COLUMNS = [
    "machine",
    "commit",
    "env",
    "point",
    "impl",
    "device",
    "dtype",
    "threads",
    "batch",
    "d_in",
    "hidden",
    "d_out",
    "time_s",
    "flops",
    "gflops",
    "peak_gflops",
    "pct_peak",
    "flagged",
    "loss",
    "activation",
]
ORDER = ["machine", "commit", "env", "impl", "dtype", "threads", "batch", "d_in", "hidden",
         "d_out", "loss", "activation"]  # fmt: skip


def plain(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with categorical columns as plain values (they sort by value, not by category)."""
    conv = {c: object for c in df.columns if str(df[c].dtype) == "category"}
    return df.astype(conv) if conv else df


def _sorted(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    keys = [c for c in ORDER if c in columns]
    return plain(df[columns]).sort_values(keys, na_position="last").reset_index(drop=True)


def _sizes(t: pd.DataFrame) -> list[str]:
    """'B×D×H×O' per row: the four sizes of the step."""
    return [
        f"{b}×{d}×{h}×{o}"
        for b, d, h, o in zip(t["batch"], t["d_in"], t["hidden"], t["d_out"], strict=True)
    ]


def _with_exercises(view: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    """``view`` plus a 'cost, act' column after the sizes when more than one cost or activation
    appears (the exercise sweeps); without it their rows would look like duplicates."""
    if len(t[["loss", "activation"]].drop_duplicates()) < 2 or "cost, act" in view.columns:
        return view
    at = list(view.columns).index("B×D×H×O") + 1
    view.insert(at, "cost, act", list(t["loss"] + ", " + t["activation"]))
    return view


def speedup_table(sp: pd.DataFrame) -> pd.DataFrame:
    return _sorted(sp, SPEEDUP_COLUMNS)


def gain_table(gain: pd.DataFrame) -> pd.DataFrame:
    return _sorted(gain, GAIN_COLUMNS)


def throughput_table(th: pd.DataFrame) -> pd.DataFrame:
    """Measured points only: a skipped point has no throughput (speedup.csv lists them)."""
    return _sorted(th[th["status"] != "skipped"], [*THROUGHPUT_COLUMNS, "status"])


def fmt_time(seconds: float) -> str:
    """1.5e-4 -> '150 µs'; missing -> '—'."""
    if seconds is None or pd.isna(seconds):
        return "—"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(value: float, lo: float = math.nan, hi: float = math.nan) -> str:
    """3.2 with interval (2.9, 3.5) -> '3.2x [2.9–3.5]'; missing -> '—'."""
    if value is None or pd.isna(value):
        return "—"
    text = f"{value:.3g}x"
    if not (pd.isna(lo) or pd.isna(hi)):
        text += f" [{lo:.3g}–{hi:.3g}]"
    return text


def fmt_num(value: object, digits: int = 3) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _time_text(t: pd.DataFrame) -> list[str]:
    """Each time as text, '!' where unstable, '~' where disturbed; the status where not ok."""
    return [
        (fmt_time(v) + (" !" if u else "") + (" ~" if d else "")) if s == "ok" else s
        for v, s, u, d in zip(t["time_s"], t["status"], t["unstable"], t["disturbed"], strict=True)
    ]


def speedup_view(sp: pd.DataFrame) -> pd.DataFrame:
    """The speedup table as text, one row per point and impl; baseline rows and skipped points
    (e.g. CUDA on a CPU machine) are left to the CSV. A paired speedup says so."""
    t = speedup_table(sp[(sp["impl"] != sp["baseline_impl"]) & (sp["status"] != "skipped")])
    view = pd.DataFrame(
        {
            "machine": t["machine"],
            "commit": t["commit"].str[:8],
            "impl": t["impl"],
            "dtype": t["dtype"],
            "threads": [fmt_num(v) for v in t["threads"]],
            "B×D×H×O": _sizes(t),
            "time": _time_text(t),
            f"vs {t['baseline_impl'].iloc[0] if len(t) else 'baseline'}": [
                n if n else fmt_ratio(v, lo, hi) + (" paired" if p else "")
                for v, lo, hi, n, p in zip(
                    t["speedup"],
                    t["speedup_lo"],
                    t["speedup_hi"],
                    t["note"],
                    t["paired"],
                    strict=True,
                )
            ],
        }
    )
    return _with_exercises(view, t)


def gain_view(gain: pd.DataFrame) -> pd.DataFrame:
    """The GPU-gain table as text; the CPU side's threads and dtype always shown."""
    t = gain_table(gain)
    view = pd.DataFrame(
        {
            "machine": t["machine"],
            "GPU impl": t["impl"],
            "dtype": t["dtype"],
            "B×D×H×O": _sizes(t),
            "GPU time": [fmt_time(v) for v in t["time_s"]],
            "best CPU": t["cpu_impl"],
            "CPU threads": [fmt_num(v) for v in t["cpu_threads"]],
            "CPU dtype": t["cpu_dtype"],
            "CPU time": [fmt_time(v) for v in t["cpu_time_s"]],
            "gain": [
                fmt_ratio(*v) for v in zip(t["gain"], t["gain_lo"], t["gain_hi"], strict=True)
            ],
            "fairness": t["fairness"],
            "flagged": ["yes" if f else "" for f in t["flagged"]],
        }
    )
    return _with_exercises(view, t)


def crossover_view(cross: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "machine": cross["machine"],
            "sweep": cross["sweep_title"],
            "GPU impl": cross["impl"],
            "dtype": cross["dtype"],
            "GPU wins": cross["verdict"],
            "gain at largest": [fmt_ratio(v) for v in cross["gain_at_largest"]],
            "largest": [fmt_num(int(v)) for v in cross["largest"]],
            "vs CPU": cross["cpu_impl_at_largest"],
            "CPU threads": cross["cpu_threads"],
            "CPU dtype": cross["cpu_dtype"],
            "fairness": cross["fairness"],
        }
    )


def _point_columns(t: pd.DataFrame) -> dict[str, object]:
    """The columns that name a measured point: machine, impl, dtype, threads, sizes."""
    return {
        "machine": t["machine"],
        "impl": t["impl"],
        "dtype": t["dtype"],
        "threads": [fmt_num(v) for v in t["threads"]],
        "B×D×H×O": _sizes(t),
    }


def throughput_view(th: pd.DataFrame) -> pd.DataFrame:
    t = throughput_table(th[th["time_s"].notna()])
    view = pd.DataFrame(
        {
            **_point_columns(t),
            "time": [fmt_time(v) for v in t["time_s"]],
            "GFLOP/s": [fmt_num(v) for v in t["gflops"]],
            "% of peak": [fmt_num(v, 2) if not pd.isna(v) else "—" for v in t["pct_peak"]],
        }
    )
    return _with_exercises(view, t)


def changes_view(ch: pd.DataFrame, last: int = 50) -> pd.DataFrame:
    """The changes (not the 'same' rows) into the ``last`` commits of each machine, newest
    first."""
    t = plain(ch[ch["change"] != "same"])
    if len(t):
        rank = t.groupby("machine")["date_new"].rank(method="dense", ascending=False)
        t = t[rank <= last].sort_values(["machine", "date_new"], ascending=[True, False])
    view = pd.DataFrame(
        {
            **_point_columns(t),
            "from": t["commit_old"].str[:8],
            "to": t["commit_new"].str[:8],
            "time before": [fmt_time(v) for v in t["time_s_old"]],
            "time after": [fmt_time(v) for v in t["time_s_new"]],
            "new/old": [fmt_num(v) for v in t["ratio"]],
            "change": t["change"]
            + pd.Series(["" if not f else " (flagged)" for f in t["flagged"]], index=t.index),
        }
    )
    return _with_exercises(view, t)


def fmt_bytes(n: float) -> str:
    if n is None or pd.isna(n):
        return "—"
    return f"{n / 2**20:.4g} MiB"


def measurements_view(m: pd.DataFrame) -> pd.DataFrame:
    t = plain(m).sort_values(ORDER)
    return pd.DataFrame(
        {
            "machine": t["machine"],
            "impl": t["impl"],
            "dtype": t["dtype"],
            "threads": [fmt_num(v) for v in t["threads"]],
            "B×D×H×O": _sizes(t),
            "loss, act": t["loss"] + ", " + t["activation"],
            "wall time": [fmt_time(v) for v in t["time_s"]],
            "device time": [fmt_time(v) for v in t["device_time_s"]],
            "peak RSS": [fmt_bytes(v) for v in t["peak_rss_bytes"]],
            "GPU peak": [fmt_bytes(v) for v in t["gpu_peak_bytes"]],
            "first step": [fmt_time(v) for v in t["first_step_s"]],
            "paired time / numpy's": [fmt_num(v) for v in t["relative_time"]],
        }
    )


def peaks_view(peaks: pd.DataFrame, floors: pd.DataFrame) -> pd.DataFrame:
    """Measured GEMM peak per device and dtype, with the device's launch/sync floor."""
    t = peaks.merge(floors, on=["machine", "commit", "env", "device"], how="outer")
    return pd.DataFrame(
        {
            "machine": t["machine"],
            "commit": t["commit"].str[:8],
            "device": t["device"],
            "dtype": t["dtype"],
            "threads": [fmt_num(v) for v in t["threads"]],
            "peak GFLOP/s": [fmt_num(v, 4) for v in t["peak_gflops"]],
            "at m×k×n": t["peak_shape"],
            "empty step (floor)": [fmt_time(v) for v in t["floor_s"]],
        }
    )


def markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of ``df``'s text (pipes escaped)."""

    def cell(v: object) -> str:
        return fmt_num(v).replace("|", "\\|")

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def fmt_gib(n: object) -> str:
    """A byte count as GiB ('25276510208' -> '23.5 GiB'); under 1 GiB in MiB; unknown: '—'."""
    try:
        value = float(str(n))
    except ValueError:
        return "—"
    if math.isnan(value) or value <= 0:
        return "—"
    return f"{value / 2**30:.1f} GiB" if value >= 2**30 else f"{value / 2**20:.0f} MiB"


def _first(rows: pd.DataFrame, *cols: str) -> object:
    """The first known value of the first of ``cols`` that has one (None if none has)."""
    for c in cols:
        known = rows[c].dropna() if c in rows.columns else ()
        if len(known):
            return known.iloc[0]
    return None


def _text(value: object, none: str = "—") -> str:
    return none if value is None or value == "" else str(value)


def machines_view(df: pd.DataFrame) -> pd.DataFrame:
    """Where and when, one column per machine (so that it fits a narrow window): when the run
    ran (not the commit's date), the CPU, its cores and the thread counts measured, BLAS,
    torch, GPU and RAM in GiB: what a reader needs before believing any number below it."""
    out = []
    for machine, rows in plain(df).groupby("machine", sort=True):
        on_gpu = (rows["device"] == "cuda") | rows["impl"].astype(str).str.endswith("-cuda")
        cpu = rows[~on_gpu & (rows["status"] == "ok")]
        used = sorted({int(t) for t in cpu["threads"].dropna()})
        pools = [f"{name} pool {int(v)}" for name, v in (
            ("BLAS", _first(rows, "fact_blas_threads")),
            ("torch", _first(rows, "fact_torch_threads"))) if v is not None]  # fmt: skip
        torch = _text(_first(rows, "fact_torch_version"))
        build = _first(rows, "fact_torch_cuda_build")
        gpu_name, gpu_mem = _first(rows, "fact_gpu_name"), _first(rows, "fact_gpu_memory_gib")
        facts = any(rows[c].notna().any() for c in rows.columns if c.startswith("fact_"))
        gpu = _text(gpu_name, "none" if facts else "—")  # no facts at all: unknown, not none
        if gpu_name is not None and gpu_mem is not None:
            gpu += f" ({float(gpu_mem):.0f} GiB)"
        cores = _first(rows, "fact_physical_cores")
        logical = _first(rows, "asv_num_cpu")
        ran = rows["run_date"].dropna().max() if "run_date" in rows.columns else None
        out.append({
            "machine": machine,
            "ran": "—" if ran is None or pd.isna(ran) else f"{ran:%Y-%m-%d %H:%M} UTC",
            "commit": ", ".join(sorted({str(c)[:8] for c in rows["commit"]})),
            "CPU": _text(_first(rows, "fact_cpu_model", "asv_cpu")),
            "cores": f"{_text(cores, '?')} physical, {_text(logical, '?')} logical",
            "threads measured": (", ".join(map(str, used)) or "—")
            + (f" ({', '.join(pools)})" if pools else ""),
            "BLAS": _text(_first(rows, "fact_blas")),
            "torch": torch + (f", CUDA {build}" if build is not None else ""),
            "GPU": gpu,
            "RAM": fmt_gib(_first(rows, "asv_ram")),
            "address layout": _text(_first(rows, "fact_address_layout")),
        })  # fmt: skip
    if not out:
        return pd.DataFrame({"machine": []})
    per = pd.DataFrame(out).set_index("machine").T.rename_axis(columns=None)
    return per.reset_index(names="machine")
