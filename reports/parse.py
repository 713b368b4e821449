"""Parsing: one asv results file (and its disturbed-flags sidecar) -> arrays, no pandas.

`parse_file` reads a ``<commit>-<env>.json`` of the point-label layout (see `reports.load`) into
per-point arrays: numbers go straight into numpy, and a benchmark's list of labels is decoded
once per process (`impls.point.columns`), since a history repeats the same list in every file.
`parse_all` parses many files, in forked processes where a long history has hundreds of new
ones. Nothing here warns: problems come back as text for the loader to warn about, each time
the file is loaded, from the cache or not.
"""

from __future__ import annotations

import ast
import json
import math
import multiprocessing
import os
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

from impls import point as point_codec
from reports.flags import read_flags, sidecar

STATS = ("ci_99_a", "ci_99_b", "q_25", "q_75", "number", "repeat")
STATUSES = ("ok", "skipped", "failed", "bad")
RESULTS_VERSION = 2


def read_json(raw: bytes, version: int) -> dict:
    """Parse asv JSON ``raw``; ValueError or TypeError (with the reason) unless it is an object
    of format ``version``."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON (truncated?): {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, found {type(data).__name__}")
    if data.get("version") != version:
        raise ValueError(f"asv format version {data.get('version')!r}, expected {version}")
    return data


@lru_cache(maxsize=65536)
def decode(label: str) -> dict[str, object]:
    """`impls.point.columns`, remembered: a history repeats the same labels in every file."""
    return point_codec.columns(label)


def _label(text: object) -> object:
    """asv stores each param as its repr: "'numpy/64x…/1t'" -> 'numpy/64x…/1t'."""
    if isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        if "\\" not in inner and text[0] not in inner:
            return inner
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


_DECODED: dict[tuple, tuple[str, ...]] = {}


def _labels(reprs: list) -> tuple[str, ...]:
    """A benchmark's point labels from asv's reprs, each checked by `decode` (ValueError names
    the first malformed one); remembered, since a history repeats the same list in every
    file."""
    key = tuple(reprs)
    labels = _DECODED.get(key)
    if labels is None:
        labels = tuple(_label(v) for v in reprs)
        for label in labels:
            decode(label)
        _DECODED[key] = labels
    return labels


def _number(v: object) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


_NUMBER_TYPES = {int, float, type(None)}


def _floats(values: list | None, n: int) -> np.ndarray:
    """A list of numbers (None: NaN) as float64; all NaN where absent or not numbers."""
    if values is None:
        return np.full(n, math.nan)
    try:
        return np.asarray(values, dtype="float64")  # None -> NaN
    except (TypeError, ValueError):
        return np.asarray([_number(v) for v in values], dtype="float64")


def _statuses(name: str, values: list) -> tuple[np.ndarray, np.ndarray]:
    """(index in `STATUSES`, value; NaN unless ok) of each asv result entry: null is failed,
    NaN skipped, zero, negative or infinite bad. TypeError if an entry is not a number."""
    if not set(map(type, values)) <= _NUMBER_TYPES:
        v = next(v for v in values if type(v) not in _NUMBER_TYPES)
        raise TypeError(f"{name}: result {v!r} is not a number")
    value = np.asarray(values, dtype="float64")
    failed = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    nan = np.isnan(value)
    with np.errstate(invalid="ignore"):
        bad = ~nan & ((value <= 0) | np.isinf(value))
    status = np.where(failed, 2, np.where(nan, 1, np.where(bad, 3, 0))).astype("int8")
    return status, np.where(status == 0, value, math.nan)


#: Layouts seen in this process, so that files with the same benchmarks and points share one
#: object (a long history stores and pickles it once).
LAYOUTS: dict[tuple, tuple] = {}


def parse_file(path: Path, benchmarks: dict[str, dict]) -> dict:
    """One ``<commit>-<env>.json`` (and its flags) -> columns; ValueError when unusable.

    The result holds per-file scalars; ``layout``, a tuple of (benchmark, labels) in row
    order, shared by every file with the same points; per-point arrays (``status`` as an index
    into `STATUSES`, ``value``, the `STATS`, ``disturbed``, ``known``); ``why`` ({row: reason}
    where disturbed); and ``warnings`` (texts to warn each time the file is loaded, cached or
    not).
    """
    data = read_json(path.read_bytes(), RESULTS_VERSION)
    try:
        commit, env, columns = data["commit_hash"], data["env_name"], data["result_columns"]
        rows, date = data["results"], data.get("date")
    except KeyError as exc:
        raise ValueError(f"missing key {exc}") from None
    if not isinstance(commit, str) or not commit:
        raise ValueError(f"commit_hash is {commit!r}, not a commit hash")
    if not isinstance(env, str) or not env:
        raise ValueError(f"env_name is {env!r}, not an environment name")
    if not isinstance(rows, dict) or not isinstance(columns, list):
        raise TypeError("results is not an object or result_columns not a list")
    flags, problems = read_flags(sidecar(path))
    out: dict = {"commit": commit, "env": env, "date": _number(date), "warnings": problems,
                 "old": []}  # fmt: skip
    layout, started, bad = [], [], []
    lists: dict[str, list[np.ndarray]] = {
        k: [] for k in ("status", "value", *STATS, "disturbed", "known")
    }
    why: dict[int, str] = {}
    for name, row in rows.items():
        bench = benchmarks.get(name)
        if bench is None or list(bench.get("param_names", [])) != ["point"]:
            out["old"].append(name)
            continue
        if not isinstance(row, list):
            raise TypeError(f"{name}: row is not a list")
        fields = dict(zip(columns, row, strict=False))  # asv drops trailing empty columns
        params = fields.get("params")
        if not (isinstance(params, list) and len(params) == 1 and isinstance(params[0], list)):
            raise ValueError(f"{name}: params is not one list of point labels")
        try:
            labels = _labels(params[0])
        except (ValueError, TypeError) as exc:
            out["warnings"].append(f"{path}: {name} left out: {exc}")
            continue
        result = fields.get("result")
        values = [None] * len(labels) if result is None else result
        if not isinstance(values, list) or len(values) != len(labels):
            raise ValueError(f"{name}: {len(labels)} points but a result of another length")
        stats = {}
        for key in STATS:
            col = fields.get(f"stats_{key}")
            stats[key] = col if isinstance(col, list) and len(col) == len(labels) else None
        started.append(_number(fields.get("started_at")))
        layout.append((name, labels))
        status, value = _statuses(name, values)
        offset = sum(len(part) for part in lists["status"])
        for i in np.flatnonzero(status == 3):
            bad.append(f"{name} {labels[i]} = {values[i]!r}")
        lists["status"].append(status)
        lists["value"].append(value)
        for key in STATS:
            column = _floats(stats[key], len(labels))
            column[status != 0] = math.nan
            lists[key].append(column)
        known = np.zeros(len(labels), dtype=bool)
        disturbed = np.zeros(len(labels), dtype=bool)
        if flags:
            for i, label in enumerate(labels):
                flag = flags.get((name, label))
                if flag is not None:
                    known[i], disturbed[i] = True, flag.disturbed
                    if flag.disturbed:
                        why[offset + i] = flag.why
        lists["known"].append(known)
        lists["disturbed"].append(disturbed)
    if bad:
        shown = "; ".join(bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
        out["warnings"].append(
            f"{path}: {len(bad)} impossible value{'s' if len(bad) > 1 else ''} (zero, negative "
            f"or infinite) marked bad, never used: {shown}"
        )
    out["run_date"] = max((s for s in started if not math.isnan(s)), default=math.nan)
    key = tuple(layout)
    out["layout"] = LAYOUTS.setdefault(key, key)
    out["why"] = why
    empty = {"status": "int8", "disturbed": bool, "known": bool}
    for k, parts in lists.items():
        out[k] = np.concatenate(parts) if parts else np.array([], dtype=empty.get(k, "float64"))
    return out


def _parse_or_why(path: Path, benchmarks: dict[str, dict]) -> dict | str:
    """`parse_file`, or why ``path`` cannot be used."""
    try:
        return parse_file(path, benchmarks)
    except (OSError, ValueError, TypeError) as exc:
        return str(exc)


#: Files parsed per process when parsing in parallel (each worker gets a few files at a time).
_CHUNK = 64
_PARSE_ARGS: list = []


def _parse_index(i: int) -> dict | str:
    paths, benchmarks = _PARSE_ARGS
    return _parse_or_why(paths[i], benchmarks)


def parse_all(paths: list[Path], benchmarks: dict[str, dict]) -> list[dict | str]:
    """`_parse_or_why` of each path, in order; a long history (hundreds of new files) is
    parsed by forked processes on Linux when two or more CPUs are free."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if cpus < 2 or len(paths) < 4 * _CHUNK or not sys.platform.startswith("linux"):
        return [_parse_or_why(p, benchmarks) for p in paths]
    _PARSE_ARGS[:] = [paths, benchmarks]
    try:
        with multiprocessing.get_context("fork").Pool(min(cpus, 4)) as pool:
            return pool.map(_parse_index, range(len(paths)), chunksize=_CHUNK)
    finally:
        _PARSE_ARGS.clear()
