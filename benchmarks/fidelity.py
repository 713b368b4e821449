"""``python -m benchmarks.fidelity``: asv's step times against torch.utils.benchmark's.

For every CPU implementation that runs here, at the tutorial size on one thread (the points
history is tracked on): asv's own benchmark code (asv_runner running ``Step.track_time``, the
same setup, protocol and teardown as in ``asv run``) and
``torch.utils.benchmark.Timer(...).blocked_autorange()`` time the same step of the same trainer,
started from the same restored weights, on the same threads. The two are interleaved `ROUNDS`
times and each side's median of medians is compared; the target is a ratio within `TARGET` of
1. Exits non-zero when a ratio misses it.

A round that ran in the machine's slow state is measured again (`clean_round`): the two sides
keep their blocks differently (asv the fast-state ones, `benchmarks.protocol`; Timer all of
them), so a round of Timer that the VM slowed parts them. Measured on the 2-vCPU VM while it
flipped between states, before this rule: five tries in 20 minutes each missed at one to
three implementations, mostly with asv below Timer (torch-cpu 0.66-0.88x, autograd-cpu 0.91x,
nn-cpu 0.93x, compile-cpu 0.81x, 0.86x and 1.14x, numpy 0.92x). A row with fewer than
`MIN_KEPT` clean rounds on either side is not judged and says so; it still fails the check.
The reference does not see every slow state: with the rule, in the same window, two rows were
not judged and two still missed (nn-cpu 0.85x, compile-cpu 1.14x).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from asv_runner.discovery import get_benchmark_from_name

from impls.point import Point

from . import common, grids, points, protocol

TARGET = 0.05
ROUNDS = 5
#: blocked_autorange's least measuring time per round, about asv's per process (repeat[2]).
MIN_RUN_TIME = 0.1
BENCHMARK = "bench_step.Step.track_time"
#: Tries of a round whose reference reading, before or after it, was slow (past
#: `protocol.Protocol.slow_state` times the best reading of the process) before it is left out.
TRIES = 3
#: Clean rounds each side must keep for its implementation to be judged.
MIN_KEPT = 3


def tutorial_points() -> list[tuple[int, Point]]:
    """(asv parameter index, point) of each CPU implementation's one-thread tutorial point."""
    found = []
    for idx, label in enumerate(points.GRID.labels(grids.TIME)):
        point = Point.parse(label)
        if (
            point.threads == grids.HISTORY_THREADS
            and grids.is_tutorial(point.problem)
            and common.device_of(point.impl) == "cpu"
        ):
            found.append((idx, point))
    return found


def asv_median(idx: int, rates: dict) -> float:
    """Median seconds per step from asv_runner running benchmark point ``idx``."""
    benchmark = get_benchmark_from_name(str(Path(__file__).parent), f"{BENCHMARK}-{idx}")
    benchmark.set_cache(rates)
    if benchmark.do_setup():
        raise NotImplementedError("skipped")
    try:
        result = benchmark.do_run()
    finally:
        benchmark.do_teardown()
    return statistics.median(result["samples"])


def timer_median(impl: str, problem, threads: int) -> float:
    """Median seconds per step from torch.utils.benchmark on the same cached trainer."""
    from torch.utils.benchmark import Timer

    trainer = common.trainer(impl, problem)
    common.restore(trainer, problem)
    timer = Timer(
        "trainer.step(); trainer.sync()", globals={"trainer": trainer}, num_threads=threads
    )
    measurement = timer.blocked_autorange(min_run_time=MIN_RUN_TIME)
    common.check_finite(trainer)
    return measurement.median


def clean_round(measure_round: Callable[[], float], readings: list[float]) -> float | None:
    """``measure_round()`` with the reference workload read before and after it (the readings
    kept in ``readings``, the process's best among them); the first try, of `TRIES`, whose two
    readings stay under `protocol.Protocol.slow_state` times that best, or None."""
    for _ in range(TRIES):
        before = protocol.reference_seconds()
        value = measure_round()
        after = protocol.reference_seconds()
        readings += [before, after]
        if max(before, after) <= min(readings) * protocol.PROTOCOL.slow_state:
            return value
    return None


def kept_median(values: list[float | None]) -> float:
    """The median of the clean rounds, NaN with fewer than `MIN_KEPT`."""
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if len(kept) >= MIN_KEPT else math.nan


def measure(idx: int, point: Point, lr: float) -> tuple[float, float]:
    """(asv median, Timer median) of one implementation over its clean rounds, the sides
    interleaved `ROUNDS` times; NaN for a side with too few."""
    rates = {common.rate_key(point.problem): lr}
    problem = replace(point.problem, lr=lr)
    readings = [protocol.reference_seconds(calls=50)]  # the process's best, before any round
    asv, timer = [], []
    for _ in range(ROUNDS):
        asv.append(clean_round(lambda: asv_median(idx, rates), readings))
        timer.append(
            clean_round(lambda: timer_median(point.impl, problem, point.threads), readings)
        )
    return kept_median(asv), kept_median(timer)


def in_own_process(idx: int, lr: float) -> tuple[float, float]:
    """`measure` in a fresh process, as asv runs one point per process: numpy's BLAS threads
    and torch's OpenMP threads, both spinning after work, must not compete for the cores."""
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.fidelity", "--child", str(idx), repr(lr)],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    return tuple(json.loads(child.stdout.splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fidelity", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--child", nargs=2, metavar=("INDEX", "LR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    found = dict(tutorial_points())
    if args.child:
        idx, lr = int(args.child[0]), float(args.child[1])
        print(json.dumps(measure(idx, found[idx], lr)))
        return 0
    missed = 0
    # One row as each implementation is done (each takes seconds): never a silent minute.
    print(f"Tutorial size {common.TUTORIAL}, float32, one thread; medians of {ROUNDS} rounds")
    print("| impl | threads | asv median (us) | Timer median (us) | asv / Timer | within 5% |")
    print("|---|---|---|---|---|---|", flush=True)
    for idx, point in found.items():
        impl, problem, threads = point.impl, point.problem, point.threads
        if common.unavailable_reason(impl):
            continue
        lr = common.learning_rates([problem])[common.rate_key(problem)]
        a, t = in_own_process(idx, lr)
        if math.isnan(a) or math.isnan(t):
            missed += 1
            print(f"| {impl} | {threads} | - | - | - | not judged: fewer than {MIN_KEPT} rounds"
                  " ran with the machine in its fast state; rerun on a quieter machine |",
                  flush=True)  # fmt: skip
            continue
        ok = abs(a / t - 1) <= TARGET
        missed += not ok
        print(f"| {impl} | {threads} | {a * 1e6:.1f} | {t * 1e6:.1f} | {a / t:.3f} |"
              f" {'yes' if ok else 'NO'} |", flush=True)  # fmt: skip
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
