"""ffbench's sessions: ``nox -l`` lists them; ``nox -s bench`` is the main job.

Torch is installed first and on its own, so that the build is chosen here and not by the resolver:
``FFBENCH_TORCH`` is the requirement (default ``torch==2.13.0``, which on CI and laptops here is a
CPU wheel on disk) and ``FFBENCH_TORCH_INDEX`` an optional index for it (e.g. PyTorch's CUDA
index on a lab machine). See README "Torch builds".
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_venv = "yes"

PYPROJECT = nox.project.load_toml("pyproject.toml")
TORCH = os.environ.get("FFBENCH_TORCH", "torch==2.13.0")
TORCH_INDEX = os.environ.get("FFBENCH_TORCH_INDEX", "")


def install_project(session: nox.Session, *groups: str) -> None:
    """The chosen torch build, then the project and the named dependency groups."""
    index = ["--extra-index-url", TORCH_INDEX] if TORCH_INDEX else []
    session.install(*TORCH.split(), *index)
    extra = [dep for group in groups for dep in nox.project.dependency_groups(PYPROJECT, group)]
    session.install("-e", ".", *extra)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (correctness of every implementation; CUDA tests skip without CUDA)."""
    install_project(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common mistakes with ruff."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def demo(session: nox.Session) -> None:
    """Check every available implementation against the oracle and time one step of each."""
    install_project(session)
    session.run("python", "-m", "impls", *session.posargs)


#: asv's exit status when it ran everything but some benchmarks failed (results are saved).
ASV_SOME_FAILED = 2


def run_asv_grid(session: nox.Session, grid: str, head: str, *args: str) -> bool:
    """``asv run`` of ``grid`` on this checkout, saved against ``head``; False if a point failed."""
    command = ["python", "-m", "benchmarks", grid, "run", "--python=same"]
    try:
        session.run(*command, f"--set-commit-hash={head}", *args)
    except nox.command.CommandFailed as failed:
        if failed.return_code != ASV_SOME_FAILED:
            raise
        return False
    return True


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Main job: run the quick asv grid on this checkout, then write the report."""
    install_project(session)
    # asv's machine info without questions, plus ffbench's machine facts (benchmarks/machine.py).
    session.run("python", "-m", "benchmarks.machine")
    # The quick grid's points that run here (README "Benchmarks"); posargs go to `asv run`.
    head = session.run("git", "rev-parse", "HEAD", silent=True, external=True).strip()
    ok = run_asv_grid(session, "quick", head, *session.posargs)
    if Path("reports", "__main__.py").exists():
        session.run("python", "-m", "reports")
    else:
        session.run("asv", "show", "--python=same", head)
    if not ok:
        session.error("some benchmarks failed: asv marks them failed (see its log above)")


@nox.session(default=False)
def fidelity(session: nox.Session) -> None:
    """Cross-check asv's step times against torch.utils.benchmark at the tutorial size."""
    install_project(session)
    session.run("python", "-m", "benchmarks.fidelity", *session.posargs)


@nox.session(default=False)
def report(session: nox.Session) -> None:
    """Write the report (tables, figures, GPU gain) from the asv results in .asv/results."""
    install_project(session)
    session.run("python", "-m", "reports", *session.posargs)


@nox.session(default=False)
def gpu(session: nox.Session) -> None:
    """Lab machine check: validate CUDA implementations, run the CUDA sweeps, report GPU gain."""
    # tools/gpu_check.sh runs the same three steps without nox: keep the two in step.
    install_project(session)
    session.install(*PYPROJECT["project"]["optional-dependencies"]["gpu"])  # nvidia-ml-py
    # 1. Every CUDA implementation against the oracle, before anything is timed. Without CUDA
    #    this fails at once with one line saying why (a check that cannot run must not pass).
    session.run("python", "-m", "impls.validate", "--device", "cuda")
    # 2. The CUDA sweeps, the CPU points they are compared with (all cores, same dtype) and the
    #    ceilings: the gpu grid (benchmarks.select: quick sweeps + full scale sweep, float32, wall
    #    and device time) through asv, saved against HEAD, with the machine's facts (GPU,
    #    driver, clocks, TF32 off) beside them.
    session.run("python", "-m", "benchmarks.machine")
    head = session.run("git", "rev-parse", "HEAD", silent=True, external=True).strip()
    ok = run_asv_grid(session, "gpu", head, *session.posargs)
    # 3. The report, and its GPU-gain summary on the terminal.
    session.run("python", "-m", "reports", "--commit", head, "--summary", "gpu")
    if not ok:
        session.error("some benchmarks failed: asv marks them failed (see its log above)")
