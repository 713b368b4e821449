"""The progress line printed while asv is quiet: how many point runs are done, how long is left.

asv prints a benchmark's line only when all its parameters are done, and the step benchmarks
have a hundred points or more, so asv can be silent for many minutes. Each benchmark process
appends one line to the file named by ``FFBENCH_PROGRESS`` per finished point measurement
(`benchmarks.flags.tick`); `Progress` counts them and estimates the time left from the average
time per point so far.
"""

from __future__ import annotations

import time
from pathlib import Path

#: Print a progress line after this long without output (people wonder after ~10 s).
QUIET_S = 6.0
#: No estimate of the time left before this many point runs and seconds.
ESTIMATE_AFTER = 10


def grid_runs(grid: str, rounds: int, commits: int = 1) -> int:
    """Point runs (benchmark processes) one ``asv run`` of ``grid`` makes in ``rounds`` on each
    of ``commits``."""
    from . import grids

    return commits * grids.expected_runs(grids.grid(grid), rounds)


def history_runs(labels: list[str], rounds: int) -> int:
    """Point runs of ``continuous``: both commits, each history point in every round."""
    return 2 * len(labels) * rounds


class Progress:
    """Counts the lines of a progress file, and says so."""

    def __init__(self, path: Path, total: int | None, clock=time.monotonic):
        self.path = Path(path)
        self.total = total
        self.clock = clock
        self.done = 0
        self.offset = 0
        self.first_at: float | None = None
        self.done_at_first = 0

    def update(self) -> int:
        """Read what was appended since the last call; the number of point runs done."""
        try:
            with self.path.open("rb") as stream:
                stream.seek(self.offset)
                new = stream.read()
        except OSError:
            return self.done
        self.offset += len(new)
        self.done += new.count(b"\n")
        if self.done and self.first_at is None:
            self.first_at, self.done_at_first = self.clock(), self.done
        return self.done

    def seconds_left(self) -> float | None:
        """Time per point since the first were seen done, times the points not done yet; none
        before `ESTIMATE_AFTER` more points and seconds (points finish in bursts: an estimate
        from the first burst said "about 0 s left")."""
        if self.total is None or self.first_at is None:
            return None
        elapsed, since = self.clock() - self.first_at, self.done - self.done_at_first
        if since < ESTIMATE_AFTER or elapsed < ESTIMATE_AFTER:
            return None
        per_point = elapsed / since
        return max(self.total - self.done, 0) * per_point

    def line(self) -> str:
        self.update()
        if self.total is None:
            return f"progress: {self.done} point runs done"
        left = self.seconds_left()
        if not self.done:
            estimate = "setting up (learning rates for every point, the reference)"
        elif left is None:
            estimate = "no estimate yet"
        else:
            estimate = f"about {left:.0f} s left"
        return f"progress: {self.done} of {self.total} point runs done, {estimate}"
