"""What a benchmark process tells beside its number: the disturbed flag, progress, the reference.

asv's results files hold one number (and its samples) per point and nothing else, so the
outcome of the load checks (`benchmarks.protocol`) goes to a sidecar that ``python -m reports``
reads: ``$FFBENCH_FLAGS_DIR/<commit>-<env>.jsonl``, one JSON object per point measurement::

    {"run": "...", "benchmark": "bench_step.Step.track_time", "point": "<label>",
     "disturbed": false, "attempts": 1, "others_cpu": 0.03, "reference_ratio": 1.02, "why": ""}

``python -m benchmarks`` sets the variables (`FLAGS_DIR`, `RUN`, `COMMIT`, `ENV`, `PROGRESS`); a plain
``asv run`` sets none of them, and then its points are measured the same way but the flags are
not kept (the report says flags are unknown). Lines are appended with one ``write`` each, so
concurrent processes do not interleave them.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

FLAGS_DIR = "FFBENCH_FLAGS_DIR"
RUN = "FFBENCH_RUN"
COMMIT = "FFBENCH_COMMIT"
PROGRESS = "FFBENCH_PROGRESS"
#: asv's environment name, for environments where asv does not set ASV_ENV_NAME (``--python``).
ENV = "FFBENCH_ENV"


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def flags_file() -> Path | None:
    folder = os.environ.get(FLAGS_DIR)
    commit = os.environ.get(COMMIT) or os.environ.get("ASV_COMMIT")
    env = os.environ.get("ASV_ENV_NAME") or os.environ.get(ENV)
    if not (folder and commit and env):
        return None
    return Path(folder) / f"{commit[:8]}-{env}.jsonl"


def record(benchmark: str, label: str, **outcome) -> None:
    """Keep one point measurement's outcome (where the runner asked for it) and count it."""
    path = flags_file()
    if path is not None:
        row = {"run": os.environ.get(RUN, ""), "benchmark": benchmark, "point": label, **outcome}
        _append(path, json.dumps(row, sort_keys=True))
    tick()


def tick() -> None:
    """One point measurement done, for the runner's progress line."""
    progress = os.environ.get(PROGRESS)
    if progress:
        _append(Path(progress), "1")


def _reference_file() -> Path | None:
    run = os.environ.get(RUN)
    if not run:
        return None
    safe = "".join(c if c.isalnum() else "-" for c in run)
    return Path(tempfile.gettempdir()) / f"ffbench-reference-{safe}.json"


def best_reference(seconds: float, key: str = "best") -> float:
    """This run's best reference time so far under ``key`` (a core), this one included (kept in
    a temporary file named by the run, so every process of the run compares with the same)."""
    path = _reference_file()
    if path is None:
        return seconds
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    best = min(seconds, float(known.get(key, math.inf)))
    if best < float(known.get(key, math.inf)):
        known[key] = best
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        tmp.replace(path)
    return best
