"""A whole run against this machine's recent runs of the same code: a machine slow for minutes.

The checks of `benchmarks.protocol` judge each point against its own moment: other processes'
CPU time, the reference workload before and after it, the point's other round. A machine that
stays slow for a whole run passes them all. Measured on the shared 2-vCPU VM: one main job ran
the one-thread points of its torch implementations 8-21% slow (median over each
implementation's points; numpy's 4%) from start to end, while the numpy reference read 1.08x
its best (1.06x in calm runs) and the two rounds of each point agreed; the next run was back.

The same code measured again does see it. Replayed on 35 saved main jobs of unchanged step
code there (`tools/replay_whole_run.py`), each implementation's median change over its points
against the runs before it stayed within 3% in calm runs, 5.8% in a noisy hour and 6.7%
beside a busy loop, while the two runs slow from start to end moved 8-20% and 7-17%. So after
a run of the working tree (``--set-commit-hash``), for each implementation with at least
`MIN_POINTS` undisturbed step points (one-thread and all-core alike), the harness takes the
median over them of this run's time over the point's time in this machine's recent runs of the
same code (`baseline`); past `TOLERANCE` slower, every step point of the implementation, and
its paired ratios, are flagged disturbed in this run's sidecar (`benchmarks.flags`), with the
ratio as the reason. An implementation faster by as much is reported: the earlier runs were
the slow ones. When every implementation it could judge (at least `MIN_SLOW_RUN`) ran slow,
the machine was slow, not one implementation: those it could not judge (too few points, or no
earlier run of their code) ran in the same minutes and are flagged too (`slow_run`). A single
point past `POINT_TOLERANCE` of its own baseline is flagged by itself (`lone_points`): a state
that slowed one point for both its rounds, which no check of its moment saw; so is a paired
ratio past `RATIO_TOLERANCE` of its own (the history keeps the run's ratios beside its times,
with fingerprints of both sides' code and of `benchmarks.bench_paired`).

"The same code" is `fingerprint`: the implementation's module and the `impls` modules it
imports, the registry, the code that times a step (`benchmarks.bench_step` and what it
imports, `benchmarks.layout`) and asv's environment name (python and the libraries it was
built with). A change to any of them starts the implementation's history afresh, so a
machine's first run, and the first after a change, have nothing to be checked against and say
so. The history is a file beside the flags (`STATE_FILE`). A randomised address layout
(`benchmarks.layout`) moved whole implementations by up to 9% between calm runs here, so runs
without the fixed layout are neither checked nor kept.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from impls.point import Point
from reports.flags import run_lines, sidecar

from . import gate, grids

BENCHMARK = gate.BENCHMARK
#: Also flagged for an implementation that ran slow: its ratios to numpy were measured in the
#: same state, which moves implementations by different factors (under a busy loop here,
#: nn-cpu's step points read 1.09x and its paired ratios 1.10-1.14x).
PAIRED = "bench_paired.Paired.track_relative_time"
#: An implementation this much slower (median over its points) than the machine's recent runs
#: of the same code is flagged; as much faster is reported (the figures: the module docstring).
TOLERANCE = 0.07
#: Fewer undisturbed points than this and a median is no measure of the run.
MIN_POINTS = 3
#: Judged implementations that must all have run slow for the unjudged ones to be flagged too.
MIN_SLOW_RUN = 2
#: A step point this much slower than its own baseline is flagged by itself, whatever its
#: implementation's median did: the slow-state line of `benchmarks.protocol`. Replayed on 41
#: saved main jobs here (4029 points with a baseline): no point crossed it in 24 runs, one in
#: 13, two in one, 5-28 in the three that ran slow throughout (flagged by implementation
#: anyway). The lone ones had passed every check of their moment: numpy at 64x62x100x10 read
#: 1.85x beside a busy loop, its two rounds alike and the reference at 1.07x; nn-cpu at the
#: tutorial size 1.57x and 1.52x; custom-fn-cpu at batch 1024 1.43x.
POINT_TOLERANCE = 0.25
#: The same for a paired ratio against its own recent values, tighter: pairing holds a ratio
#: far stiller than a step time. Replayed (`tools/replay_whole_run.py`) on 94 saved main jobs
#: here, taken as one code: 7 ratios past it in 6 runs, all at batch 4-16 but one, e.g.
#: custom-fn-cpu at batch 4 1.21x (3.44 where the runs before read 2.8-2.9) in a calm pair,
#: autograd-cpu at batch 4 1.19x beside a busy loop.
RATIO_TOLERANCE = 0.15


@dataclass(frozen=True)
class Kind:
    """Where the history keeps one kind of value and the fingerprints of the code behind it."""

    values: str
    prints: str
    tolerance: float  # past this over its baseline, a value is flagged by itself


STEP = Kind("points", "fingerprints", POINT_TOLERANCE)
RATIO = Kind("paired", "paired_fingerprints", RATIO_TOLERANCE)
#: Runs of the same code a point's baseline is taken from (the newest), and runs kept in all.
BASELINE_RUNS = 5
KEPT_RUNS = 12
STATE_FILE = "runs.json"
#: Why an implementation went unjudged, as `describe` words it.
NEW = "no earlier run of the same code here, nothing to check against"
FEW = f"fewer than {MIN_POINTS} undisturbed points, not judged"

ROOT = Path(__file__).resolve().parents[1]
_IMPORT = re.compile(r"^(?:from|import) impls\.(\w+)", re.MULTILINE)
_RELATIVE = re.compile(r"^from \.(\w+) import", re.MULTILINE)
_SIBLINGS = re.compile(r"^from \. import ([\w, ]+)$", re.MULTILINE)


@dataclass(frozen=True)
class Shift:
    """One implementation's change against the machine's recent runs of the same code."""

    impl: str
    ratio: float  # median over its points of this run's time over the point's baseline
    points: int
    by_run: bool = False  # not judged itself: flagged because the whole run was (`slow_run`)

    @property
    def slow(self) -> bool:
        return self.ratio > 1 + TOLERANCE

    @property
    def fast(self) -> bool:
        return self.ratio * (1 + TOLERANCE) < 1


def impl_of(label: str) -> str | None:
    """The implementation a step label names; None for any other label."""
    try:
        return Point.parse(label).impl
    except ValueError:
        return None


def fingerprint(
    module: str,
    env_name: str,
    root: Path = ROOT,
    measuring: tuple[str, ...] = ("bench_step", "layout"),
    beside: tuple[str, ...] = (),
) -> str:
    """A hash of what an implementation's step time depends on in this checkout: its module
    (``impls.<name>``) and the `impls` modules it imports (transitively), the registry and
    package that create it, the benchmark that times it (`benchmarks.bench_step` and the
    modules it imports, and `benchmarks.layout`), and asv's environment name. The libraries
    themselves are named by the environment, not hashed; the runner, the gate, this check and
    the reports do not change a step time and are left out. Each file is hashed as code
    (`_code`): an edit to its comments, docstrings or layout leaves the history standing.
    A paired ratio's: ``measuring`` its benchmark's modules, ``beside`` the baseline's module."""
    names = [m.removeprefix("impls.") for m in (module, *beside)]
    impls = _closure(root / "impls", [*names, "__init__", "registry"])
    timing = _closure(root / "benchmarks", list(measuring))
    digest = hashlib.sha256(env_name.encode())
    for path in [*impls, *timing]:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(_code(path))
    return digest.hexdigest()[:16]


def _code(path: Path) -> bytes:
    """The module's syntax tree without its docstrings (`ast.dump`, no line numbers); its bytes
    where it does not parse."""
    source = path.read_bytes()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


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
        for siblings in _SIBLINGS.findall(text):
            todo += [n.strip() for n in siblings.split(",")]
    return [package / f"{name}.py" for name in sorted(seen)]


def earlier_times(label: str, code: str, history: list[dict], kind: Kind = STEP) -> list[float]:
    """The point's undisturbed values (step times, or paired ratios for `RATIO`) in the newest
    `BASELINE_RUNS` runs of the same code (``code``: its implementation's fingerprint), newest
    first."""
    impl = impl_of(label)
    found = []
    for run in reversed(history):
        values, prints = run.get(kind.values), run.get(kind.prints)
        if isinstance(values, dict) and isinstance(prints, dict) and prints.get(impl) == code:
            value = values.get(label)
            if isinstance(value, (int, float)):
                found.append(value)
    return found[:BASELINE_RUNS]


def baseline(label: str, code: str, history: list[dict], kind: Kind = STEP) -> float | None:
    """The lower median of `earlier_times`, or None when there are none: one or two slow runs
    among the recent ones do not move it; a machine that became slower for good moves it after
    three."""
    values = earlier_times(label, code, history, kind)
    return statistics.median_low(values) if values else None


def shifts(
    times: dict[str, float], prints: dict[str, str], history: list[dict]
) -> tuple[list[Shift], dict[str, str]]:
    """(the `Shift` of each implementation in ``prints`` that can be judged, {implementation:
    `NEW` or `FEW`} for the others). ``times``: this run's undisturbed step times by label;
    ``prints``: this run's fingerprint of each implementation it measured."""
    ratios: dict[str, list[float]] = {}
    for label, seconds in times.items():
        impl = impl_of(label)
        base = baseline(label, prints[impl], history) if impl in prints else None
        if base is not None:
            ratios.setdefault(impl, []).append(seconds / base)
    found, unjudged = [], {}
    for impl, code in sorted(prints.items()):
        rs = ratios.get(impl, [])
        if not any(run["fingerprints"].get(impl) == code for run in history):
            unjudged[impl] = NEW
        elif len(rs) < MIN_POINTS:
            unjudged[impl] = FEW
        else:
            found.append(Shift(impl, statistics.median(rs), len(rs)))
    return found, unjudged


def lone_points(
    times: dict[str, float], prints: dict[str, str], history: list[dict], kind: Kind = STEP
) -> dict[str, float]:
    """{label: this run's value over the point's `baseline`} for each point more than
    ``kind.tolerance`` over its baseline: a point that ran slow on its own."""
    found = {}
    for label, value in times.items():
        impl = impl_of(label)
        base = baseline(label, prints[impl], history, kind) if impl in prints else None
        if base is not None and value > base * (1 + kind.tolerance):
            found[label] = value / base
    return found


def slow_run(found: list[Shift], unjudged: dict[str, str]) -> list[Shift]:
    """A `Shift` for each unjudged implementation when every judged one, at least
    `MIN_SLOW_RUN`, ran slow, at their median ratio; none otherwise.

    A machine slow for the whole run slows every implementation; one that runs too few points to
    be judged (compile-cpu has one in the quick grid), or whose code changed since the last run,
    ran in those minutes too. Measured beside a busy loop on the 2-vCPU VM: all five judged
    implementations read 1.16-1.27x and were flagged, while compile-cpu's one point, 1.22x its
    time in the quiet run before, was the run's only unflagged point."""
    if len(found) < MIN_SLOW_RUN or not all(s.slow for s in found):
        return []
    ratio = statistics.median(s.ratio for s in found)
    return [Shift(impl, ratio, 0, by_run=True) for impl in sorted(unjudged)]


@dataclass(frozen=True)
class Spread:
    """How far this run's points lie from the same points in the recent runs of the same code:
    per point, the median over those runs of |this run's time / that run's - 1|, summed up over
    the points. What one run's number is worth on this machine, as the agreement of two
    back-to-back runs would show it."""

    points: int
    runs: int  # the most earlier runs a point was compared with
    median: float
    ninetieth: float


def spread(times: dict[str, float], prints: dict[str, str], history: list[dict]) -> Spread | None:
    """The `Spread` of this run's undisturbed points against the newest `BASELINE_RUNS` earlier
    runs of the same code; None when none of them measured any of the points."""
    apart, runs = [], 0
    for label, seconds in times.items():
        impl = impl_of(label)
        earlier = earlier_times(label, prints[impl], history) if impl in prints else []
        if earlier:
            apart.append(statistics.median(abs(seconds / e - 1) for e in earlier))
            runs = max(runs, len(earlier))
    if not apart:
        return None
    ninetieth = statistics.quantiles(apart, n=10)[-1] if len(apart) > 1 else apart[0]
    return Spread(len(apart), runs, statistics.median(apart), ninetieth)


def describe(
    found: list[Shift],
    unjudged: dict[str, str],
    flagged: int,
    apart: Spread | None = None,
    lone: dict[str, float] | None = None,
    lone_ratios: dict[str, float] | None = None,
) -> list[str]:
    """What the check tells the user, a line each."""
    lines = []
    recent = "this machine's recent runs of the same code"
    slow = [s for s in found if s.slow]
    fast = [s for s in found if s.fast]
    judged = [s for s in slow if not s.by_run]
    also = [s.impl for s in slow if s.by_run]
    if judged:
        lines.append(
            f"whole-run check: slower than {recent}: "
            + ", ".join(f"{s.impl} {s.ratio:.2f}x" for s in judged)
            + (
                f"; all it judged ran slow, so {', '.join(also)} (not judged) did too"
                if also
                else ""
            )
            + f"; their {flagged} step points and their paired ratios are flagged disturbed (the"
            " machine ran slow for the whole run: rerun on a quieter machine)"
        )
    if fast:
        lines.append(
            f"whole-run check: faster than {recent}: "
            + ", ".join(f"{s.impl} {s.ratio:.2f}x" for s in fast)
            + " (those runs probably ran slow; this one stands)"
        )
    steady = [s for s in found if not s.slow and not s.fast]
    if steady:
        worst = max(steady, key=lambda s: abs(math.log(s.ratio)))
        lines.append(
            f"whole-run check: {len(steady)} implementations within {TOLERANCE:.0%} of {recent}"
            f" (furthest: {worst.impl} {worst.ratio:.2f}x)"
        )
    if lone:
        lines.append(
            f"whole-run check: {len(lone)} points ran past {1 + POINT_TOLERANCE:.2f}x their own"
            f" times in {recent}, flagged disturbed: "
            + ", ".join(f"{k} {r:.2f}x" for k, r in sorted(lone.items()))
        )
    if lone_ratios:
        lines.append(
            f"whole-run check: {len(lone_ratios)} paired ratios ran past"
            f" {1 + RATIO_TOLERANCE:.2f}x their own values in {recent}, flagged disturbed: "
            + ", ".join(f"{k} {r:.2f}x" for k, r in sorted(lone_ratios.items()))
        )
    for why in (NEW, FEW):
        named = [i for i, reason in unjudged.items() if reason == why and i not in also]
        if named:
            lines.append(f"whole-run check: {why}: {', '.join(named)}")
    if apart is not None:
        lines.append(
            f"whole-run check: run to run, this run's {apart.points} points lie a median"
            f" {apart.median:.1%} from the same points in up to {apart.runs} earlier runs of the"
            f" same code (9 in 10 within {apart.ninetieth:.1%}): what one run's number is worth"
            " here"
        )
    return lines


def check(results_file: Path, run: str, root: Path = ROOT) -> list[str]:
    """Compare the step times and paired ratios ``run`` saved in ``results_file`` with the
    machine's recent runs of the same code, flag the implementations that ran slow and the
    points that did on their own (`lone_points`), keep this run in the history; the lines to
    print. The history lives beside the flags of ``results_file``'s machine."""
    from impls import registry

    flags_file = sidecar(results_file)
    flags_dir = flags_file.parent
    lines = run_lines(flags_file, run)
    ours = measured_in(lines, BENCHMARK)
    timings = {k: t for k, t in gate.read_file(results_file, BENCHMARK).items() if k in ours}
    env_name = results_file.stem.split("-", 1)[-1]
    measured = {impl_of(label) for label in timings} & set(registry.names())
    prints = {i: fingerprint(registry.entry(i).module, env_name, root) for i in measured}
    times = {k: t.median for k, t in timings.items() if not t.disturbed}
    history = _read_history(flags_dir / STATE_FILE)
    found, unjudged = shifts(times, prints, history)
    found += slow_run(found, unjudged)
    slow = {s.impl: s for s in found if s.slow}
    flagged = [label for label in timings if impl_of(label) in slow]
    ours_paired = measured_in(lines, PAIRED)
    paired = [k for k in ours_paired if impl_of(k) in slow]
    ratios, ratio_prints = _paired_ratios(results_file, ours_paired, set(prints), env_name, root)
    # Points of an implementation flagged as slow are flagged already, and told as such.
    lone, lone_ratios = (
        {k: r for k, r in lone_points(v, p, history, kind).items() if impl_of(k) not in slow}
        for v, p, kind in ((times, prints, STEP), (ratios, ratio_prints, RATIO))
    )
    _flag(flags_file, run, BENCHMARK, {k: _shift_why(slow[impl_of(k)]) for k in flagged})
    _flag(flags_file, run, PAIRED, {k: _shift_why(slow[impl_of(k)]) for k in paired})
    _flag(flags_file, run, BENCHMARK, {k: _lone_why(r, "time") for k, r in lone.items()})
    _flag(flags_file, run, PAIRED, {k: _lone_why(r, "ratio") for k, r in lone_ratios.items()})
    entry = {"run": run, STEP.prints: prints, STEP.values: times}
    entry |= {RATIO.prints: ratio_prints, RATIO.values: ratios}
    _write_history(flags_dir / STATE_FILE, [*history, entry][-KEPT_RUNS:])
    apart = spread(times, prints, history)
    return describe(found, unjudged, len(flagged), apart, lone, lone_ratios)


def _paired_ratios(
    results_file: Path, ours: set[str], impls: set[str], env_name: str, root: Path
) -> tuple[dict[str, float], dict[str, str]]:
    """(this run's undisturbed paired ratios of ``impls`` by label, among the points it
    measured (``ours``), the fingerprint of each implementation's ratios: its code, numpy's and
    the paired benchmark's)."""
    from impls import registry

    ratios = {
        k: t.median
        for k, t in gate.read_file(results_file, PAIRED).items()
        if k in ours and not t.disturbed and impl_of(k) in impls
    }
    base = registry.entry(grids.BASELINE).module
    prints = {
        i: fingerprint(
            registry.entry(i).module, env_name, root, ("bench_paired", "layout"), (base,)
        )
        for i in {impl_of(k) for k in ratios}
    }
    return ratios, prints


def measured_in(lines: list[dict], benchmark: str) -> set[str]:
    """The points of ``benchmark`` that a run measured, by its lines in the sidecar
    (`reports.flags.run_lines`): a run narrowed with ``--bench`` leaves the commit's earlier
    values of the others in asv's file."""
    return {r.get("point") for r in lines if r.get("benchmark") == benchmark}


def _shift_why(s: Shift) -> tuple[float, str]:
    """(the ratio, the reason) a point is flagged for its implementation's `Shift`."""
    why = (
        f"the whole run ran slow: every implementation judged read slow (median"
        f" {s.ratio:.2f}x this machine's recent runs of the same code); {s.impl} could"
        " not be judged itself"
        if s.by_run
        else f"the whole run ran slow: {s.impl}'s points read a median {s.ratio:.2f}x"
        f" this machine's recent runs of the same code ({s.points} points)"
    )
    return s.ratio, why


def _lone_why(ratio: float, value: str) -> tuple[float, str]:
    """(the ratio, the reason) a point is flagged for `lone_points`; ``value``: what it is
    ("time", "ratio")."""
    return ratio, (
        f"the point's {value} read {ratio:.2f}x its own in this machine's recent runs of the"
        " same code, every round of it in this run alike"
    )


def _flag(path: Path, run: str, benchmark: str, reasons: dict[str, tuple[float, str]]) -> None:
    """Lines in ``run``'s flags (`reports.flags` reads them) that mark each of ``benchmark``'s
    points disturbed, with its ratio to the recent runs and the reason."""
    if not reasons:
        return
    with path.open("a", encoding="utf-8") as out:
        for label, (ratio, why) in reasons.items():
            line = {"run": run, "benchmark": benchmark, "point": label, "disturbed": True}
            line |= {"whole_run_ratio": ratio, "why": why}
            out.write(json.dumps(line, sort_keys=True) + "\n")


def _read_history(path: Path) -> list[dict]:
    """The kept runs; none from a missing or unreadable file (it is rewritten after the run)."""
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


def _write_history(path: Path, runs: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"runs": runs}, sort_keys=True))
    tmp.replace(path)
