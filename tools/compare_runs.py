"""Agreement of two runs of the same grid, point by point: the stability figure of the protocol.

    python tools/compare_runs.py RUN_A.json RUN_B.json

Each argument is an asv results file (``.asv/results/<machine>/<commit>-<env>.json``; copy the
first aside before the second run overwrites it, together with its ``ffbench-flags`` sidecar).
Prints, for step times and for paired relative times, how many points agree within 5%, 10% and
20%, how many were flagged disturbed in either run (left out of the agreement counts), and the
points that moved most. A measurement, not a test: run it on a quiet machine and quote it.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.gate import BENCHMARK, read_file

PAIRED = "bench_paired.Paired.track_relative_time"


def agreement(a: dict, b: dict, title: str) -> list[str]:
    both = sorted(set(a) & set(b))
    flagged = [k for k in both if a[k].disturbed or b[k].disturbed]
    kept = [k for k in both if k not in flagged]
    if not kept:
        return [f"{title}: no point measured in both runs"]
    ratios = {k: b[k].median / a[k].median for k in kept}
    lines = [f"{title}: {len(both)} points in both runs, {len(flagged)} flagged disturbed"]
    for limit in (0.05, 0.10, 0.20):
        n = sum(abs(math.log(r)) <= math.log(1 + limit) for r in ratios.values())
        lines.append(f"  within {limit:.0%}: {n} of {len(kept)} ({n / len(kept):.0%})")
    worst = sorted(ratios.items(), key=lambda kv: -abs(math.log(kv[1])))[:8]
    lines += [f"  moved most: {k} x{r:.3f}" for k, r in worst]
    by_threads: dict[str, list[float]] = {}
    for k, r in ratios.items():
        by_threads.setdefault(k.rsplit("/", 1)[-1], []).append(r)
    for threads, rs in sorted(by_threads.items()):
        n = sum(abs(math.log(r)) <= math.log(1.10) for r in rs)
        lines.append(f"  at {threads}: {n} of {len(rs)} within 10%")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    args = parser.parse_args(argv)
    for path in (args.run_a, args.run_b):
        if not path.is_file():
            parser.error(f"{path} is not a results file")
    for benchmark, title in ((BENCHMARK, "step time"), (PAIRED, "paired relative time")):
        a, b = read_file(args.run_a, benchmark), read_file(args.run_b, benchmark)
        print("\n".join(agreement(a, b, title)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
