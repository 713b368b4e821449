"""Paired relative time: an implementation against numpy, side by side in one process.

``Paired.track_relative_time`` at a point labelled with implementation X returns X's step time
divided by numpy's at the same problem and threads, measured in alternating blocks (X numpy numpy
X X numpy ...: the order flips each pair, so a slow drift weighs on both sides alike). Each
sample is one pair's ratio; asv reports their median and interval, pooled over
`grids.ROUNDS` processes. Lower is better, as for every asv value, so ``asv compare`` and
history read it the right way round; the report's paired speedup over numpy is its inverse.

A ratio of two things measured in the same seconds does not move when the whole machine slows
down (measured here: the slow all-core state hit every implementation at once), so paired
ratios hold still where absolute times cannot. Both trainers are checked for finite state after
the last pair. On several threads a pause separates the blocks, so that one library's worker
threads, still spinning after their work, do not steal cores from the other's.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import ClassVar

from . import common, grids, protocol
from .points import GRID, StepBenchmark, busy_threads, without_empty

#: Pause between blocks when the point runs on several threads (see the module docstring).
MULTI_THREAD_PAUSE = 0.002


class Paired(StepBenchmark):
    version = "2"
    params: ClassVar[list] = [GRID.labels(grids.RELATIVE)]

    def setup(self, rates, label):
        super().setup(rates, label)
        baseline = replace(self.point, impl=grids.BASELINE)
        self.baseline = common.trainer(baseline.impl, baseline.problem)
        common.restore(self.baseline, baseline.problem)

    def teardown(self, rates, label):
        super().teardown(rates, label)
        if getattr(self, "baseline", None) is not None:
            common.check_finite(self.baseline)

    def track_relative_time(self, rates, label):
        pause = MULTI_THREAD_PAUSE if self.point.threads > 1 else 0.0
        calls = [_call(self.trainer), _call(self.baseline)]
        numbers = [protocol.calibrate(c, protocol.PROTOCOL.block_seconds) for c in calls]

        def block(side: int) -> float:
            if pause:
                time.sleep(pause)
            call, number = calls[side], numbers[side]
            start = time.perf_counter()
            for _ in range(number):
                call()
            return (time.perf_counter() - start) / number

        def measure_once() -> list[float]:
            ratios = []
            config = protocol.PROTOCOL
            deadline = time.perf_counter() + config.measure_seconds
            while len(ratios) < config.min_blocks or (
                time.perf_counter() < deadline and len(ratios) < config.max_blocks
            ):
                order = (0, 1) if len(ratios) % 2 == 0 else (1, 0)
                seconds = dict(zip(order, (block(order[0]), block(order[1])), strict=True))
                ratios.append(seconds[0] / seconds[1])
            return ratios

        samples = protocol.measure(
            measure_once,
            busy_threads(self.point),
            "bench_paired.Paired.track_relative_time",
            label,
            keep_fast=False,  # both sides of a pair share the machine's state
        )
        return protocol.timing_result(samples, 1)

    track_relative_time.unit = "ratio"


def _call(trainer):
    def call():
        trainer.step()
        trainer.sync()

    return call


without_empty(globals(), "Paired")
