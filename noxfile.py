"""ffbench's sessions: ``nox -l`` lists them; ``nox -s bench`` is the main job.

Torch is installed first and on its own, so that the build is chosen here and not by the resolver:
``FFBENCH_TORCH`` is the requirement (default ``torch==2.13.0``, which on CI and laptops here is a
CPU wheel on disk) and ``FFBENCH_TORCH_INDEX`` an optional index for it (e.g. PyTorch's CUDA
index on a lab machine). See README "Torch builds".
"""

from __future__ import annotations

import os

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


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Main job: run the quick asv grid on this checkout, then write the report."""
    session.error("not built yet (issue 3)")  # owned by the benchmarks work


@nox.session(default=False)
def report(session: nox.Session) -> None:
    """Write the report (tables, figures, GPU gain) from the asv results in .asv/results."""
    session.error("not built yet (issue 4)")  # owned by the reports work


@nox.session(default=False)
def gpu(session: nox.Session) -> None:
    """Lab machine check: validate CUDA implementations, run the CUDA sweeps, report GPU gain."""
    session.error("not built yet (issue 5)")  # owned by the lab-machine work
