"""Disturbed flags: the harness's sidecar of each results file -> which points were disturbed.

The harness watches the machine while asv times a point (other processes' CPU use, a reference
workload's speed) and writes what it saw beside asv's file, since asv's own format has no room
for it: ``<results>/<machine>/ffbench-flags/<commit>-<env>.jsonl``, one JSON object per line::

    {"run": "<sortable id, ISO time>", "benchmark": "<asv full name>", "point": "<label>",
     "disturbed": true, "attempts": 2, "others_cpu": 0.4, "reference_ratio": 1.3, "why": "..."}

A point may be timed by several runs into the same results file (asv overwrites the value), so
only the newest ``run`` with lines for a (benchmark, point) speaks for it: the point is disturbed
when any of that run's lines says so. A point without a line has unknown flags (not disturbed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

FLAGS_DIR = "ffbench-flags"


@dataclass(frozen=True)
class Flag:
    """What the newest run says about one (benchmark, point)."""

    disturbed: bool
    why: str


def sidecar(result_file: Path) -> Path:
    """The flags file that belongs to ``<machine>/<commit>-<env>.json``."""
    return result_file.parent / FLAGS_DIR / f"{result_file.stem}.jsonl"


def read_flags(path: Path) -> tuple[dict[tuple[str, str], Flag], list[str]]:
    """({(benchmark, point): Flag}, problems) from one sidecar; ({}, []) when there is none.

    A line that is not a JSON object with string ``run``, ``benchmark``, ``point`` and a
    boolean ``disturbed`` is skipped; the problems name the file and line, for the caller to
    warn about.
    """
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [f"skipping {path}: {exc}; disturbed flags unknown"]
    newest: dict[tuple[str, str], tuple[str, bool, list[str]]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            run, bench, point = entry["run"], entry["benchmark"], entry["point"]
            disturbed = entry["disturbed"]
            if not all(isinstance(v, str) for v in (run, bench, point)):
                raise TypeError("run, benchmark and point must be strings")
            if not isinstance(disturbed, bool):
                raise TypeError("disturbed must be true or false")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            why = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            problems.append(f"{path} line {number} skipped: {why}")
            continue
        key = (bench, point)
        seen = newest.get(key)
        if seen is None or run > seen[0]:
            seen = (run, False, [])
        elif run < seen[0]:
            continue
        whys = seen[2] + ([str(entry.get("why", ""))] if disturbed else [])
        newest[key] = (run, seen[1] or disturbed, whys)
    flags = {k: Flag(d, "; ".join(w for w in whys if w)) for k, (_, d, whys) in newest.items()}
    return flags, problems
