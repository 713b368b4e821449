"""Loading: an asv results directory (any machines, any commits) -> one tidy DataFrame.

This module only reads files; it computes nothing. asv's on-disk format (version 2) is parsed
directly, since asv's own loader is internal API:

- ``<results>/benchmarks.json``: per benchmark ``param_names``, ``type``, ``unit``;
- ``<results>/<machine>/machine.json``: asv's machine description, plus ffbench's own
  ``"ffbench_facts"`` (a flat dict written by the benchmarks; absent in older results);
- ``<results>/<machine>/<commit>-<env>.json``: ``result_columns`` names the fields of each row
  in ``results``; a row's ``result`` is a list of values in the cartesian order of its ``params``
  (each param a list of repr strings), NaN where the point was skipped, null where it failed.

The tidy schema: one row per (machine, commit, env, benchmark, parameter point).

========================  =======================================================================
column                    meaning
========================  =======================================================================
machine                   asv machine name (str)
commit                    full commit hash the result was saved against (str)
date                      the commit's date (UTC Timestamp), from asv's ``date``
env                       asv environment name (str)
benchmark                 full asv name, e.g. ``bench_step.QuickBatch.time_step`` (str)
suite                     the class part of the name, e.g. ``QuickBatch`` (str)
type                      asv's type: ``time``, ``peakmemory``, ``track`` (str)
unit                      asv's unit: ``seconds``, ``bytes``, or a track's own (str)
impl                      implementation name (str; NA where the benchmark has no ``impl``)
batch d_in hidden d_out   `impls.Problem` sizes (Int64; NA where the benchmark does not vary it)
dtype loss activation     `impls.Problem` choices (str; NA where the benchmark does not vary it)
threads                   CPU threads set for the point (Int64; NA where not a parameter)
device m k n              the ceiling benchmarks' own parameters (str / Int64; NA elsewhere)
value                     asv's result: median seconds, bytes, ...; NaN unless status is ``ok``
status                    ``ok``, ``skipped`` (asv's NaN) or ``failed`` (asv's null)
ci_99_a ci_99_b           asv's 99% confidence interval of the median (float; NaN if absent)
q_25 q_75                 quartiles of the samples (float; NaN if absent)
number repeat             calls per sample, samples (Int64; NA if absent)
fact_<key>                each ``ffbench_facts`` entry of the machine (cpu_model, physical_cores,
                          blas, blas_threads, torch_threads, torch_version, torch_cuda_build,
                          float32_matmul_precision, tf32_matmul, gpu_name, gpu_memory_gib,
                          gpu_driver, cuda_runtime, ...); the ``FACTS`` columns always exist,
                          NA where unknown
asv_<key>                 asv's own machine.json entries: asv_arch, asv_cpu, asv_num_cpu,
                          asv_os, asv_ram (str; NA where unknown)
========================  =======================================================================

Parameters the benchmarks do not vary are NA here, never guessed: filling them (with
`impls.Problem`'s defaults) is the statistics layer's decision. Parameters not in the table above
keep their own name as a column (str or int, as their repr says). Files that cannot be read are
skipped with a `ResultsWarning` naming the file; the rest still load.
"""

from __future__ import annotations

import ast
import json
import math
import warnings
from itertools import product
from pathlib import Path

import pandas as pd

from impls.problem import STEP_PARAM_NAMES

#: Params whose values are integers: kept as pandas' nullable Int64.
INT_PARAMS = ("batch", "d_in", "hidden", "d_out", "threads", "m", "k", "n")
#: Params whose values are strings.
STR_PARAMS = ("impl", "dtype", "loss", "activation", "device")
STATS = ("ci_99_a", "ci_99_b", "q_25", "q_75", "number", "repeat")
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
    "env",
    "benchmark",
    "suite",
    "type",
    "unit",
    *STEP_PARAM_NAMES,
    "device",
    "m",
    "k",
    "n",
    "value",
    "status",
    *STATS,
    *(f"fact_{f}" for f in FACTS),
    *(f"asv_{k}" for k in ASV_MACHINE),
)
RESULTS_VERSION = 2
BENCHMARKS_VERSION = 2
MACHINE_VERSION = 1


class ResultsWarning(UserWarning):
    """A results file that could not be used; the message names it and says why."""


class ResultsError(Exception):
    """The results directory as a whole is unusable; the message says what to do."""


def _read_json(path: Path, version: int) -> dict:
    """Parse ``path``; ValueError or TypeError (with the reason) unless it is asv JSON of ``version``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON (truncated?): {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, found {type(data).__name__}")
    if data.get("version") != version:
        raise ValueError(f"asv format version {data.get('version')!r}, expected {version}")
    return data


def _warn(path: Path, why: str) -> None:
    warnings.warn(f"skipping {path}: {why}", ResultsWarning, stacklevel=3)


def _param_value(text: object) -> object:
    """asv stores each param as its repr: "'numpy'" -> 'numpy', "64" -> 64."""
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def read_benchmarks(results: Path) -> dict[str, dict]:
    """``benchmarks.json`` as {name: description}; ResultsError when missing or unusable."""
    path = results / "benchmarks.json"
    if not path.is_file():
        raise ResultsError(
            f"{path} not found: no asv benchmark list there; run `nox -s bench` to make results"
        )
    try:
        data = _read_json(path, BENCHMARKS_VERSION)
    except (OSError, ValueError, TypeError) as exc:
        raise ResultsError(f"{path} is unusable: {exc}; rerun `nox -s bench`") from None
    data.pop("version")
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def read_machine(machine_dir: Path) -> dict[str, object]:
    """asv's machine.json plus ffbench's facts, flat: asv_<key> and fact_<key> entries."""
    path = machine_dir / "machine.json"
    row: dict[str, object] = {f"fact_{f}": None for f in FACTS}
    row.update({f"asv_{k}": None for k in ASV_MACHINE})
    try:
        data = _read_json(path, MACHINE_VERSION)
    except (OSError, ValueError, TypeError) as exc:
        _warn(path, f"{exc}; machine facts unknown")
        return row
    for key in ASV_MACHINE:
        if data.get(key) is not None:
            row[f"asv_{key}"] = str(data[key])
    facts = data.get("ffbench_facts")
    if isinstance(facts, dict):
        row.update({f"fact_{k}": v for k, v in facts.items()})
    elif facts is not None:
        _warn(path, "ffbench_facts is not an object; machine facts unknown")
    return row


def _points(name: str, row: list, columns: list[str], param_names: list[str]) -> list[dict]:
    """One dict per parameter point of one benchmark's result row; ValueError if misshapen."""
    fields = dict(zip(columns, row, strict=False))  # asv drops trailing empty columns
    params = fields.get("params") or []
    if not isinstance(params, list) or not all(isinstance(p, list) for p in params):
        raise ValueError(f"{name}: params is not a list of lists")
    if len(params) != len(param_names):
        raise ValueError(
            f"{name}: {len(params)} param lists for {len(param_names)} param names {param_names}"
        )
    combos = list(product(*([_param_value(v) for v in values] for values in params)))
    result = fields.get("result")
    values = [None] * len(combos) if result is None else result
    if not isinstance(values, list) or len(values) != len(combos):
        raise ValueError(f"{name}: {len(combos)} parameter points but a result of another length")
    stats = {}
    for key in STATS:
        column = fields.get(f"stats_{key}")
        ok = isinstance(column, list) and len(column) == len(combos)
        stats[key] = column if ok else [None] * len(combos)
    points = []
    for i, combo in enumerate(combos):
        value = values[i]
        if value is None:
            status, value = "failed", math.nan
        elif isinstance(value, (int, float)) and math.isnan(value):
            status = "skipped"
        elif isinstance(value, (int, float)):
            status = "ok"
        else:
            raise ValueError(f"{name}: result {value!r} is not a number")
        point = dict(zip(param_names, combo, strict=True))
        point.update(value=float(value), status=status)
        for key in STATS:
            v = stats[key][i]
            point[key] = v if status == "ok" and isinstance(v, (int, float)) else None
        points.append(point)
    return points


def read_result_file(path: Path, benchmarks: dict[str, dict]) -> list[dict]:
    """The points of one ``<commit>-<env>.json`` file; ValueError when it cannot be used."""
    data = _read_json(path, RESULTS_VERSION)
    try:
        commit, env, columns = data["commit_hash"], data["env_name"], data["result_columns"]
        rows, date = data["results"], data.get("date")
    except KeyError as exc:
        raise ValueError(f"missing key {exc}") from None
    if not isinstance(rows, dict) or not isinstance(columns, list):
        raise TypeError("results is not an object or result_columns not a list")
    base = {
        "commit": str(commit),
        "env": str(env),
        "date": pd.Timestamp(date, unit="ms", tz="UTC") if date is not None else pd.NaT,
    }
    points = []
    for name, row in rows.items():
        bench = benchmarks.get(name)
        if bench is None:  # a benchmark since removed: its param names are no longer known
            _warn(path, f"benchmark {name} is not in benchmarks.json; its points are left out")
            continue
        if not isinstance(row, list):
            raise TypeError(f"{name}: row is not a list")
        parts = name.split(".")
        header = {
            **base,
            "benchmark": name,
            "suite": parts[-2] if len(parts) >= 2 else "",
            "type": bench.get("type"),
            "unit": bench.get("unit"),
        }
        points += [{**header, **p} for p in _points(name, row, columns, bench["param_names"])]
    return points


def _frame(records: list[dict]) -> pd.DataFrame:
    """Records -> the tidy DataFrame with the schema's columns and dtypes."""
    df = pd.DataFrame.from_records(records)
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    df["date"] = pd.to_datetime(df["date"], utc=True)
    for col in (*INT_PARAMS, "number", "repeat"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in ("value", "ci_99_a", "ci_99_b", "q_25", "q_75"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in (
        "machine",
        "commit",
        "env",
        "benchmark",
        "suite",
        "type",
        "unit",
        "status",
        *STR_PARAMS,
    ):
        df[col] = df[col].astype("string")
    extra = [c for c in df.columns if c not in COLUMNS]
    return df[[*COLUMNS, *extra]]


def load_results(results: str | Path) -> pd.DataFrame:
    """Every readable result under ``results`` as one tidy DataFrame (schema above).

    Raises ResultsError when the directory is missing, has no benchmarks.json, or holds no
    result at all; warns (ResultsWarning) and skips each file that cannot be read.
    """
    root = Path(results)
    if not root.is_dir():
        raise ResultsError(
            f"results directory {root} does not exist; run `nox -s bench` to make results"
        )
    benchmarks = read_benchmarks(root)
    records: list[dict] = []
    for machine_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if not (machine_dir / "machine.json").exists():
            continue  # not a machine directory (e.g. asv's html output)
        machine = {"machine": machine_dir.name, **read_machine(machine_dir)}
        for path in sorted(machine_dir.glob("*.json")):
            if path.name == "machine.json":
                continue
            try:
                points = read_result_file(path, benchmarks)
            except (OSError, ValueError, TypeError) as exc:
                _warn(path, str(exc))
                continue
            records += [{**machine, **p} for p in points]
    if not records:
        raise ResultsError(f"no asv results under {root}; run `nox -s bench` to make results")
    return _frame(records)
