"""Sweeps from a point's columns: which one-axis sweeps a measured point belongs to.

The benchmarks time a list of points, not named sweeps, so the sweep is read from the sizes:
around the tutorial point (64, 1000, 100, 10; squared cost, relu) a point that differs only in
its batch lies on the batch sweep, and likewise for d_in and hidden; the scale sweep grows
batch, d_in and hidden together (batch/64 = d_in/1000 = hidden/100, d_out 10); the exercises
are the tutorial sizes with another cost or activation. The tutorial point lies on all of them.
A sweep is keyed by (axis, dtype, threads): its points share everything but the swept value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impls.problem import TUTORIAL_SIZES

#: Axes in drawing order, and the column each one sweeps (None: not a size).
AXES = {"batch": "batch", "d_in": "d_in", "hidden": "hidden", "scale": "batch", "exercises": None}
#: Axes along which a size grows (crossovers are computed on these only).
SIZE_AXES = ("batch", "d_in", "hidden", "scale")
AXIS_LABELS = {
    "batch": "batch size",
    "d_in": "input size d_in",
    "hidden": "hidden size",
    "scale": "batch (d_in and hidden scale with it)",
    "exercises": "cost / activation",
}
_FIXED = {
    "batch": "d_in 1000, hidden 100",
    "d_in": "batch 64, hidden 100",
    "hidden": "batch 64, d_in 1000",
    "scale": "batch, d_in, hidden x2 together from 64, 1000, 100",
    "exercises": "cost and activation at 64×1000×100×10",
}


def title(axis: str, dtype: object, threads: object) -> str:
    """'batch sweep — d_in 1000, hidden 100, float32, 1 thread'."""
    name = "exercises" if axis == "exercises" else f"{axis} sweep"
    t = "? threads" if pd.isna(threads) else f"{threads} thread{'' if threads == 1 else 's'}"
    return f"{name} — {_FIXED[axis]}, {dtype}, {t}"


def sweep_id(axis: str, dtype: object, threads: object) -> str:
    """A file-name-safe key, e.g. 'batch-float32-1t'."""
    return f"{axis}-{dtype}-{'x' if pd.isna(threads) else threads}t"


def _masks(df: pd.DataFrame) -> dict[str, pd.Series]:
    t = TUTORIAL_SIZES
    b, d, h, o = (df[c].astype("float64") for c in ("batch", "d_in", "hidden", "d_out"))
    default = (df["loss"].astype(object) == "squared") & (df["activation"].astype(object) == "relu")
    base = default & (o == t["d_out"])
    return {
        "batch": base & (d == t["d_in"]) & (h == t["hidden"]),
        "d_in": base & (b == t["batch"]) & (h == t["hidden"]),
        "hidden": base & (b == t["batch"]) & (d == t["d_in"]),
        "scale": base & (b * t["d_in"] == d * t["batch"]) & (b * t["hidden"] == h * t["batch"]),
        "exercises": (b == t["batch"]) & (d == t["d_in"]) & (h == t["hidden"]) & (o == t["d_out"]),
    }


def assign(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (row of ``df``, sweep it lies on), with ``axis``, ``x`` (the swept value; NA
    for the exercises), ``sweep`` (`sweep_id`) and ``sweep_title`` (`title`).

    A size sweep counts where it has two or more sizes in a run (machine, commit, env), the
    exercises where a run has a point with another cost or activation; rows on no sweep are
    left out. ``df`` needs the size, loss, activation, dtype and threads columns.
    """
    parts = []
    masks = _masks(df)
    for axis, mask in masks.items():
        rows = df[mask.fillna(False).to_numpy(dtype=bool)]
        if rows.empty:
            continue
        col = AXES[axis]
        x = rows[col].astype("Int64") if col else pd.array([pd.NA] * len(rows), dtype="Int64")
        parts.append(rows.assign(axis=axis, x=x))
    cols = [*df.columns, "axis", "x", "sweep", "sweep_title"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    run = [c for c in ("machine", "commit", "env") if c in out.columns]
    key = [*run, "axis", "dtype", "threads"]
    keys = out[key].astype(object).fillna("?")
    other = (out["loss"].astype(object) != "squared") | (out["activation"].astype(object) != "relu")
    grouped = pd.DataFrame({"x": out["x"].astype("float64"), "other": other}).groupby(
        [keys[c] for c in key], sort=False
    )
    sizes = grouped["x"].transform("nunique")
    exercise = grouped["other"].transform("any")
    keep = np.where(out["axis"] == "exercises", exercise, sizes >= 2).astype(bool)
    out = out[keep].reset_index(drop=True)
    combos = out[["axis", "dtype", "threads"]].astype(object).drop_duplicates()
    ids = {tuple(c): (sweep_id(*c), title(*c)) for c in combos.itertuples(index=False)}
    triples = list(zip(out["axis"], out["dtype"].astype(object), out["threads"], strict=True))
    out["sweep"] = pd.Categorical([ids[tuple(k)][0] for k in triples])
    out["sweep_title"] = pd.Categorical([ids[tuple(k)][1] for k in triples])
    return out


def order(sweeps: pd.DataFrame) -> list[str]:
    """Sweep ids in reading order: axis, then dtype, then threads."""
    rank = {a: i for i, a in enumerate(AXES)}
    combos = sweeps[["sweep", "axis", "dtype", "threads"]].astype(object).drop_duplicates("sweep")
    combos = combos.assign(rank=combos["axis"].map(rank))
    combos = combos.sort_values(["rank", "dtype", "threads"], na_position="last")
    return list(combos["sweep"])
