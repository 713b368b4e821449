"""``python -m benchmarks.fidelity``: asv's step times against torch.utils.benchmark's.

For every CPU implementation that runs here, at the tutorial size (the quick batch sweep's
batch-64 point): asv's own timing code (asv_runner, the same setup, samples and teardown as in
``asv run``) and ``torch.utils.benchmark.Timer(...).blocked_autorange()`` time the same step of
the same trainer, started from the same restored weights, on the same threads. The two are
interleaved `ROUNDS` times and each side's median of medians is compared; the target is a
ratio within `TARGET` of 1. Exits non-zero when a ratio misses it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from asv_runner.discovery import get_benchmark_from_name

from . import bench_step, common

TARGET = 0.05
ROUNDS = 5
#: blocked_autorange's least measuring time per round, about asv's per process (repeat[2]).
MIN_RUN_TIME = 0.1
CLASS = bench_step.QuickBatch


def tutorial_points() -> list[tuple[int, tuple]]:
    """(asv parameter index, values) of each implementation's tutorial point in `CLASS`."""
    points = []
    for idx, values in enumerate(itertools.product(*CLASS.params)):
        impl, batch, d_in, hidden, d_out, *_ = values
        tutorial = {"batch": batch, "d_in": d_in, "hidden": hidden, "d_out": d_out}
        if tutorial == common.TUTORIAL and common.device_of(impl) == "cpu":
            points.append((idx, values))
    return points


def asv_median(idx: int, rates: dict) -> float:
    """Median seconds per step from asv_runner's timing of benchmark point ``idx``."""
    name = f"{CLASS.__module__.rpartition('.')[2]}.{CLASS.__name__}.time_step-{idx}"
    benchmark = get_benchmark_from_name(str(Path(__file__).parent), name)
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


def measure(idx: int, impl: str, sizes: list, threads: int, lr: float) -> tuple[float, float]:
    """(asv median, Timer median) of one implementation, interleaved `ROUNDS` times."""
    problem = common.problem_of(*sizes)
    rates = {common.rate_key(problem): lr}
    problem = replace(problem, lr=lr)
    asv, timer = [], []
    for _ in range(ROUNDS):
        asv.append(asv_median(idx, rates))
        timer.append(timer_median(impl, problem, threads))
    return statistics.median(asv), statistics.median(timer)


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
    points = dict(tutorial_points())
    if args.child:
        idx, lr = int(args.child[0]), float(args.child[1])
        impl, *sizes, threads = points[idx]
        print(json.dumps(measure(idx, impl, sizes, threads, lr)))
        return 0
    rows, missed = [], 0
    for idx, (impl, *sizes, threads) in points.items():
        if common.unavailable_reason(impl):
            continue
        problem = common.problem_of(*sizes)
        lr = common.learning_rates([problem])[common.rate_key(problem)]
        a, t = in_own_process(idx, lr)
        ok = abs(a / t - 1) <= TARGET
        missed += not ok
        rows.append((impl, threads, a, t, a / t, "yes" if ok else "NO"))
    print(f"Tutorial size {common.TUTORIAL}, float32; medians of {ROUNDS} interleaved rounds")
    print("| impl | threads | asv median (us) | Timer median (us) | asv / Timer | within 5% |")
    print("|---|---|---|---|---|---|")
    for impl, threads, a, t, ratio, ok in rows:
        print(f"| {impl} | {threads} | {a * 1e6:.1f} | {t * 1e6:.1f} | {ratio:.3f} | {ok} |")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
