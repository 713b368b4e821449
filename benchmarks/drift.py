"""A whole run against this machine's recent runs of the same code: a machine slow for minutes.

The checks of `benchmarks.protocol` judge each point against its own moment: other processes'
CPU time, the reference workload before and after it, the point's other round. A machine that
stays slow for a whole run passes them all. Measured on the shared 2-vCPU VM: one main job ran
the one-thread points of its torch implementations 8-21% slow (median over each
implementation's points; numpy's 4%) from start to end, while the numpy reference read 1.08x
its best (1.06x in calm runs) and the two rounds of each point agreed; the next run was back.

The same code measured again does see it. Between back-to-back main jobs of unchanged step code
there, each implementation's median change over its one-thread points stayed within 4%, over
its all-core points within 6% (16 pairs of runs, address layout fixed), while runs in a slow
state moved 8-21% and a busy loop on the other core 7%. So after a run of the working tree (``--set-commit-hash``), for each group of step points
(one implementation at one thread count) with at least `MIN_POINTS` undisturbed points, the
harness takes the median over them of this run's time over the point's time in this machine's
recent runs of the same code (`baseline`); past `TOLERANCE` slower, every step point of the
group is flagged disturbed in this run's sidecar (`benchmarks.flags`), with the ratio as the
reason. A group faster by as much is reported: the earlier runs were the slow ones.

"The same code" is `fingerprint`: the implementation's module and the `impls` modules it
imports, the registry, the code that times a step (`benchmarks.bench_step` and what it
imports, `benchmarks.layout`) and asv's environment name (python and the libraries it was
built with). A change to any of them starts the group's history afresh, so a machine's first
run, and the first after a change, have nothing to be checked against and say so. The history
is a file beside the flags (`STATE_FILE`). A randomised address layout (`benchmarks.layout`)
moved whole implementations by up to 9% between calm runs here, so runs without the fixed
layout are neither checked nor kept.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from impls.point import Point

from . import gate

BENCHMARK = gate.BENCHMARK
#: A group this much slower (median over its points) than the machine's recent runs of the
#: same code is flagged; as much faster is reported (see the module docstring for the figures).
TOLERANCE = 0.07
#: Fewer undisturbed points than this in a group and its median is no measure of the run.
MIN_POINTS = 3
#: Runs of the same code a point's baseline is taken from (the newest), and runs kept in all.
BASELINE_RUNS = 5
KEPT_RUNS = 12
STATE_FILE = "runs.json"

ROOT = Path(__file__).resolve().parents[1]
_IMPORT = re.compile(r"^(?:from|import) impls\.(\w+)", re.MULTILINE)
_RELATIVE = re.compile(r"^from \.(\w+) import", re.MULTILINE)
_SIBLINGS = re.compile(r"^from \. import ([\w, ]+)$", re.MULTILINE)


@dataclass(frozen=True)
class Shift:
    """One group's change against the machine's recent runs of the same code."""

    group: str  # "<implementation>/<threads>t"
    ratio: float  # median over the group's points of this run's time over the baseline
    points: int
    runs: int  # earlier runs the baselines came from (at most)

    @property
    def slow(self) -> bool:
        return self.ratio > 1 + TOLERANCE

    @property
    def fast(self) -> bool:
        return self.ratio * (1 + TOLERANCE) < 1


def group_of(label: str) -> str | None:
    """``"<implementation>/<threads>t"`` for a step label; None for any other label."""
    try:
        point = Point.parse(label)
    except ValueError:
        return None
    return f"{point.impl}/{point.threads}t"


def fingerprint(module: str, env_name: str, root: Path = ROOT) -> str:
    """A hash of what an implementation's step time depends on in this checkout: its module
    (``impls.<name>``) and the `impls` modules it imports (transitively), the registry and
    package that create it, the benchmark that times it (`benchmarks.bench_step` and the
    modules it imports, and `benchmarks.layout`), and asv's environment name. The libraries
    themselves are named by the environment, not hashed; the runner, the gate, this check and
    the reports do not change a step time and are left out."""
    impls = _closure(root / "impls", [module.removeprefix("impls."), "__init__", "registry"])
    measuring = _closure(root / "benchmarks", ["bench_step", "layout"])
    digest = hashlib.sha256(env_name.encode())
    for path in [*impls, *measuring]:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _closure(package: Path, names: list[str]) -> list[Path]:
    """The files of ``names`` in ``package`` and of the package's modules they import, in
    turn (``from impls.x import``, ``import impls.x``, ``from .x import``, ``from . import x``)."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        path = package / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        text = path.read_text(encoding="utf-8")
        todo += _IMPORT.findall(text) + _RELATIVE.findall(text)
        for group in _SIBLINGS.findall(text):
            todo += [n.strip() for n in group.split(",")]
    return [package / f"{name}.py" for name in sorted(seen)]


def baseline(label: str, code: str, history: list[dict]) -> tuple[float, int] | None:
    """(the point's time in the newest `BASELINE_RUNS` runs of the same code, their number), or
    None when none measured it undisturbed. The lower median: one or two slow runs among the
    recent ones do not move it; a machine that became slower for good moves it after three."""
    group = group_of(label)
    values = [
        run["points"][label]
        for run in reversed(history)
        if run["fingerprints"].get(group) == code and label in run["points"]
    ][:BASELINE_RUNS]
    return (statistics.median_low(values), len(values)) if values else None


#: Why a group went unchecked, as `describe` words it.
NEW = "no earlier run of the same code here, nothing to check against"
FEW = f"fewer than {MIN_POINTS} undisturbed points, not judged"


def shifts(
    times: dict[str, float], prints: dict[str, str], history: list[dict], groups: set[str]
) -> tuple[list[Shift], dict[str, str]]:
    """(the `Shift` of each of ``groups`` that can be judged, {group: why not} for the others:
    `NEW` or `FEW`). ``times``: this run's undisturbed step times by label; ``prints``: the
    fingerprints by group."""
    ratios: dict[str, list[float]] = {}
    runs: dict[str, int] = {}
    for label, seconds in times.items():
        group = group_of(label)
        base = baseline(label, prints.get(group, ""), history) if group else None
        if base is not None:
            ratios.setdefault(group, []).append(seconds / base[0])
            runs[group] = max(runs.get(group, 0), base[1])
    found, unchecked = [], {}
    for group in sorted(groups):
        code = prints.get(group)
        if code is None or not any(run["fingerprints"].get(group) == code for run in history):
            unchecked[group] = NEW
        elif len(ratios.get(group, [])) < MIN_POINTS:
            unchecked[group] = FEW
        else:
            found.append(
                Shift(group, statistics.median(ratios[group]), len(ratios[group]), runs[group])
            )
    return found, unchecked


def describe(found: list[Shift], unchecked: dict[str, str], flagged: int) -> list[str]:
    """What the check tells the user, a line each."""
    lines = []
    slow = [s for s in found if s.slow]
    fast = [s for s in found if s.fast]
    if slow:
        lines.append(
            "whole-run check: slower than this machine's recent runs of the same code: "
            + ", ".join(f"{s.group} {s.ratio:.2f}x" for s in slow)
            + f"; their {flagged} step points are flagged disturbed (the machine ran slow for"
            " the whole run: rerun on a quieter machine)"
        )
    if fast:
        lines.append(
            "whole-run check: faster than this machine's recent runs of the same code: "
            + ", ".join(f"{s.group} {s.ratio:.2f}x" for s in fast)
            + " (those runs probably ran slow; this one stands)"
        )
    steady = [s for s in found if not s.slow and not s.fast]
    if steady:
        worst = max(steady, key=lambda s: abs(math.log(s.ratio)))
        lines.append(
            f"whole-run check: {len(steady)} groups within {TOLERANCE:.0%} of this machine's"
            f" recent runs of the same code (furthest: {worst.group} {worst.ratio:.2f}x)"
        )
    for why in (NEW, FEW):
        named = [group for group, reason in unchecked.items() if reason == why]
        if named:
            more = ", ..." if len(named) > 4 else ""
            lines.append(f"whole-run check: {why}: {', '.join(named[:4])}{more}")
    return lines


def _read_history(path: Path) -> list[dict]:
    try:
        runs = json.loads(path.read_text(encoding="utf-8")).get("runs", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [
        r
        for r in runs
        if isinstance(r, dict)
        and isinstance(r.get("points"), dict)
        and isinstance(r.get("fingerprints"), dict)
    ]


def check(results_file: Path, run: str, root: Path = ROOT) -> list[str]:
    """Compare the step times ``run`` saved in ``results_file`` with the machine's recent runs
    of the same code, flag the groups that ran slow, keep this run in the history; the lines to
    print. The history lives beside the flags of ``results_file``'s machine."""
    from impls import registry

    timings = gate.read_file(results_file, BENCHMARK)
    env_name = results_file.stem.split("-", 1)[-1]
    modules = {name: registry.entry(name).module for name in registry.names()}
    groups = {g for g in map(group_of, timings) if g}
    prints = {
        g: fingerprint(modules[g.split("/")[0]], env_name, root)
        for g in groups
        if g.split("/")[0] in modules
    }
    times = {k: t.median for k, t in timings.items() if not t.disturbed}
    state = results_file.parent / "ffbench-flags" / STATE_FILE
    history = _read_history(state)
    found, unchecked = shifts(times, prints, history, groups)
    slow = {s.group: s for s in found if s.slow}
    flagged = [label for label in timings if group_of(label) in slow]
    if flagged:
        sidecar = results_file.parent / "ffbench-flags" / f"{results_file.stem}.jsonl"
        with sidecar.open("a", encoding="utf-8") as out:
            for label in flagged:
                s = slow[group_of(label)]
                why = (
                    f"the whole run ran slow: {s.group}'s points read a median {s.ratio:.2f}x"
                    f" this machine's recent runs of the same code ({s.points} points)"
                )
                out.write(
                    json.dumps(
                        {
                            "run": run,
                            "benchmark": BENCHMARK,
                            "point": label,
                            "disturbed": True,
                            "whole_run_ratio": s.ratio,
                            "why": why,
                        },
                        sort_keys=True,
                    )
                    + "\n"
                )
    entry = {"run": run, "fingerprints": prints, "points": times}
    state.parent.mkdir(parents=True, exist_ok=True)
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps({"runs": [*history, entry][-KEPT_RUNS:]}, sort_keys=True))
    tmp.replace(state)
    return describe(found, unchecked, len(flagged))
