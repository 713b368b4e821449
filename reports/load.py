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

import errno
import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from impls import point as point_codec
from reports.cache import Cache, stamp
from reports.flags import sidecar
from reports.parse import LAYOUTS, STATS, STATUSES, decode, parse_all, read_json

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
    "address_layout",
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
BENCHMARKS_VERSION = 2
MACHINE_VERSION = 1
OLD_LAYOUT = "results from before point labels are not comparable with the current protocol"


class ResultsWarning(UserWarning):
    """A results file that could not be used; the message names it and says why."""


class ResultsError(Exception):
    """The results directory as a whole is unusable; the message says what to do."""


def _warn(message: str) -> None:
    warnings.warn(message, ResultsWarning, stacklevel=3)


def measure_of(benchmark: str) -> str:
    """``bench_step.Step.track_time`` -> ``time``; an unknown method keeps its own name."""
    method = benchmark.rsplit(".", 1)[-1]
    return MEASURES.get(method, method)


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
            parsed["layout"] = LAYOUTS.setdefault(parsed["layout"], parsed["layout"])
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
