"""``python -m impls``: check every available implementation, then time one step of each.

A sanity figure, not a benchmark (asv does that): the median of a few hundred steps at one size,
all implementations on the same thread count, after a warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace

import impls
from impls.learning_rate import rate_in_force
from impls.oracle import check, probing_lr


def _median_step_seconds(trainer: impls.Trainer, seconds: float) -> float:
    for _ in range(5):
        trainer.step()
    trainer.sync()
    samples = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 20:
        start = time.perf_counter()
        trainer.step()
        trainer.sync()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m impls", description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: cores)")
    parser.add_argument("--seconds", type=float, default=0.5, help="timing per implementation")
    args = parser.parse_args(argv)

    info = impls.set_threads(args.threads)
    problem = impls.Problem(dtype=args.dtype)
    print(f"threads: {info.summary()}")
    print(f"problem: {problem}  (lr in force {rate_in_force(problem):.3g})")
    wrong = 0
    rows = []
    for name in impls.names():
        reason = impls.unavailable_reason(name)
        if reason:
            rows.append((name, "skipped", reason))
            continue
        result = check(name, replace(problem, lr=probing_lr(problem)))
        if not result.ok:
            wrong += 1
            rows.append((name, "WRONG", str(result)))
            continue
        seconds = _median_step_seconds(impls.create(name, problem), args.seconds)
        rows.append((name, f"{seconds * 1e6:10.1f} us", f"oracle ok ({result.update_error:.1e})"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'implementation':<{width}}  {'one step':>13}  check")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>13}  {note}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
