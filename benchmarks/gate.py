"""The regression gate: commit B against commit A on the points meant for history.

``python -m benchmarks GRID continuous A B`` has asv measure both commits, rounds interleaved
(A B B A ...), on the grid's one-thread step times (`grids.Grid.history_labels`); then
`judge` reads the two saved results and decides. A point is a **regression** when all hold:

- B's median, divided by the commits' common shift, is more than `THRESHOLD` above A's. The
  common shift is the median ratio B/A over all the points judged: a change in one
  implementation moves a minority of them, while the machine's state moves all of them together
  (ABBA interleaving leaves a few percent). Measured on the shared 2-vCPU VM, two commits with
  identical step code: ratios 0.92-1.06 (5th-95th percentile) over 91 one-thread points, one at
  1.10, so 15% clears the noise; numpy's step with one extra product was 1.19-1.35x at 16 of
  its 18 points;
- the two interquartile ranges do not overlap (B's first quartile above A's third);
- the machine's own change does not account for it: B's rounds may have run while the machine
  read slower than during A's (the reference workload of `benchmarks.protocol`, read around
  each round), and the point's ratio divided by that change must still be past the threshold
  (`within_machine_change`; measured in a noisy hour here, two commits with the same step code:
  one point 1.15x slower on B, with the reference 1.07x slower during B's rounds);
- neither side was flagged disturbed (`benchmarks.flags`): a disturbed point is reported as
  unclear and asked to be rerun, whatever its ratio, never called a regression nor passed (a
  slow base hides a slowdown: measured once here, numpy's tutorial point with one extra
  product read 1.15x because a round of the base commit ran while the reference read 1.65x).

A point past the threshold whose quartiles overlap is reported as unclear too, with what to
do, not passed in silence: a side whose samples spread that wide cannot tell a change from
noise, and the reader should know a point went unjudged.

A regression or improvement must be found twice: ``python -m benchmarks GRID continuous``
measures the points it found again, both commits, rounds interleaved, and `confirm` keeps only
those the second pass finds too; the others are unclear ("not confirmed").

Improvements are found the same way and reported; only regressions fail the gate (exit 1).
Paired relative times are left out on purpose: they are ratios to numpy, so a change in numpy
would move every other implementation's ratio.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from reports.flags import Flag, read_flags, sidecar

BENCHMARK = "bench_step.Step.track_time"
THRESHOLD = 0.15
#: Fewer points than this and no common shift is divided out (a median of few is no baseline).
MIN_POINTS_FOR_SHIFT = 5
#: Exit code when no point was measured on both commits (2 is asv's "some benchmarks failed").
NOTHING_TO_COMPARE = 4


@dataclass(frozen=True)
class Timing:
    median: float
    q_25: float
    q_75: float
    disturbed: bool = False
    #: How slow the machine read while the point was measured: the geometric mean, over the
    #: rounds of the newest run that decide the point, of the reference's time over its best
    #: (`benchmarks.protocol`, `reports.flags.Flag.slowness`); 1.0 where unknown.
    reference: float = 1.0


@dataclass(frozen=True)
class Finding:
    label: str
    ratio: float
    kind: str  # "regression", "improvement", "unclear"
    why: str = ""


def common_shift(a: dict[str, Timing], b: dict[str, Timing], labels: list[str]) -> float:
    """The median ratio B/A over ``labels`` measured on both sides (1.0 for too few points)."""
    ratios = sorted(
        b[k].median / a[k].median
        for k in labels
        if k in a and k in b and a[k].median > 0 and b[k].median > 0
    )
    if len(ratios) < MIN_POINTS_FOR_SHIFT:
        return 1.0
    mid = len(ratios) // 2
    return ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2


def compare(
    a: dict[str, Timing], b: dict[str, Timing], labels: list[str], shift: float = 1.0
) -> list[Finding]:
    """Findings for every label measured on both sides, B's times divided by ``shift`` (see the
    module docstring); a finding's ratio is the shifted one."""
    found = []
    for label in labels:
        old, new = a.get(label), b.get(label)
        if old is None or new is None or not (old.median > 0 and new.median > 0):
            continue
        ratio = new.median / shift / old.median
        if old.disturbed or new.disturbed:  # either way: a slow side can hide a change too
            found.append(Finding(label, ratio, "unclear", "disturbed: rerun on a quieter machine"))
            continue
        slower, faster = ratio > 1 + THRESHOLD, ratio < 1 / (1 + THRESHOLD)
        if not (slower or faster):
            continue
        apart = new.q_25 / shift > old.q_75 if slower else new.q_75 / shift < old.q_25
        machine = new.reference / old.reference
        if not apart:
            why = "the quartiles overlap: rerun with more rounds (-a rounds=4)"
            found.append(Finding(label, ratio, "unclear", why))
        elif within_machine_change(ratio, machine):
            side = "B" if slower else "A"
            why = (
                f"{side}'s rounds ran while the reference read {max(machine, 1 / machine):.3f}x"
                f" the other's: rerun on a quieter machine"
            )
            found.append(Finding(label, ratio, "unclear", why))
        else:
            found.append(Finding(label, ratio, "regression" if slower else "improvement"))
    return found


def within_machine_change(ratio: float, machine: float) -> bool:
    """Whether a change past the threshold is no longer one once the machine's own change
    between the two sides' measurements is taken out: B slower while B's rounds ran on a
    slower machine (``machine``: the reference's reading on B over A's), or B faster while
    A's did. Only that way round: the machine's change never makes a change out of none."""
    if ratio > 1:
        return ratio / max(machine, 1.0) <= 1 + THRESHOLD
    return ratio / min(machine, 1.0) >= 1 / (1 + THRESHOLD)


def _stat(columns: list[str], row: list, name: str) -> list:
    index = columns.index(name) if name in columns else None
    values = row[index] if index is not None and index < len(row) else None
    return values if isinstance(values, list) else []


def read_timings(results_dir: Path, machine: str, commit: str) -> dict[str, Timing]:
    """The saved track_time medians and quartiles of ``commit`` on ``machine`` (every env),
    with the disturbed flags of the newest run that measured each point."""
    timings: dict[str, Timing] = {}
    for path in sorted((results_dir / machine).glob(f"{commit[:8]}-*.json")):
        timings.update(read_file(path))
    return timings


def read_file(path: Path, benchmark: str = BENCHMARK) -> dict[str, Timing]:
    """``benchmark``'s medians and quartiles in one asv results file, by point label, with the
    disturbed flags of its sidecar (`reports.flags`)."""
    data = json.loads(path.read_text())
    columns, row = data["result_columns"], data["results"].get(benchmark)
    if row is None:
        return {}
    (labels,) = row[columns.index("params")]
    medians = row[columns.index("result")] or [None] * len(labels)
    q25, q75 = _stat(columns, row, "stats_q_25"), _stat(columns, row, "stats_q_75")
    found, _ = read_flags(sidecar(path))
    timings = {}
    for i, quoted in enumerate(labels):
        label = quoted.strip("'\"")
        value = medians[i] if i < len(medians) else None
        if not isinstance(value, (int, float)) or math.isnan(value):
            continue
        lo = q25[i] if i < len(q25) and q25[i] is not None else value
        hi = q75[i] if i < len(q75) and q75[i] is not None else value
        flag = found.get((benchmark, label), Flag(False, ""))
        timings[label] = Timing(value, lo, hi, flag.disturbed, flag.slowness)
    return timings


#: What a point can be found to be, in the order the report lists them.
KINDS = ("regression", "improvement", "unclear")


@dataclass(frozen=True)
class Judgement:
    """One comparison of the two commits' saved results."""

    code: int  # 1: a regression (or every point moved together), 0: none, or NOTHING_TO_COMPARE
    head: str  # what was compared, or why nothing could be
    findings: list[Finding]
    points: int = 0  # the points judged

    def to_confirm(self) -> list[str]:
        """The points a second pass should measure again: the regressions and improvements."""
        return [f.label for f in self.findings if f.kind in ("regression", "improvement")]


def judge(
    results_dir: Path, machine: str, commit_a: str, commit_b: str, labels: list[str] | None = None
) -> Judgement:
    """`Judgement` of B against A on ``labels`` (default: every one-thread point measured on
    both sides)."""
    a = read_timings(Path(results_dir), machine, commit_a)
    b = read_timings(Path(results_dir), machine, commit_b)
    if labels is None:
        labels = [label for label in a if label.endswith("/1t")]
    both = [label for label in labels if label in a and label in b]
    if not both:
        why = f"no history point measured on both {commit_a[:8]} and {commit_b[:8]}"
        return Judgement(NOTHING_TO_COMPARE, why, [])
    shift = common_shift(a, b, both)
    head = (
        f"regression gate: {commit_b[:8]} against {commit_a[:8]}, {len(both)} one-thread points,"
        f" threshold {THRESHOLD:.0%} with non-overlapping quartiles, after the common shift"
        f" x{shift:.3f}"
    )
    if shift > 1 + THRESHOLD:
        return Judgement(1, (
            f"{head}\nevery point moved together (x{shift:.2f}): the machine changed state"
            " between the commits, or a change slowed every implementation; rerun to tell them"
            " apart"
        ), [], len(both))  # fmt: skip
    findings = compare(a, b, both, shift)
    regressed = any(f.kind == "regression" for f in findings)
    return Judgement(1 if regressed else 0, head, findings, len(both))


def confirm(first: Judgement, again: Judgement) -> Judgement:
    """``first`` with each regression and improvement kept only where the second pass, which
    measured those points again (rounds interleaved as before), finds the same; otherwise it is
    unclear, with both ratios.

    Why a second pass: with some 90 points judged, one moving past the threshold by noise is
    to be expected on a noisy machine (measured in a noisy hour here: two commits with the same
    step code, torch-cpu at 64x1000x100x10 exp-sigmoid 1.15x, every round of both sides clean),
    while a real change moves its points again. It costs time only where something was found."""
    seen = {f.label: f for f in again.findings}
    findings = []
    for f in first.findings:
        if f.kind not in ("regression", "improvement"):
            findings.append(f)
            continue
        second = seen.get(f.label)
        if second is not None and second.kind == f.kind:
            findings.append(
                Finding(f.label, f.ratio, f.kind, f"x{second.ratio:.2f} when measured again")
            )
            continue
        if second is None:
            seen_again = f"within {THRESHOLD:.0%} when measured again"
        else:
            seen_again = f"{second.kind} x{second.ratio:.2f} when measured again"
            seen_again += f" ({second.why})" if second.why else ""
        why = f"not confirmed: {seen_again}; rerun on a quieter machine"
        findings.append(Finding(f.label, f.ratio, "unclear", why))
    regressed = any(f.kind == "regression" for f in findings)
    head = f"{first.head}; its regressions and improvements measured again"
    return Judgement(1 if regressed else 0, head, findings, first.points)


def describe(judgement: Judgement) -> str:
    """The gate's report: what was compared, each finding, the counts."""
    if not judgement.points or (judgement.code and not judgement.findings):
        return judgement.head
    lines = [judgement.head]
    for f in sorted(judgement.findings, key=lambda f: (f.kind, -abs(math.log(f.ratio)))):
        note = f" ({f.why})" if f.why else ""
        lines.append(f"  {f.kind}: {f.label} x{f.ratio:.2f}{note}")
    count = {kind: sum(f.kind == kind for f in judgement.findings) for kind in KINDS}
    lines.append(
        f"{count['regression']} regression(s), {count['improvement']} improvement(s),"
        f" {count['unclear']} unclear (disturbed, quartiles overlapping, the machine changed"
        " between the sides, or not confirmed when measured again)"
    )
    return "\n".join(lines)
