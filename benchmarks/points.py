"""Set-up shared by every benchmark of a training step: the grid, the rates, the trainer.

Every step benchmark class derives from `StepBenchmark`, so asv (which keys ``setup_cache`` by
the function's source) searches the learning rates of the whole grid once per run, in its own
process, never inside a timed region.
"""

from __future__ import annotations

from dataclasses import replace

import impls
from impls.point import Point

from . import common, flags, grids, protocol

#: The grid asv sees (`grids.GRID_ENV`).
GRID = grids.selected()


def searched_rates(grid: grids.Grid) -> dict:
    """The default learning rate of every step point's problem (or why there is none)."""
    return common.learning_rates(g.point.problem for g in grid.steps)


def runnable_point(rates: dict, label: str) -> Point:
    """The point of ``label`` with its searched rate; skips, with the reason, what cannot run
    here (implementation unavailable, no stable rate)."""
    point = Point.parse(label)
    reason = common.unavailable_reason(point.impl)
    if reason:
        common.skip(reason)
    rate = rates.get(common.rate_key(point.problem))
    if not isinstance(rate, float):
        common.skip(rate or "no learning rate was searched for this point")
    return replace(point, problem=replace(point.problem, lr=rate))


def busy_threads(point: Point) -> int:
    """CPU threads a point keeps busy while it runs, for the load check: its threads on the CPU,
    one on CUDA (one host thread launches the kernels; the others sleep)."""
    return 1 if grids.device_of(point.impl) == "cuda" else point.threads


def prepare_point(rates: dict, label: str) -> tuple[Point, impls.Trainer]:
    """The point of ``label`` (with its rate) and its warmed-up trainer, on the point's threads
    (one-thread points pinned to one core)."""
    point = runnable_point(rates, label)
    if point.threads == 1:
        protocol.pin_one_core()
    common.use_threads(point.threads)
    trainer = common.trainer(point.impl, point.problem)
    common.restore(trainer, point.problem)
    return point, trainer


class StepBenchmark:
    """asv attributes and set-up of every step measurement (one parameter: the point label)."""

    param_names = common.PARAM_NAMES
    timeout = 300

    def setup_cache(self):
        protocol.calibrate_reference()
        return searched_rates(GRID)

    def setup(self, rates, label):
        self.point, self.trainer = prepare_point(rates, label)

    def teardown(self, rates, label):
        if getattr(self, "trainer", None) is not None:
            common.check_finite(self.trainer)


class CountedStepBenchmark(StepBenchmark):
    """A step measurement that does not go through `protocol.measure`: it counts itself for
    the runner's progress line when its process is done."""

    def teardown(self, rates, label):
        super().teardown(rates, label)
        flags.tick()


def without_empty(namespace: dict, *names: str) -> None:
    """Remove the benchmark classes ``names`` that have no point in this grid from a module's
    ``namespace``: asv rejects a benchmark with an empty parameter list, and a class that can
    never run here has nothing to say (asv shows no tile for it)."""
    for name in names:
        if not namespace[name].params[0]:
            del namespace[name]
