"""The points of a grid that run here, as one regular expression for asv's ``--bench``.

asv starts a process for every parameter combination it is asked to run, ~20 ms even for one that
skips at once, and asv's parameters are cartesian products: the grids hold thousands of
combinations that skip by rule (CUDA implementations on a CPU-only machine, a scale sweep's
off-diagonal sizes, CPU points over the work budget, the ceiling's unlisted shapes). asv matches
``--bench`` against ``name(param, ...)`` and never launches what does not match, so this module
names exactly the combinations whose rules let them run here. Results of the others stay n/a
(skipped), as if they had run and skipped. Usage: ``python -m benchmarks.select quick``.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import re
from collections import defaultdict

from . import bench_ceiling, bench_coldstart, bench_step, common

GRIDS = ("quick", "full", "gpu")
#: The ``gpu`` grid (``nox -s gpu``, within 5 minutes on one GPU): the quick sweeps plus the full
#: scale sweep, float32, wall and device time only (each CUDA process pays for its own context,
#: so memory measurements are left to the other grids), CUDA cold starts, the ceilings.
GPU_METHODS = ("time_step", "track_device_time")
METHOD_PREFIXES = ("time_", "peakmem_", "track_")


def grid_classes(grid: str) -> list[type]:
    """The benchmark classes of ``grid``: its step sweeps, then the cold start and ceilings."""
    if grid not in GRIDS:
        raise ValueError(f"grid={grid!r} is invalid: expected one of {', '.join(GRIDS)}")
    prefix = "Quick" if grid == "gpu" else grid.capitalize()
    steps = [
        cls
        for name, cls in vars(bench_step).items()
        if name.startswith(prefix) and inspect.isclass(cls)
    ]
    if grid == "gpu":
        steps.append(bench_step.FullScale)
    return [*steps, bench_coldstart.ColdStart, bench_ceiling.Gemm, bench_ceiling.LaunchFloor]


def methods(cls: type) -> list[str]:
    return sorted(
        name
        for name in dir(cls)
        if name.startswith(METHOD_PREFIXES) and callable(getattr(cls, name))
    )


def in_gpu_grid(cls: type, method: str, values: tuple) -> bool:
    """Whether a point that runs here belongs to the lean ``gpu`` grid (see `GPU_METHODS`)."""
    if cls is bench_ceiling.Gemm:
        return values[1] == "float32"
    if cls is bench_ceiling.LaunchFloor:
        return True
    impl = values[0]
    if cls is bench_coldstart.ColdStart:
        return common.device_of(impl) == "cuda"
    dtype = values[common.STEP_PARAM_NAMES.index("dtype")]
    return method in GPU_METHODS and dtype == "float32"


def runs_here(grid: str, cls: type, method: str, values: tuple) -> bool:
    """Whether the rules of ``cls`` let ``method`` run at ``values`` on this machine."""
    if grid == "gpu" and not in_gpu_grid(cls, method, values):
        return False
    if cls is bench_ceiling.Gemm:
        return bench_ceiling.Gemm.skip_reason(*values) is None and (
            grid == "full" or values[1] == "float32"
        )
    if cls is bench_ceiling.LaunchFloor:
        return common.torch is not None and common.cuda_available()
    impl, *sizes, threads = values
    if cls is bench_coldstart.ColdStart:  # a first compile takes tens of seconds: full grid only
        return common.unavailable_reason(impl) is None and (
            grid == "full" or not common.compiles(impl)
        )
    problem = common.problem_of(*sizes)
    return (
        cls.point_skip_reason(impl, problem, threads) is None
        and cls.method_skip_reason(method, impl, problem) is None
    )


def module_name(cls: type) -> str:
    return cls.__module__.rpartition(".")[2]


def pattern(grid: str) -> str:
    """One anchored regex matching ``module.Class.method(params)`` of every point that runs.

    Combinations are grouped by everything but their first parameter, whose values become an
    alternation: the pattern stays a few kilobytes, well within a command line.
    """
    branches = []
    for cls in grid_classes(grid):
        for method in methods(cls):
            groups: dict[tuple, list[str]] = defaultdict(list)
            for values in itertools.product(*cls.params):
                if runs_here(grid, cls, method, values):
                    first, *rest = (repr(v) for v in values)
                    groups[tuple(rest)].append(first)
            name = re.escape(f"{module_name(cls)}.{cls.__name__}.{method}")
            for rest, firsts in groups.items():
                head = "(?:" + "|".join(re.escape(f) for f in firsts) + ")"
                tail = "".join(re.escape(f", {v}") for v in rest)
                branches.append(f"{name}\\({head}{tail}\\)")
    if not branches:
        return "^$"
    return "^(?:" + "|".join(branches) + ")$"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.select", description=__doc__.splitlines()[0]
    )
    parser.add_argument("grid", choices=GRIDS)
    args = parser.parse_args(argv)
    print(pattern(args.grid))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
