"""The whole-run check (`benchmarks.drift`) replayed on saved runs, in the order given.

    python tools/replay_whole_run.py RUN_1.json RUN_2.json ...

Each argument is an asv results file copied aside after a main job, with its ``ffbench-flags``
sidecar beside it (as for `tools/compare_runs.py`). Every run is taken as a run of the same
code, each checked against the ones before it: what the check would have said had they been.
Prints, per run, the implementations it would flag, the furthest one it would not, the points
and paired ratios it would flag by themselves (`benchmarks.drift.lone_points`), and how far its
points lie from the runs before (`benchmarks.drift.spread`). A measurement of the check, not a
test: it writes nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import drift, gate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    for path in args.runs:
        if not path.is_file():
            parser.error(f"{path} is not a results file")
    history: list[dict] = []
    for path in args.runs:
        timings = gate.read_file(path, drift.BENCHMARK)
        times = {k: t.median for k, t in timings.items() if not t.disturbed}
        prints = {drift.impl_of(k): "replayed" for k in timings}
        found, unjudged = drift.shifts(times, prints, history)
        found += drift.slow_run(found, unjudged)
        apart = drift.spread(times, prints, history)
        lone = drift.lone_points(times, prints, history)
        ratio_timings = gate.read_file(path, drift.PAIRED)
        ratios = {k: t.median for k, t in ratio_timings.items() if not t.disturbed}
        lone_ratios = drift.lone_points(ratios, prints, history, drift.RATIO)
        slow = [s for s in found if s.slow]
        calm = [s for s in found if not s.slow]
        flagged = sum(drift.impl_of(k) in {s.impl for s in slow} for k in timings)
        words = [f"{path.parent.name or path.name}: {len(found)} judged"]
        if slow:
            words.append(f"{flagged} points flagged (" + ", ".join(
                f"{s.impl} {s.ratio:.3f}x" for s in slow) + ")")  # fmt: skip
        if calm:
            worst = max(calm, key=lambda s: abs(math.log(s.ratio)))
            words.append(f"furthest unflagged {worst.impl} {worst.ratio:.3f}x")
        if apart is not None:
            words.append(
                f"{apart.median:.1%} from the runs before (9 in 10 within {apart.ninetieth:.1%})"
            )
        slow_impls = {s.impl for s in slow}
        for what, found_alone in (("lone points", lone), ("lone paired ratios", lone_ratios)):
            alone = {k: r for k, r in found_alone.items() if drift.impl_of(k) not in slow_impls}
            if alone:
                listed = ", ".join(f"{k} {r:.2f}x" for k, r in alone.items())
                words.append(f"{len(alone)} {what} ({listed})")
        if unjudged:
            words.append("unjudged " + ", ".join(unjudged))
        print("; ".join(words))
        history.append(
            {
                drift.STEP.prints: prints,
                drift.STEP.values: times,
                drift.RATIO.prints: prints,
                drift.RATIO.values: ratios,
            }
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
