"""Paired relative time: an implementation against numpy, side by side in one process.

``Paired.track_relative_time`` at a point labelled with implementation X returns X's step time
divided by numpy's at the same problem and threads, measured in alternating blocks (X numpy numpy
X X numpy ...: the order flips each pair, so a slow drift weighs on both sides alike), after
`WARMUP_PAIRS` pairs that are not kept, until each side has `MIN_FAST_BLOCKS` blocks in its fast
state; each block's first calls (`UNTIMED_SHARE`) are not timed. The samples are the
implementation's fast-state blocks over the median of numpy's (`relative_samples`); asv reports
their median and interval, pooled over `grids.ROUNDS` processes. Lower is better, as for every
asv value, so ``asv compare`` and history read it the right way round; the report's paired
speedup over numpy is its inverse.

Both sides are measured in the same second on the same cores, so a change of the machine's
state between processes or minutes, which moves absolute times, weighs on both (the load checks
of `benchmarks.protocol` still flag a process that ran in the slow state: it does not slow
every implementation by the same factor). Nor do the machine's milder slow states, so each
side's own fast-state step time (`fast_medians`) is compared with the point's earlier round
(`benchmarks.protocol.parts_disagreement`): a round in which either side ran slow is set aside,
or outweighs the earlier round that did, as a slow round of a step time is. A round whose
sides' first kept blocks are each in their side's fast mode began in the fast state
(`benchmarks.protocol.began_fast`): a slow state after it does not disturb it. Both trainers are
checked for finite state after the last pair. The grids take paired ratios on one thread only
(`benchmarks.grids`: on all cores the two libraries' thread pools stall each other).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import replace
from typing import ClassVar

from . import common, grids, protocol
from .points import GRID, StepBenchmark, busy_threads, without_empty

#: Pairs run first and not kept: the first blocks after the two trainers start alternating ran
#: 1.5-5x slow here, in every process.
WARMUP_PAIRS = 2
#: Pairs kept, at least; then more until `MIN_FAST_BLOCKS` of each side are in its fast state.
MIN_PAIRS = 12
#: Blocks of each side within `PAIRED_FAST_MODE` of its fastest before a round stops, for at
#: most `MAX_MEASURE_SECONDS`: on a calm machine 12 pairs hold them, on a noisy one a fixed 12
#: left the ratio resting on one or two blocks. Replayed on 400-pair recordings (three
#: processes each of torch-cpu and custom-fn-cpu at batch 4 and nn-cpu at 16, 07:05 on a noisy
#: VM), two rounds pooled as asv pools them: their spread (standard deviation) 6.9-9.8% with
#: 12 pairs, 1.1-1.2% with this rule (25-29 pairs a round on average); a fixed 36 pairs read
#: 0.9-8.2%. (autograd-cpu at batch 4 spread 12-15% either way: one of its three processes ran
#: its side at 170 us throughout, the others at 146-148 us; the rounds' check catches that.)
MIN_FAST_BLOCKS = 6
#: The most a round measures after its warm-up pairs (~48 pairs of 10 ms blocks).
MAX_MEASURE_SECONDS = 1.0
#: Untimed calls before each block, as a share of its timed calls (rounded down): the first
#: calls after the other side's block run slow while caches and predictors refill. Measured
#: at 4x1000x100x10, one thread: torch-cpu's first call after numpy's 1.9x its steady time, the
#: second 1.2x, steady from the fourth; nn-cpu 1.6x, 1.15x, from the fifth. Timed, they spread
#: the blocks by a few percent and the 3% window below kept as few as 1 of 14 blocks.
UNTIMED_SHARE = 0.1
#: The fast state of each side, for `relative_samples`: blocks within 3% of the side's fastest.
#: Tighter than a step time's (`protocol.Protocol.fast_mode`): the ratio should compare the
#: blocks the machine did not slow on either side. Measured (before `UNTIMED_SHARE`) in 12
#: processes at four points: the ratio's spread (standard deviation) 1.1-2.5% with 3%, 1.3-2.1%
#: with 10%.
PAIRED_FAST_MODE = 0.03


class Paired(StepBenchmark):
    version = "4"
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
        calls = [_call(self.trainer), _call(self.baseline)]
        numbers = [protocol.calibrate(c, protocol.PROTOCOL.block_seconds) for c in calls]

        def block(side: int) -> float:
            call, number = calls[side], numbers[side]
            for _ in range(int(number * UNTIMED_SHARE)):
                call()
            start = time.perf_counter()
            for _ in range(number):
                call()
            return (time.perf_counter() - start) / number

        names = (self.point.impl, grids.BASELINE)
        last: dict[str, tuple[list[float], list[float]]] = {}  # the last measurement's blocks

        def measure_once() -> list[float]:
            config = protocol.PROTOCOL
            sides: tuple[list[float], list[float]] = ([], [])
            deadline = math.inf
            pairs = 0
            while pairs < WARMUP_PAIRS + MIN_PAIRS or (
                too_few_fast(sides, names, PAIRED_FAST_MODE, MIN_FAST_BLOCKS)
                and time.perf_counter() < deadline
                and pairs < config.max_blocks
            ):
                order = (0, 1) if pairs % 2 == 0 else (1, 0)
                seconds = [block(side) for side in order]
                if pairs == WARMUP_PAIRS - 1:
                    deadline = time.perf_counter() + MAX_MEASURE_SECONDS
                if pairs >= WARMUP_PAIRS:
                    for side, s in zip(order, seconds, strict=True):
                        sides[side].append(s)
                if pairs == WARMUP_PAIRS:
                    protocol.first_block_timed()
                pairs += 1
            last["sides"] = sides
            return relative_samples(*sides, PAIRED_FAST_MODE)

        samples = protocol.measure(
            measure_once,
            busy_threads(self.point),
            "bench_paired.Paired.track_relative_time",
            label,
            keep_fast=False,  # relative_samples keeps the fast-state blocks of each side
            parts=lambda: dict(
                zip(names, fast_medians(*last["sides"], PAIRED_FAST_MODE), strict=True)
            ),
            short=lambda: too_few_fast(last["sides"], names, PAIRED_FAST_MODE, MIN_FAST_BLOCKS),
            fast_start=lambda: all(
                protocol.began_fast(s, protocol.PROTOCOL) for s in last["sides"]
            ),
        )
        return protocol.timing_result(samples, 1)

    track_relative_time.unit = "ratio"


def relative_samples(seconds: list[float], baseline: list[float], tolerance: float) -> list[float]:
    """Each of the implementation's fast-state blocks over the median of numpy's: their median
    is the ratio of the two sides' fast-state medians (`protocol.fast_blocks`), and their
    spread is the implementation's.

    Not the ratio of each pair's two blocks: a block that the machine slowed down moves that
    pair's ratio; measured in 8 processes (before `UNTIMED_SHARE`, when a block after a switch
    also ran up to 15% slow), the median of pair ratios spread up to 14% where this spread
    2-5%."""
    fast_baseline = statistics.median(protocol.fast_blocks(baseline, tolerance))
    return [s / fast_baseline for s in protocol.fast_blocks(seconds, tolerance)]


def too_few_fast(
    sides: tuple[list[float], ...], names: tuple[str, ...], tolerance: float, count: int
) -> str:
    """Why the blocks are too few to judge: the first side without ``count`` blocks within
    ``tolerance`` of its fastest ('' when every side has them). A round stops once it has them;
    one that ran out of time without them is disturbed, as a step point with too few
    fast-state blocks is: its median would rest on a block or two, and a clean round of three
    or fewer samples does not settle its point (`benchmarks.flags.Pool.settled`)."""
    for name, blocks in zip(names, sides, strict=True):
        fast = len(protocol.fast_blocks(blocks, tolerance)) if blocks else 0
        if fast < count:
            return f"only {fast} of {len(blocks)} blocks of {name}'s side ran in its fast state"
    return ""


def fast_medians(
    seconds: list[float], baseline: list[float], tolerance: float
) -> tuple[float, float]:
    """Each side's fast-state step time: the median of its blocks within ``tolerance`` of its
    fastest. `benchmarks.protocol` compares them with the point's earlier round, side by side."""
    return tuple(statistics.median(protocol.fast_blocks(s, tolerance)) for s in (seconds, baseline))


def _call(trainer):
    def call():
        trainer.step()
        trainer.sync()

    return call


without_empty(globals(), "Paired")
