"""``python -m impls``: check every available implementation, then time one step of each.

A sanity figure, not a benchmark (asv does that): the median of a few hundred steps at one size,
all implementations on the same thread count, after a warm-up. A bad option is one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import replace

import impls
from impls.learning_rate import rate_in_force
from impls.oracle import check, probing_lr
from impls.threads import physical_cores

#: The longest timing per implementation: the demo is a quick sanity figure.
MAX_SECONDS = 60.0


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask): more threads than that only contend."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _threads(text: str) -> int:
    """An int in 1..usable CPUs: 0 or less is meaningless, and far more crashes the BLAS."""
    limit = usable_cpus()
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= limit:
        raise argparse.ArgumentTypeError(
            f"{text!r} is invalid: expected an int from 1 to {limit} (the CPUs this process may use)"
        )
    return value


def _seconds(text: str) -> float:
    """A finite number in (0, MAX_SECONDS]: the timing loop runs until that much time passed."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(
            f"{text!r} is invalid: expected a finite number > 0 and <= {MAX_SECONDS:g}"
        )
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (no usage block), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m impls",
        description=__doc__.splitlines()[0].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--dtype", default="float32", choices=["float32", "float64"], help="the arrays' dtype"
    )
    p.add_argument(
        "--threads",
        type=_threads,
        default=physical_cores(),
        help=f"CPU threads for numpy's BLAS and torch alike, 1 to {usable_cpus()} here; "
        "the default is the physical cores",
    )
    p.add_argument(
        "--seconds",
        type=_seconds,
        default=0.5,
        help=f"timing per implementation, > 0 and <= {MAX_SECONDS:g}",
    )
    return p


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
    args = parser().parse_args(argv)
    info = impls.set_threads(args.threads)
    problem = impls.Problem(dtype=args.dtype)
    print(f"threads: {info.summary()}")
    print(f"problem: {problem}  (lr in force {rate_in_force(problem):.3g})")
    wrong = 0
    width = max(len(name) for name in impls.names())
    # One row as each implementation is done (a compile takes seconds): never a silent wait.
    print(f"\n{'implementation':<{width}}  {'one step':>13}  check", flush=True)
    for name in impls.names():
        reason = impls.unavailable_reason(name)
        if reason:
            value, note = "skipped", reason
        elif not (result := check(name, replace(problem, lr=probing_lr(problem)))).ok:
            wrong += 1
            value, note = "WRONG", str(result)
        else:
            seconds = _median_step_seconds(impls.create(name, problem), args.seconds)
            value, note = f"{seconds * 1e6:10.1f} us", f"oracle ok ({result.update_error:.1e})"
        print(f"{name:<{width}}  {value:>13}  {note}", flush=True)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
