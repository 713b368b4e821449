"""What a benchmark process tells beside its number: the disturbed flag, progress, the reference.

asv's results files hold one number (and its samples) per point and nothing else, so the
outcome of the load checks (`benchmarks.protocol`) goes to a sidecar that ``python -m reports``
reads: ``$FFBENCH_FLAGS_DIR/<commit>-<env>.jsonl``, one JSON object per point measurement::

    {"run": "...", "benchmark": "bench_step.Step.track_time", "point": "<label>",
     "disturbed": false, "attempts": 1, "others_cpu": 0.03, "reference_ratio": 1.02, "why": "",
     "waited_seconds": 0.004}

A paired ratio's line adds ``"parts"``: each side's fast-state step time by implementation.

``python -m benchmarks`` sets the variables (`FLAGS_DIR`, `RUN`, `COMMIT`, `ENV`,
`PROGRESS`); a plain ``asv run`` sets none of them, and then its points are measured the same
way but the flags are not kept (the report says flags are unknown). Lines are appended with one
``write`` each, so concurrent processes do not interleave them.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

FLAGS_DIR = "FFBENCH_FLAGS_DIR"
RUN = "FFBENCH_RUN"
COMMIT = "FFBENCH_COMMIT"
PROGRESS = "FFBENCH_PROGRESS"
#: asv's environment name, for environments where asv does not set ASV_ENV_NAME (``--python``).
ENV = "FFBENCH_ENV"
#: The machine's measurement state beside the flags: its best reference time per core (across
#: runs); this run's streak of points found in the slow state, and what each point's earlier
#: rounds left in asv's pool (`Pool`).
STATE_FILE = "reference.json"


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _commit() -> str:
    return os.environ.get(COMMIT) or os.environ.get("ASV_COMMIT") or ""


def flags_file() -> Path | None:
    folder = os.environ.get(FLAGS_DIR)
    commit = _commit()
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


@dataclass(frozen=True)
class RunOutcome:
    """What one run's point measurements met, summed up from its lines in a sidecar."""

    measurements: int
    again: int  # attempts beyond the first
    waited: float  # seconds spent waiting for the machine's fast state
    disturbed: int  # points left disturbed
    outweighed: int  # disturbed rounds that a clean round of their point outweighs
    seconds: float = 0.0  # the measurements' own time, waits included
    outweighing: float = 0.0  # seconds clean rounds measured on to outweigh slow ones

    def describe(self) -> str:
        return (
            f"the machine during this run: {self.measurements} point measurements"
            f" ({self.seconds:.0f} s), {self.again} attempts measured again, {self.waited:.0f} s"
            f" spent waiting for its fast state, {self.outweighing:.0f} s measuring on to"
            f" outweigh slow rounds, {self.outweighed} disturbed rounds outweighed by a clean"
            f" round of their point, {self.disturbed} points left disturbed"
        )


def run_outcome(lines: list[dict]) -> RunOutcome:
    """`RunOutcome` of one run's lines (`reports.flags.run_lines`): its measurements are the
    lines that hold an attempt count (a line added after the run, such as a whole-run flag, is
    not one); its disturbed points are those `reports.flags.point_flags` finds."""
    # Imported here: benchmark processes import this module and need none of the reports.
    from reports.flags import point_flags

    rows = [r for r in lines if "attempts" in r]
    found = point_flags(lines)
    clean = {key for key, flag in found.items() if not flag.disturbed}
    return RunOutcome(
        len(rows),
        sum(max(0, _number(r.get("attempts")) - 1) for r in rows),
        sum(_number(r.get("waited_seconds")) for r in rows),
        len(found) - len(clean),
        sum(r["disturbed"] is True and (r["benchmark"], r["point"]) in clean for r in rows),
        sum(_number(r.get("seconds")) for r in rows),
        sum(_number(r.get("outweigh_seconds")) for r in rows),
    )


def _number(value) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def tick() -> None:
    """One point measurement done, for the runner's progress line."""
    progress = os.environ.get(PROGRESS)
    if progress:
        _append(Path(progress), "1")


def _state_file() -> Path | None:
    folder = os.environ.get(FLAGS_DIR)
    return Path(folder) / STATE_FILE if folder else None


def _read_state(path: Path) -> dict:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, sort_keys=True))
    tmp.replace(path)


def best_references(readings: dict[str, float]) -> dict[str, float]:
    """The machine's best reference time under each key of ``readings`` (a core), these
    readings included: one read of the state, and one write when a reading is a new best.

    Kept beside the flags (`STATE_FILE`), across runs, so that a run that starts in one of the
    machine's slow periods is judged against its quiet speed, not against its own slow best. A
    plain ``asv run`` (no `FLAGS_DIR`) keeps nothing and judges nothing: each reading is its
    own best."""
    path = _state_file()
    if path is None:
        return dict(readings)
    state = _read_state(path)
    known = state.get("best") if isinstance(state.get("best"), dict) else {}
    bests = {key: min(seconds, _seconds(known.get(key))) for key, seconds in readings.items()}
    if any(bests[key] < _seconds(known.get(key)) for key in bests):
        _write_state(path, {**state, "best": {**known, **bests}})
    return bests


def _seconds(value) -> float:
    """A stored reference time; infinity for a missing or bad one."""
    return float(value) if isinstance(value, (int, float)) else math.inf


def slow_streak() -> int:
    """Points in a row, in this run, that found the machine in its slow state on every attempt
    (`note_slow`)."""
    path = _state_file()
    return 0 if path is None else _streak(_read_state(path))


def _streak(state: dict) -> int:
    count = _run_state(state).get("slow_streak", 0)
    return count if isinstance(count, int) else 0


def note_slow(slow: bool) -> None:
    """Count a point that stayed in the slow state however long it waited; a point that did
    not ends the streak."""
    path = _state_file()
    if path is None:
        return
    state = _read_state(path)
    _write_run_state(path, state, slow_streak=_streak(state) + 1 if slow else 0)


def _write_run_state(path: Path, state: dict, **changes) -> None:
    """Write ``changes`` into this run's part of ``state`` (as read from ``path``); another
    run's part is dropped and the machine's best references kept."""
    run = {**_run_state(state), **changes, "run": os.environ.get(RUN, "")}
    _write_state(path, {"best": state.get("best", {}), **run})


def _run_state(state: dict) -> dict:
    """The part of the machine's state that belongs to this run (empty for another run's)."""
    return state if state.get("run") == os.environ.get(RUN, "") else {}


@dataclass(frozen=True)
class Pool:
    """What this run's earlier rounds of one point left in asv's pool of its samples.

    asv runs each point in several processes (rounds) and takes the median and quartiles of
    all their samples together. A round whose samples are more than three times all the others
    decides those three numbers (each lies among its samples), so the point's flag follows the
    rounds that decide it (`benchmarks.protocol.pool_round`)."""

    median: float | None = None  # the newest clean round's median; None before any
    clean: int = 0  # samples of the clean rounds that decide the pool
    size: int = 0  # every sample in the pool, set-aside rounds' one each included
    disturbed: bool = False  # a disturbed round decides the pool with them
    fastest: float | None = None  # the lowest median of any earlier round, disturbed or not
    #: The step times the newest clean round's value was made of (a paired ratio's two sides,
    #: by implementation), for `benchmarks.protocol.parts_disagreement`; None where there are none.
    parts: dict[str, float] | None = None

    @property
    def settled(self) -> bool:
        """Clean rounds decide the pool even with one more sample from elsewhere."""
        return not self.disturbed and self.clean > 3 * (self.size - self.clean + 1)


def earlier_rounds(benchmark: str, label: str) -> Pool:
    """The `Pool` this run's earlier rounds of a point left (this commit); empty before any."""
    path = _state_file()
    if path is None:
        return Pool()
    rounds = _run_state(_read_state(path)).get("rounds", {})
    value = rounds.get(_round_key(benchmark, label)) if isinstance(rounds, dict) else None
    if not (isinstance(value, list) and len(value) == 6):
        return Pool()
    median, clean, size, disturbed, fastest, parts = value
    if not (
        all(v is None or isinstance(v, (int, float)) for v in (median, fastest))
        and isinstance(clean, int)
        and isinstance(size, int)
        and isinstance(disturbed, bool)
        and (parts is None or _is_parts(parts))
    ):
        return Pool()
    return Pool(median, clean, size, disturbed, fastest, parts)


def _is_parts(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, (int, float)) for k, v in value.items()
    )


def note_rounds(benchmark: str, label: str, pool: Pool) -> None:
    """Keep the point's `Pool` after this round for the rounds after it."""
    path = _state_file()
    if path is None:
        return
    state = _read_state(path)
    rounds = _run_state(state).get("rounds", {})
    rounds = {
        **(rounds if isinstance(rounds, dict) else {}),
        _round_key(benchmark, label): [
            pool.median,
            pool.clean,
            pool.size,
            pool.disturbed,
            pool.fastest,
            pool.parts,
        ],
    }
    _write_run_state(path, state, rounds=rounds)


def _round_key(benchmark: str, label: str) -> str:
    return f"{_commit()[:8]} {benchmark} {label}"
