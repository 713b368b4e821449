"""Disturbed flags: the harness's sidecar of each results file -> which points were disturbed.

The harness watches the machine while asv times a point (other processes' CPU use, a reference
workload's speed) and writes what it saw beside asv's file, since asv's own format has no room
for it: ``<results>/<machine>/ffbench-flags/<commit>-<env>.jsonl``, one JSON object per line::

    {"run": "<sortable id, ISO time>", "benchmark": "<asv full name>", "point": "<label>",
     "disturbed": true, "attempts": 2, "others_cpu": 0.4, "reference_ratio": 1.3, "why": "...",
     "median": 0.00031, "seconds": 0.52, "waited_seconds": 0.1, "outweigh_seconds": 0.0}

(``median``: the round's own value, before asv pools the rounds; the times: the measurement's,
its wait for the machine's fast state, and its measuring on to outweigh a slow round.)

A point may be timed by several runs into the same results file (asv overwrites the value), so
only the newest ``run`` with lines for a (benchmark, point) speaks for it, and of its lines (one
per round, in the order they ran, and any the whole-run check added after) those that decide
asv's pooled value: a line with ``"overrules_earlier_rounds": true`` (a clean round that holds
more than three times the pool's other samples) sets aside the lines before it, and a line with
``"set_aside": true`` (a disturbed round that gave asv one sample beside clean rounds) flags
nothing. The point is disturbed when any line left says so. A point without a line has unknown
flags (not disturbed). `benchmarks.flags` writes these files and `benchmarks.protocol` decides
what a round gives the pool.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FLAGS_DIR = "ffbench-flags"
OVERRULES = "overrules_earlier_rounds"
SET_ASIDE = "set_aside"


@dataclass(frozen=True)
class Flag:
    """What the newest run says about one (benchmark, point)."""

    disturbed: bool
    why: str
    #: How slow the machine ran the reference around the rounds that decide the point, against
    #: its best: the geometric mean of their ``reference_ratio`` (1.0 where none has one).
    slowness: float = 1.0


def sidecar(result_file: Path) -> Path:
    """The flags file that belongs to ``<machine>/<commit>-<env>.json``."""
    return result_file.parent / FLAGS_DIR / f"{result_file.stem}.jsonl"


def read_lines(path: Path) -> tuple[list[dict], list[str]]:
    """(the sidecar's lines in file order, problems); ([], []) when there is none.

    A line that is not a JSON object with string ``run``, ``benchmark``, ``point`` and a
    boolean ``disturbed`` is skipped; the problems name the file and line, for the caller to
    warn about.
    """
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], []
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"skipping {path}: {exc}; disturbed flags unknown"]
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise TypeError("not a JSON object")
            run, bench, point = entry["run"], entry["benchmark"], entry["point"]
            if not all(isinstance(v, str) for v in (run, bench, point)):
                raise TypeError("run, benchmark and point must be strings")
            if not isinstance(entry["disturbed"], bool):
                raise TypeError("disturbed must be true or false")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            why = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            problems.append(f"{path} line {number} skipped: {why}")
            continue
        lines.append(entry)
    return lines, problems


def run_lines(path: Path, run: str) -> list[dict]:
    """``run``'s readable lines in the sidecar at ``path``, in file order."""
    return [line for line in read_lines(path)[0] if line["run"] == run]


def read_flags(path: Path) -> tuple[dict[tuple[str, str], Flag], list[str]]:
    """({(benchmark, point): Flag}, problems) from one sidecar, each point's from the newest
    run that measured it (`read_lines` says what is skipped)."""
    lines, problems = read_lines(path)
    newest: dict[tuple[str, str], str] = {}
    for line in lines:
        key = (line["benchmark"], line["point"])
        newest[key] = max(newest.get(key, ""), line["run"])
    return point_flags(
        ln for ln in lines if ln["run"] == newest[(ln["benchmark"], ln["point"])]
    ), problems


def point_flags(lines: Iterable[dict]) -> dict[tuple[str, str], Flag]:
    """{(benchmark, point): Flag} from one run's lines of each point, in file order: the lines
    that decide the point (see the module docstring) flag it and give its slowness."""
    deciding: dict[tuple[str, str], list[dict]] = {}
    for line in lines:
        key = (line["benchmark"], line["point"])
        if line.get(OVERRULES) is True:
            deciding[key] = []
        deciding.setdefault(key, []).append(line)
    return {
        key: _flag([ln for ln in kept if ln.get(SET_ASIDE) is not True])
        for key, kept in deciding.items()
    }


def _flag(lines: list[dict]) -> Flag:
    hit = [ln for ln in lines if ln["disturbed"]]
    ratios = [r for ln in lines if _positive(r := ln.get("reference_ratio"))]
    slow = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else 1.0
    return Flag(bool(hit), "; ".join(str(ln.get("why", "")) for ln in hit if ln.get("why")), slow)


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
