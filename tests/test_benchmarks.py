"""The asv benchmarks: asv accepts them, a real asv run measures every CPU implementation and
skips CUDA ones visibly, a planted NaN fails its point, and the grids hold every implementation.

The asv runs use a copy of benchmarks/ (plus one planted module) and a private HOME, results
directory and asv config under pytest's tmp_path, so they never touch the user's asv files.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import impls
from benchmarks import bench_ceiling, bench_coldstart, bench_step, common, machine, select

ROOT = Path(__file__).resolve().parents[1]
MACHINE = "ffbench-test"
AXES = ("Batch", "DIn", "Hidden", "Scale", "Exercises", "Threads")
PLANTED = '''
"""A benchmark whose state is made non-finite in setup: asv must record a failure."""

import numpy as np

from . import bench_step, common


class PlantedNaN(bench_step.QuickBatch):
    version = "1"
    params = common.step_params(impl=["numpy"])

    def setup_cache(self):
        return self.searched_rates()

    def prepare(self, rates, *params):
        trainer = super().prepare(rates, *params)
        if not getattr(self, "planted", False):
            w1, w2 = common.initial_weights(self.problem)
            w1 = w1.copy()
            w1[0, 0] = np.nan
            trainer.set_weights(w1, w2)
            self.planted = True
        return trainer
'''
SMOKE = r"^bench_step\.QuickBatch\.time_step\('[^']+', 64, |^bench_planted\.PlantedNaN\."


def step_classes() -> list[type]:
    return [
        cls
        for name, cls in vars(bench_step).items()
        if isinstance(cls, type) and name.startswith(("Quick", "Full"))
    ]


def asv(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asv", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


# --- the grids -------------------------------------------------------------------------------


def test_step_classes_follow_the_naming_and_parameter_contract():
    names = {cls.__name__ for cls in step_classes()}
    assert names == {f"{grid}{axis}" for grid in ("Quick", "Full") for axis in AXES} - {
        "QuickThreads"
    }
    for cls in [*step_classes(), bench_coldstart.ColdStart]:
        assert cls.param_names == common.STEP_PARAM_NAMES, cls
        assert len(cls.params) == len(cls.param_names), cls
        for values in cls.params:
            assert all(isinstance(v, (str, int)) for v in values), cls
        assert "version" in vars(cls), f"{cls.__name__} needs its own explicit version"
    for cls in (bench_ceiling.Gemm, bench_ceiling.LaunchFloor):
        assert "version" in vars(cls)


def test_every_registered_implementation_is_in_every_grid():
    assert set(impls.names()) <= set(common.KNOWN_IMPLS), (
        "add the new implementation to benchmarks.common.KNOWN_IMPLS (keeps asv's history)"
    )
    for cls in [*step_classes(), bench_coldstart.ColdStart]:
        assert set(impls.names()) <= set(cls.params[0]), cls


def test_sweeps_span_the_issue_ranges():
    tutorial = common.TUTORIAL
    for name, values in (
        ("batch", bench_step.FULL_BATCH),
        ("d_in", bench_step.FULL_D_IN),
        ("hidden", bench_step.FULL_HIDDEN),
    ):
        assert min(values) <= tutorial[name] / 16 + 0.5
        assert max(values) >= 16 * tutorial[name]
    assert max(bench_step.FULL_BATCH) >= 16384
    assert max(bench_step.FULL_D_IN) >= 8192
    assert max(bench_step.FULL_HIDDEN) >= 4096


def test_scale_sweep_runs_only_its_diagonal():
    points = {(p.batch, p.d_in, p.hidden) for _, p, _ in bench_step.QuickScale.points()}
    assert points
    assert all(b / 64 == d / 1000 == h / 100 for b, d, h in points)


def test_cpu_points_over_the_work_budget_skip_with_the_reason():
    big = common.problem_of(64 * 16, 1000 * 16, 100 * 16, 10, "float32", "squared", "relu")
    reason = bench_step.QuickScale.point_skip_reason("numpy", big, common.ALL_THREADS)
    assert reason is not None
    assert "work budget" in reason


def test_selection_names_what_runs_here_and_nothing_else():
    pattern = re.compile(select.pattern("quick"))
    name = "bench_step.QuickBatch.time_step('numpy', 64, 1000, 100, 10, 'float32', 'squared', "
    assert pattern.search(f"{name}'relu', {common.ALL_THREADS})")
    peakmem = name.replace("time_step", "peakmem_step")
    assert pattern.search(f"{peakmem}'relu', {common.ALL_THREADS})")
    off_diagonal = "bench_step.QuickScale.time_step('numpy', 64, 2000, 100, 10, 'float32', "
    assert not pattern.search(f"{off_diagonal}'squared', 'relu', {common.ALL_THREADS})")
    if not common.cuda_available():
        cuda = name.replace("'numpy'", "'torch-cuda'")
        assert not pattern.search(f"{cuda}'relu', {common.ALL_THREADS})")


def test_nonfinite_state_raises():
    problem = common.problem_of(8, 30, 12, 4, "float32", "squared", "relu", lr=1e-3)
    trainer = impls.create("numpy", problem)
    trainer.step()
    common.check_finite(trainer)
    w1, w2 = trainer.weights()
    w1[0, 0] = np.nan
    trainer.set_weights(w1, w2)
    with pytest.raises(common.NonFiniteState, match="non-finite"):
        common.check_finite(trainer)


def test_machine_entry_is_completed_and_kept_free_of_facts():
    machines = {"version": 1, "box": {"machine": "box", "cpu": "asv's", machine.FACTS_KEY: {}}}
    defaults = {"machine": "host", "cpu": "default", "ram": "1"}
    out = machine.complete_entry(machines, "box", defaults)
    assert out["box"] == {"machine": "box", "cpu": "asv's", "ram": "1"}
    assert machine.FACTS_KEY in machines["box"]  # the input is not modified
    assert machine.complete_entry({}, "new", defaults)["new"]["cpu"] == "default"


def test_facts_go_beside_asvs_recorded_machine_info():
    recorded = {"machine": "box", "cpu": "asv's", "version": 1}
    out = machine.with_facts(recorded, {"blas": "openblas"})
    assert out == {**recorded, machine.FACTS_KEY: {"blas": "openblas"}}
    assert recorded == {"machine": "box", "cpu": "asv's", "version": 1}


# --- asv itself --------------------------------------------------------------------------------


def test_asv_check_passes():
    done = asv("check", "--python=same")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No problems found" in done.stdout


@pytest.fixture(scope="module")
def asv_run(tmp_path_factory):
    """One real asv run of the tutorial batch point of every implementation, plus a planted NaN,
    results saved to a private results directory (private HOME for asv's machine file)."""
    tmp = tmp_path_factory.mktemp("asv")
    shutil.copytree(ROOT / "benchmarks", tmp / "benchmarks", ignore=shutil.ignore_patterns("__py*"))
    (tmp / "benchmarks" / "bench_planted.py").write_text(PLANTED)
    conf = json.loads(
        re.sub(r"^\s*//.*$", "", (ROOT / "asv.conf.json").read_text(), flags=re.MULTILINE)
    )
    conf.update(
        repo=str(ROOT),
        benchmark_dir=str(tmp / "benchmarks"),
        results_dir=str(tmp / "results"),
        env_dir=str(tmp / "env"),
        html_dir=str(tmp / "html"),
    )
    (tmp / "asv.conf.json").write_text(json.dumps(conf))
    env = {**os.environ, "HOME": str(tmp)}
    facts = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.machine",
            "--machine",
            MACHINE,
            "--config",
            str(tmp / "asv.conf.json"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert facts.returncode == 0, facts.stderr
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    done = asv(
        "run",
        "--config",
        str(tmp / "asv.conf.json"),
        "--python=same",
        f"--set-commit-hash={head}",
        f"--machine={MACHINE}",
        "--show-stderr",
        "--bench",
        SMOKE,
        env=env,
        cwd=tmp,
    )
    return done, tmp / "results" / MACHINE, tmp, env


def results_of(results_dir: Path, benchmark: str) -> dict[tuple, object]:
    """{params: value} of one benchmark in asv's results file (format version 2)."""
    (path,) = (p for p in results_dir.glob("*.json") if p.name != "machine.json")
    data = json.loads(path.read_text())
    columns = data["result_columns"]
    row = dict(zip(columns, data["results"][benchmark], strict=False))
    combinations = list(itertools.product(*row["params"]))
    values = row["result"] or [None] * len(combinations)  # None alone: every point failed
    return dict(zip(combinations, values, strict=True))


def test_asv_run_times_every_cpu_implementation_and_skips_cuda_visibly(asv_run):
    done, results_dir, *_ = asv_run
    values = results_of(results_dir, "bench_step.QuickBatch.time_step")
    for (impl, batch, *_), value in values.items():
        if batch != "64":
            continue
        name = impl.strip("'")
        if common.unavailable_reason(name) is None:
            assert isinstance(value, float), (name, value, done.stdout[-3000:])
            assert 0 < value < 1, (name, value)
        else:
            assert value is None or math.isnan(value), (name, value)
            assert f"asv: skipped: {name} needs" in done.stdout
    assert re.search(r"numpy\s+64\s+1000\s+100\s+10\s+float32\s+squared\s+relu", done.stdout)


def test_asv_run_fails_a_planted_nonfinite_state(asv_run):
    done, results_dir, *_ = asv_run
    assert done.returncode == 2, done.stdout[-3000:]  # asv: some benchmarks failed
    (value,) = results_of(results_dir, "bench_planted.PlantedNaN.time_step").values()
    assert value is None  # asv's "failed"
    assert "NonFiniteState" in done.stdout


def test_machine_facts_are_recorded_after_the_run_and_publish_works(asv_run):
    _, results_dir, tmp, env = asv_run
    config = str(tmp / "asv.conf.json")
    path = machine.record_facts(MACHINE, config)
    assert path == results_dir / "machine.json"
    recorded = json.loads(path.read_text())
    assert recorded["machine"] == MACHINE
    facts = recorded[machine.FACTS_KEY]
    assert facts["physical_cores"] == impls.physical_cores()
    assert facts["tf32_matmul"] is False
    assert "blas" in facts
    published = asv("publish", "--config", config, env=env, cwd=tmp)
    assert published.returncode == 0, published.stdout + published.stderr
    assert (tmp / "html" / "index.json").exists()


def test_gpu_grid_is_lean_float32_wall_and_device_time():
    """The gpu grid keeps what `nox -s gpu` needs within 5 minutes: no memory runs, float32."""
    chosen = re.compile(select.pattern("gpu"))
    tutorial = ("'numpy'", "64", "1000", "100", "10", "'float32'", "'squared'", "'relu'")
    point = ", ".join([*tutorial, str(common.ALL_THREADS)])
    assert chosen.match(f"bench_step.QuickBatch.time_step({point})")
    assert not chosen.match(f"bench_step.QuickBatch.peakmem_step({point})")
    float64 = point.replace("'float32'", "'float64'")
    assert not chosen.match(f"bench_step.FullScale.time_step({float64})")
    assert chosen.match(f"bench_step.FullScale.time_step({point})")


def test_compile_cold_start_runs_on_the_full_grid_only():
    compiling = [name for name in impls.available() if common.compiles(name)]
    if not compiling:
        pytest.skip("no compiling implementation runs here")
    values = (compiling[0], *(v[0] for v in bench_coldstart.ColdStart.params[1:]))
    assert not select.runs_here("quick", bench_coldstart.ColdStart, "track_first_step", values)
    assert select.runs_here("full", bench_coldstart.ColdStart, "track_first_step", values)
