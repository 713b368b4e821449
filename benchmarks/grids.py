"""Every grid's points, listed once: what runs, at which sizes and threads, and what is measured.

A grid is a list of `GridPoint`s: a step point (`impls.point.Point`, labelled by its codec) and
the measurements taken there. Every rule is applied here and nowhere else: the CPU work budget,
which implementations compile (tutorial size only), the device split, the scale diagonal, the
thread policy and the ceiling shapes. The benchmark classes take their one parameter, the point
label, from here, so ``benchmarks.json`` lists exactly the points that exist and a plain
``asv run`` runs exactly them. Which grid asv sees is `GRID_ENV` (default ``quick``).

Thread policy (measured on a 2-vCPU VM, shared/notes/measurement-noise.md): one thread, pinned
to one core, is stable within a few percent from process to process; all cores flip between a
fast and a ~1.6x slow state whenever anything else runs. So every sweep runs on **one thread**
and those points carry history and the regression gate (`HISTORY_THREADS`); **all-core** points
are kept where a comparison needs the whole machine (the tutorial size and the batch sweep in
the quick grid, at three sizes; every sweep of the full grid, the CPU side of the GPU grid).

- ``quick`` (the main job, CPU implementations, float32): one-thread sweeps of batch, d_in,
  hidden and scale, the exercises, all cores along the batch sweep (its ends and the tutorial
  size, `QUICK_ALL_CORE_BATCH`); peak memory at the tutorial size; paired relative times
  against numpy along the one-thread batch sweep; the GEMM ceilings (first steps: full and gpu
  grids).

- ``full``: every implementation, both dtypes, longer sweeps, one thread and all cores.
- ``gpu`` (``nox -s gpu``, within minutes on one GPU): every implementation along the batch
  sweep and the scale diagonal (CPU on all cores, within the full grid's budget), CUDA-event
  time and first steps at the tutorial size, the ceilings and the launch floor; float32.

Paired relative times are taken on one thread only, in every grid: on all cores the two
libraries' thread pools (OpenBLAS's and torch's OpenMP workers, each spinning for a while after
its work) stall each other when their blocks alternate; measured on 2 vCPUs, the same all-core
paired ratio moved x0.59 and x7.1 between two runs while the all-core step times agreed within
10% at 21 of 22 points.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import impls
from impls.point import Point, gemm_label
from impls.problem import Problem

GRIDS = ("quick", "full", "gpu")
GRID_ENV = "FFBENCH_GRID"
TUTORIAL = dict(impls.TUTORIAL_SIZES)
ALL_THREADS = impls.physical_cores()
HISTORY_THREADS = 1
BASELINE = "numpy"

#: Measurements a point can have (benchmark methods): wall time, CPU peak memory, CUDA-event
#: time, torch's GPU peak memory, the first step of a fresh process, the paired relative time.
TIME, PEAKMEM, DEVICE_TIME, GPU_MEMORY, FIRST_STEP, RELATIVE = (
    "time",
    "peakmem",
    "device_time",
    "gpu_memory",
    "first_step",
    "relative",
)

MEASURES = (TIME, PEAKMEM, DEVICE_TIME, GPU_MEMORY, FIRST_STEP, RELATIVE)

#: CPU points over this many operations a step are left out (`impls.step_flops`): ~30 ms on
#: one thread here for the quick grid, ~0.3 s for the full grid.
QUICK_CPU_FLOP_BUDGET = 2e9
FULL_CPU_FLOP_BUDGET = 2e10

QUICK_BATCH = (4, 16, 64, 256, 1024)
#: The quick grid's all-core sweep: the batch sweep's ends and the tutorial size (its two-thread
#: points move most between runs here, and the main job is to take minutes).
QUICK_ALL_CORE_BATCH = (4, 64, 1024)
QUICK_D_IN = (62, 250, 1000, 4000, 16000)
QUICK_HIDDEN = (6, 25, 100, 400, 1600)
QUICK_SCALE = (1, 2, 4, 8, 16)
FULL_BATCH = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
FULL_D_IN = (62, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)
FULL_HIDDEN = (6, 12, 25, 50, 100, 200, 400, 800, 1600, 3200, 6400)
FULL_SCALE = (1, 2, 4, 8, 16, 32)
EXERCISES = (("squared", "sigmoid"), ("exp", "relu"), ("exp", "sigmoid"))
#: Big square products for the ceilings: far into each device's compute-bound regime.
SQUARE = {"cpu": 2048, "cuda": 8192}


@dataclass(frozen=True)
class GridPoint:
    """One step point of a grid and the measurements taken there."""

    point: Point
    measures: frozenset[str] = field(default_factory=lambda: frozenset({TIME}))

    @property
    def label(self) -> str:
        return self.point.label


@dataclass(frozen=True)
class Grid:
    name: str
    steps: tuple[GridPoint, ...]
    gemm: tuple[str, ...]
    floors: tuple[str, ...]

    def labels(self, measure: str) -> list[str]:
        """Labels of the step points where ``measure`` is taken, in grid order."""
        return [g.label for g in self.steps if measure in g.measures]

    def history_labels(self) -> list[str]:
        """Time points meant for history and the regression gate: one thread."""
        return [
            g.label for g in self.steps if TIME in g.measures and g.point.threads == HISTORY_THREADS
        ]


def problem(batch=64, d_in=1000, hidden=100, d_out=10, dtype="float32", loss="squared",
            activation="relu") -> Problem:  # fmt: skip
    return Problem(batch, d_in, hidden, d_out, dtype=dtype, loss=loss, activation=activation)


def device_of(impl: str) -> str:
    return impls.registry.entry(impl).device


def compiles(impl: str) -> bool:
    return impls.registry.entry(impl).compiles


def is_tutorial(p: Problem) -> bool:
    return p.sizes() == TUTORIAL and (p.loss, p.activation) == ("squared", "relu")


def sweeps(batch, d_in, hidden, scale, dtype="float32", exercises=True) -> list[Problem]:
    """The problems of one-axis sweeps around the tutorial size, the scale diagonal and the
    exercises, each once, in a fixed order."""
    out = [problem(batch=b, dtype=dtype) for b in batch]
    out += [problem(d_in=d, dtype=dtype) for d in d_in]
    out += [problem(hidden=h, dtype=dtype) for h in hidden]
    out += [problem(64 * f, 1000 * f, 100 * f, dtype=dtype) for f in scale]
    if exercises:
        out += [problem(loss=lo, activation=a, dtype=dtype) for lo, a in EXERCISES]
    return list(dict.fromkeys(out))


def fits(impl: str, p: Problem, budget: float) -> bool:
    """The work budget (CPU only) and the compile rule (compiling implementations run at the
    tutorial size only: each new shape compiles for seconds)."""
    if device_of(impl) == "cpu" and impls.step_flops(p) > budget:
        return False
    return not compiles(impl) or is_tutorial(p)


def cpu_impls() -> list[str]:
    return [n for n in impls.names() if device_of(n) == "cpu"]


def cuda_impls() -> list[str]:
    return [n for n in impls.names() if device_of(n) == "cuda"]


def _add(points: dict, impl: str, p: Problem, threads: int, *measures: str) -> None:
    """Add ``measures`` at the point (merging with those already there)."""
    key = Point(impl, p, threads)
    points[key] = points.get(key, frozenset()) | frozenset(measures)


def quick() -> Grid:
    """The main job, a few minutes here: steady state only (a fresh process's first step
    costs seconds each; the full and gpu grids measure it). A compiling implementation pays a
    compile in every process, so it gets its one-thread tutorial time only."""
    points: dict[Point, frozenset[str]] = {}
    one = sweeps(QUICK_BATCH, QUICK_D_IN, QUICK_HIDDEN, QUICK_SCALE)
    tutorial = problem()
    for impl in cpu_impls():
        for p in one:
            if fits(impl, p, QUICK_CPU_FLOP_BUDGET):
                _add(points, impl, p, HISTORY_THREADS, TIME)
        if compiles(impl):
            continue
        for b in QUICK_BATCH:
            p = problem(batch=b)
            if not fits(impl, p, QUICK_CPU_FLOP_BUDGET):
                continue
            if b in QUICK_ALL_CORE_BATCH:
                _add(points, impl, p, ALL_THREADS, TIME)
            if impl != BASELINE:
                _add(points, impl, p, HISTORY_THREADS, RELATIVE)
        _add(points, impl, tutorial, HISTORY_THREADS, PEAKMEM)
    return Grid("quick", _ordered(points), _gemm(["cpu"], (1,), ["float32"]), ())


def full() -> Grid:
    """Long sweeps in both dtypes. CPU: every sweep on one thread (with peak memory and the
    paired ratio), the batch and scale sweeps on all cores too; CUDA: every sweep."""
    points: dict[Point, frozenset[str]] = {}
    for dtype in ("float32", "float64"):
        ps = sweeps(FULL_BATCH, FULL_D_IN, FULL_HIDDEN, FULL_SCALE, dtype=dtype)
        for impl in impls.names():
            cuda = device_of(impl) == "cuda"
            for p in ps:
                scale = p.batch / 64 == p.d_in / 1000 == p.hidden / 100
                if not (fits(impl, p, FULL_CPU_FLOP_BUDGET) or (cuda and scale)):
                    continue
                if cuda:
                    _add(points, impl, p, ALL_THREADS, TIME, DEVICE_TIME, GPU_MEMORY)
                    continue
                _add(points, impl, p, HISTORY_THREADS, TIME, PEAKMEM)
                if impl != BASELINE:
                    _add(points, impl, p, HISTORY_THREADS, RELATIVE)
                if (p.d_in == TUTORIAL["d_in"] and p.hidden == TUTORIAL["hidden"]) or scale:
                    _add(points, impl, p, ALL_THREADS, TIME)
            _add(points, impl, problem(dtype=dtype), ALL_THREADS if cuda else 1, FIRST_STEP)
    return Grid(
        "full",
        _ordered(points),
        _gemm(["cpu", "cuda"], (1, 16, 32), ["float32", "float64"]),
        ("cuda",),
    )


#: First steps in the gpu grid: eager CUDA (the context and cuBLAS start-up every CUDA
#: implementation pays), graph capture, and the compile.
GPU_FIRST_STEP = ("torch-cuda", "cudagraph-cuda", "compile-cuda")


def gpu() -> Grid:
    """Within about five minutes of one GPU: each CUDA process pays for its own CUDA context, so
    the grid keeps the two sweeps its summary reads. The batch sweep (where the GPU starts to
    win) and the scale diagonal to its largest point, for every implementation, the CPU side on
    all cores within the full grid's budget; CUDA-event time at the tutorial size for each CUDA
    implementation, and the first step of those whose first step differs (`GPU_FIRST_STEP`,
    each a fresh interpreter). The d_in and hidden sweeps and the exercises are the full
    grid's (the exercises are checked on CUDA by ``impls.validate`` before anything is timed)."""
    points: dict[Point, frozenset[str]] = {}
    ps = sweeps(QUICK_BATCH, (), (), FULL_SCALE, exercises=False)
    for impl in impls.names():
        cuda = device_of(impl) == "cuda"
        for p in ps:
            if fits(impl, p, FULL_CPU_FLOP_BUDGET):
                _add(points, impl, p, ALL_THREADS, TIME)
        if cuda:
            _add(points, impl, problem(), ALL_THREADS, DEVICE_TIME)
        if impl in GPU_FIRST_STEP:
            _add(points, impl, problem(), ALL_THREADS, FIRST_STEP)
    return Grid("gpu", _ordered(points), _gemm(["cpu", "cuda"], (1, 32), ["float32"]), ("cuda",))


def _ordered(points: dict[Point, frozenset[str]]) -> tuple[GridPoint, ...]:
    return tuple(GridPoint(p, m) for p, m in points.items())


def step_shapes(factor: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of the step's two big products at ``factor`` x the tutorial's sizes."""
    b, d, h = (TUTORIAL[name] * factor for name in ("batch", "d_in", "hidden"))
    return [(b, d, h), (d, b, h)]


def _gemm(devices, factors, dtypes) -> tuple[str, ...]:
    """Ceiling labels: the step's own products at ``factors`` and a big square, per device and
    dtype; CPU ones at one thread and at all cores (a peak per thread count)."""
    labels = []
    for device in devices:
        shapes = [s for f in factors for s in step_shapes(f)]
        if device == "cpu":
            shapes = [s for s in shapes if 2 * s[0] * s[1] * s[2] <= FULL_CPU_FLOP_BUDGET]
        shapes.append((SQUARE[device],) * 3)
        threads = sorted({HISTORY_THREADS, ALL_THREADS}) if device == "cpu" else [None]
        for dtype in dtypes:
            for shape in dict.fromkeys(shapes):
                for t in threads:
                    labels.append(gemm_label(device, dtype, *shape, threads=t))
    return tuple(labels)


#: Processes per point, spread across the run: ``python -m benchmarks GRID run`` passes asv
#: ``-a rounds=ROUNDS`` (asv keeps ``rounds`` for its own time benchmarks only, so a plain
#: ``asv run`` measures each point in one process). Three, not two: a slow state that holds for
#: minutes (measured on one 2-vCPU host, AMD EPYC family 26, ~1.15-1.25x) can take both rounds
#: of a point, which then agree with each other and pass every check; a third round minutes
#: later meets the fast state again and outweighs them (`benchmarks.protocol.pool_round`).
#: Back-to-back main jobs there, step points within 10%: 84% and 94% at two rounds, 97%, 97% and
#: 99% at three (docs/stability.md).
ROUNDS = 3
#: Rounds of each commit in ``continuous`` (the regression gate): its rounds alternate between
#: the two commits, its verdict divides out their common shift and a change must be found
#: twice (`benchmarks.gate`), and at two rounds it met its trials on that host (3 of 3 of each
#: case, under 5 minutes each).
GATE_ROUNDS = 2


def expected_runs(g: Grid, rounds: int = ROUNDS) -> int:
    """Step-point measurements a run of ``g`` makes (one per benchmark process, each counted by
    `benchmarks.flags.tick`): the progress total. The ceilings, seconds in all, are not
    counted."""
    return rounds * sum(len(g.labels(m)) for m in MEASURES)


_BUILDERS = {"quick": quick, "full": full, "gpu": gpu}


def grid(name: str) -> Grid:
    if name not in _BUILDERS:
        raise ValueError(f"grid {name!r} is invalid: expected one of {', '.join(GRIDS)}")
    return _BUILDERS[name]()


def selected() -> Grid:
    """The grid named by `GRID_ENV` (default ``quick``): what asv discovers."""
    return grid(os.environ.get(GRID_ENV, "quick"))
