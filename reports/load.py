"""Loading: an asv results directory (any machines, any commits) -> one tidy DataFrame.

This module only reads files; it computes nothing. asv's on-disk format (version 2) is parsed
directly, since asv's own loader is internal API:

- ``<results>/benchmarks.json``: per benchmark ``param_names``, ``type``, ``unit``;
- ``<results>/<machine>/machine.json``: asv's machine description, plus ffbench's own
  ``"ffbench_facts"`` (a flat dict written by the benchmarks; absent in older results);
- ``<results>/<machine>/<commit>-<env>.json``: ``result_columns`` names the fields of each row
  in ``results``; a row's ``result`` lists one value per entry of its one param, ``point`` (a
  label's repr, decoded by `impls.point.columns`), NaN where the point was skipped, null where
  it failed;
- ``<results>/<machine>/ffbench-flags/<commit>-<env>.jsonl``: the harness's disturbed flags
  (`reports.flags`).

Every benchmark takes one param, ``point``. Results saved before that (a cartesian product of
``impl``, ``batch``, ...) were measured under another protocol and are not comparable: they are
left out, with one warning saying how many, never one per benchmark.

The tidy schema: one row per (machine, commit, env, benchmark, point).

========================  =======================================================================
column                    meaning
========================  =======================================================================
machine                   asv machine name
commit                    full commit hash the result was saved against
date                      the commit's date (UTC Timestamp), from asv's ``date``
run_date                  when the file's benchmarks ran (UTC; asv's latest ``started_at``)
env                       asv environment name
benchmark                 full asv name, e.g. ``bench_step.Step.track_time``
suite                     the class part of the name, e.g. ``Step``
measure                   what the value is, from the method name: ``time``, ``peakmem``,
                          ``device_time``, ``gpu_memory``, ``first_step``, ``relative``,
                          ``gemm``, ``floor`` (`MEASURES`)
type unit                 asv's type (``time``, ``peakmemory``, ``track``) and unit
point                     the point's label, e.g. ``numpy/64x1000x100x10/float32/squared-relu/1t``
impl                      implementation name (NA where the label names none)
batch d_in hidden d_out   `impls.Problem` sizes (Int64; NA where the label names none)
dtype loss activation     `impls.Problem` choices (NA where the label names none)
threads                   CPU threads of the point (Int64; NA for CUDA ceilings and the floor)
device m k n              the ceiling labels' device and shape (NA elsewhere)
value                     asv's result: median seconds, bytes, a ratio; NaN unless ``ok``
status                    ``ok``; ``skipped`` (asv's NaN); ``failed`` (asv's null); ``bad``: an
                          impossible value (zero, negative or infinite), counted and warned about
ci_99_a ci_99_b           asv's 99% confidence interval of the median (NaN if absent)
q_25 q_75                 quartiles of the samples (NaN if absent)
number repeat             calls per sample, samples (Int64; NA if absent)
disturbed                 the harness flagged the point's newest run as disturbed (bool)
flags_known               the harness wrote a flag for the point (bool; False: ``disturbed``
                          is False for want of knowing)
disturbed_why             the harness's reason, where disturbed ('' elsewhere)
fact_<key>                each ``ffbench_facts`` entry of the machine; the `FACTS` columns
                          always exist, NA where unknown
asv_<key>                 asv's own machine.json entries (arch, cpu, num_cpu, os, ram)
========================  =======================================================================

Identity and label columns are categorical (a long history repeats them on every row). Files
that cannot be read are skipped with a `ResultsWarning` naming the file; the rest still load.
For a long history the loader is columnar (numbers go straight into arrays, each distinct list
of points is decoded once), parses many new files in parallel, and caches parsed files
(`reports.cache`) outside the results directory when given a cache directory.
"""

from __future__ import annotations

import ast
import errno
import hashlib
import json
import math
import multiprocessing
import os
import sys
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from impls import point as point_codec
from reports.cache import Cache, stamp
from reports.flags import read_flags, sidecar

#: Measures by asv method name.
MEASURES = {
    "track_time": "time",
    "peakmem_step": "peakmem",
    "track_device_time": "device_time",
    "track_gpu_peak_memory": "gpu_memory",
    "track_first_step": "first_step",
    "track_relative_time": "relative",
    "time_matmul": "gemm",
    "time_empty_step": "floor",
}
INT_COLUMNS = ("batch", "d_in", "hidden", "d_out", "threads", "m", "k", "n")
STR_COLUMNS = ("impl", "dtype", "loss", "activation", "device")
STATS = ("ci_99_a", "ci_99_b", "q_25", "q_75", "number", "repeat")
STATUSES = ("ok", "skipped", "failed", "bad")
#: Fact columns that always exist (NA where the machine did not record them).
FACTS = (
    "cpu_model",
    "physical_cores",
    "blas",
    "blas_threads",
    "torch_threads",
    "torch_version",
    "torch_cuda_build",
    "float32_matmul_precision",
    "tf32_matmul",
    "gpu_name",
    "gpu_memory_gib",
    "gpu_driver",
    "cuda_runtime",
)
ASV_MACHINE = ("arch", "cpu", "num_cpu", "os", "ram")
COLUMNS = (
    "machine",
    "commit",
    "date",
    "run_date",
    "env",
    "benchmark",
    "suite",
    "measure",
    "type",
    "unit",
    "point",
    *point_codec.COLUMNS,
    "value",
    "status",
    *STATS,
    "disturbed",
    "flags_known",
    "disturbed_why",
    *(f"fact_{f}" for f in FACTS),
    *(f"asv_{k}" for k in ASV_MACHINE),
)
RESULTS_VERSION = 2
BENCHMARKS_VERSION = 2
MACHINE_VERSION = 1
OLD_LAYOUT = "results from before point labels are not comparable with the current protocol"


class ResultsWarning(UserWarning):
    """A results file that could not be used; the message names it and says why."""


class ResultsError(Exception):
    """The results directory as a whole is unusable; the message says what to do."""


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


def _warn(message: str) -> None:
    warnings.warn(message, ResultsWarning, stacklevel=3)


def measure_of(benchmark: str) -> str:
    """``bench_step.Step.track_time`` -> ``time``; an unknown method keeps its own name."""
    method = benchmark.rsplit(".", 1)[-1]
    return MEASURES.get(method, method)


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


def check_root(root: Path) -> None:
    """ResultsError saying precisely why ``root`` is not a results directory, if it is not."""
    try:
        root.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ResultsError(f"results path {root} is a symlink loop") from None
        if exc.errno == errno.ENOENT:
            raise ResultsError(
                f"results directory {root} does not exist; run `nox -s bench` to make results"
            ) from None
        raise ResultsError(f"results path {root} cannot be read: {exc.strerror}") from None
    if not root.is_dir():
        raise ResultsError(f"results path {root} is a file, not a directory")


def read_benchmarks(results: Path) -> tuple[dict[str, dict], str]:
    """``benchmarks.json`` as ({name: description}, digest); ResultsError if unusable."""
    path = results / "benchmarks.json"
    if not path.is_file():
        raise ResultsError(
            f"{path} not found: no asv benchmark list there; run `nox -s bench` to make results"
        )
    try:
        raw = path.read_bytes()
        data = read_json(raw, BENCHMARKS_VERSION)
    except (OSError, ValueError, TypeError) as exc:
        raise ResultsError(f"{path} is unusable: {exc}; rerun `nox -s bench`") from None
    data.pop("version")
    benches = {k: v for k, v in data.items() if isinstance(v, dict)}
    return benches, hashlib.sha256(raw).hexdigest()


def read_machine(machine_dir: Path) -> dict[str, object]:
    """asv's machine.json plus ffbench's facts, flat: asv_<key> and fact_<key> entries."""
    path = machine_dir / "machine.json"
    row: dict[str, object] = {f"fact_{f}": None for f in FACTS}
    row.update({f"asv_{k}": None for k in ASV_MACHINE})
    if not path.exists():
        _warn(f"{machine_dir} has results but no machine.json; machine facts unknown")
        return row
    try:
        data = read_json(path.read_bytes(), MACHINE_VERSION)
    except (OSError, ValueError, TypeError) as exc:
        _warn(f"skipping {path}: {exc}; machine facts unknown")
        return row
    for key in ASV_MACHINE:
        if data.get(key) is not None:
            row[f"asv_{key}"] = str(data[key])
    facts = data.get("ffbench_facts")
    if isinstance(facts, dict):
        row.update({f"fact_{k}": v if _scalar(v) else str(v) for k, v in facts.items()})
    elif facts is not None:
        _warn(f"skipping {path}: ffbench_facts is not an object; machine facts unknown")
    return row


def _scalar(v: object) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


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
_LAYOUTS: dict[tuple, tuple] = {}


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
    out["layout"] = _LAYOUTS.setdefault(key, key)
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


def _machine_dirs(root: Path) -> list[Path]:
    """Folders holding results files: machine folders, with or without machine.json."""
    dirs = []
    for p in sorted(root.iterdir()):
        if p.is_dir() and ((p / "machine.json").exists() or _result_paths(p)):
            dirs.append(p)
    return dirs


def _result_paths(machine_dir: Path) -> list[Path]:
    return sorted(p for p in machine_dir.glob("*.json") if p.name != "machine.json")


def _timestamps(ms: list[float]) -> pd.DatetimeIndex:
    return pd.to_datetime(pd.Series(ms, dtype="float64"), unit="ms", utc=True)


def _categorical(values: list, index: np.ndarray) -> pd.Categorical:
    """``values[index]`` as a categorical, without building the repeated Python list."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    return pd.Categorical.from_codes(codes[index], categories=pd.Index(uniques, dtype=object))


def _layout_codes(files: list[dict]) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """(benchmark code per row, benchmark names, label code per row, labels): each distinct
    layout is coded once, then repeated for every file that has it."""
    names: dict[str, int] = {}
    labels: dict[str, int] = {}
    coded: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    bench_parts, label_parts = [], []
    for f in files:
        layout = f["layout"]
        codes = coded.get(id(layout))
        if codes is None:
            b = [names.setdefault(n, len(names)) for n, labs in layout for _ in labs]
            lab = [labels.setdefault(x, len(labels)) for _, labs in layout for x in labs]
            codes = (np.asarray(b, dtype=np.int64), np.asarray(lab, dtype=np.int64))
            coded[id(layout)] = codes
        bench_parts.append(codes[0])
        label_parts.append(codes[1])
    return (
        np.concatenate(bench_parts) if bench_parts else np.array([], dtype=np.int64),
        list(names),
        np.concatenate(label_parts) if label_parts else np.array([], dtype=np.int64),
        list(labels),
    )


def _frame(files: list[dict], machines: list[dict], meta: dict[str, dict]) -> pd.DataFrame:
    """Parsed files (each with a ``machine`` index into ``machines``) -> the tidy DataFrame;
    ``meta``: each benchmark's description from benchmarks.json."""
    counts = np.array([len(f["status"]) for f in files], dtype=np.int64)
    total = int(counts.sum())
    per_file = np.repeat(np.arange(len(files)), counts)
    machine_of_file = np.array([f["machine"] for f in files], dtype=np.int64)
    per_machine = machine_of_file[per_file]
    cols: dict[str, object] = {}
    cols["machine"] = _categorical([m["machine"] for m in machines], per_machine)
    cols["commit"] = _categorical([f["commit"] for f in files], per_file)
    cols["date"] = _timestamps([f["date"] for f in files]).array.take(per_file)
    cols["run_date"] = _timestamps([f["run_date"] for f in files]).array.take(per_file)
    cols["env"] = _categorical([f["env"] for f in files], per_file)
    bcodes, names, lcodes, labels = _layout_codes(files)
    for col, per_name in (
        ("benchmark", names),
        ("suite", [n.split(".")[-2] if n.count(".") >= 1 else "" for n in names]),
        ("measure", [measure_of(n) for n in names]),
        ("type", [meta[n].get("type") for n in names]),
        ("unit", [meta[n].get("unit") for n in names]),
    ):
        cols[col] = _categorical(per_name, bcodes)
    cols["point"] = pd.Categorical.from_codes(lcodes, categories=pd.Index(labels, dtype=object))
    decoded = [decode(lab) for lab in labels]
    for col in point_codec.COLUMNS:
        per_label = [d.get(col) for d in decoded]
        if col in INT_COLUMNS:
            cols[col] = pd.array(per_label, dtype="Int64").take(lcodes)
        else:
            cols[col] = _categorical(per_label, lcodes)
    for key in ("value", *STATS):
        cols[key] = np.concatenate([f[key] for f in files])
    status = np.concatenate([f["status"] for f in files]).astype(np.int64)
    cols["status"] = pd.Categorical.from_codes(status, categories=pd.Index(STATUSES, dtype=object))
    for key in ("number", "repeat"):
        cols[key] = pd.array(cols[key], dtype="Float64").astype("Int64")
    cols["disturbed"] = np.concatenate([f["disturbed"] for f in files])
    cols["flags_known"] = np.concatenate([f["known"] for f in files])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    whys = {int(start) + i: w for f, start in zip(files, starts, strict=True)
            for i, w in f["why"].items()}  # fmt: skip
    why_codes = np.zeros(total, dtype=np.int64)
    why_names = ["", *dict.fromkeys(whys.values())]
    lookup = {w: i for i, w in enumerate(why_names)}
    for row, w in whys.items():
        why_codes[row] = lookup[w]
    cols["disturbed_why"] = pd.Categorical.from_codes(
        why_codes, categories=pd.Index(why_names, dtype=object)
    )
    keys = dict.fromkeys(k for m in machines for k in m if k != "machine")
    for col in keys:
        cols[col] = _categorical([m.get(col) for m in machines], per_machine)
    for col in COLUMNS:
        cols.setdefault(col, pd.Categorical.from_codes(np.full(total, -1), categories=[]))
    df = pd.DataFrame(cols)
    extra = [c for c in df.columns if c not in COLUMNS]
    return df[[*COLUMNS, *extra]]


def load_results(results: str | Path, cache_dir: str | Path | None = None) -> pd.DataFrame:
    """Every readable result under ``results`` as one tidy DataFrame (schema above).

    Raises ResultsError when the directory is missing, has no benchmarks.json, or holds no
    usable result (naming the files skipped and why); warns (ResultsWarning) and skips each
    file that cannot be read. ``cache_dir``: where parsed files are kept between runs (never
    inside ``results``; None: no cache).
    """
    root = Path(results)
    check_root(root)
    benchmarks, digest = read_benchmarks(root)
    if cache_dir is not None:
        cache_r, root_r = Path(cache_dir).resolve(), root.resolve()
        if cache_r == root_r or root_r in cache_r.parents:
            cache_dir = None  # the results directory is never written to
    cache = Cache(None if cache_dir is None else Path(cache_dir), root, digest)
    files: list[dict] = []
    machines: list[dict] = []
    skipped: list[str] = []
    old_files, old_names = 0, set()
    found = []  # (machine index in dirs, machine dir, path, cache key, stamp, parsed or None)
    dirs = _machine_dirs(root)
    for m, machine_dir in enumerate(dirs):
        for path in _result_paths(machine_dir):
            key = str(path.relative_to(root))
            file_stamp = (stamp(path), stamp(sidecar(path)))
            found.append([m, path, key, file_stamp, cache.get(key, file_stamp)])
    fresh = parse_all([f[1] for f in found if f[4] is None], benchmarks)
    index: dict[int, int] = {}  # machine dir -> its index in `machines`, once it has a point
    for entry in found:
        m, path, key, file_stamp, parsed = entry
        if parsed is None:
            parsed = fresh.pop(0)
            if isinstance(parsed, str):
                _warn(f"skipping {path}: {parsed}")
                skipped.append(f"{path.name} ({parsed})")
                continue
            parsed["layout"] = _LAYOUTS.setdefault(parsed["layout"], parsed["layout"])
            cache.put(key, file_stamp, parsed)
        for text in parsed["warnings"]:
            _warn(text)
        if parsed["old"]:
            old_files += 1
            old_names.update(parsed["old"])
        if len(parsed["status"]):
            if m not in index:
                index[m] = len(machines)
                machines.append({"machine": dirs[m].name, **read_machine(dirs[m])})
            files.append({**parsed, "machine": index[m]})
    cache.save()
    if not files:
        if old_names and not skipped:
            raise ResultsError(
                f"only results from before point labels under {root} ({old_files} file"
                f"{'s' if old_files > 1 else ''}), not comparable with the current protocol; "
                "run `nox -s bench` to make new ones"
            )
        if skipped:
            shown = "; ".join(skipped[:5]) + (
                f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            )
            raise ResultsError(f"no usable asv results under {root}: every file skipped: {shown}")
        raise ResultsError(f"no asv results under {root}; run `nox -s bench` to make results")
    if old_names:
        example = min(old_names)
        _warn(
            f"left out {len(old_names)} benchmark{'s' if len(old_names) > 1 else ''} in "
            f"{old_files} file{'s' if old_files > 1 else ''} that benchmarks.json does not "
            f"describe with a point label (e.g. {example}): {OLD_LAYOUT}"
        )
    return _frame(files, machines, benchmarks)
