"""ffbench's workflows; nox -s bench is the main job, README "Workflows" lists them all.

Every session but lint runs in one shared virtualenv made by the env session, so a checkout holds
one torch install. Torch is installed first and on its own, so that the build is chosen here and
not by the resolver: FFBENCH_TORCH is the requirement (default torch==2.13.0) and
FFBENCH_TORCH_INDEX an optional extra index for it (README "Torch builds").
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

#: The env session's binary directory, set when it runs: the sessions that require it run in it.
SHARED_BIN: list[str] = []

#: The sessions that run in the shared virtualenv: no virtualenv of their own, env made first.
in_shared_env = nox.session(venv_backend="none", requires=["env"], default=False)


def python(session: nox.Session) -> str:
    """The shared virtualenv's python, with its bin directory first on the session's PATH."""
    if not SHARED_BIN:
        session.error("the shared virtualenv is not set up: the env session made none")
    (bin_dir,) = SHARED_BIN
    session.env["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    session.env["VIRTUAL_ENV"] = str(Path(bin_dir).parent)
    return str(Path(bin_dir, "python"))


def commits(session: nox.Session, what: str, example: str) -> None:
    """Require ``what`` (git revisions, as many as ``example`` holds) first in the posargs."""
    count = len(example.split())
    given = session.posargs[:count]
    if len(given) < count or any(arg.startswith("-") for arg in given):
        got = " ".join(session.posargs) or "nothing"
        session.error(
            f"{session.name} expects {what} first after --, got {got}: "
            f"e.g. nox -s {session.name} -- {example} [ASV ARGS]"
        )


#: asv's exit status when it ran everything but some benchmarks failed (results are saved).
ASV_SOME_FAILED = 2


def run_asv_grid(session: nox.Session, grid: str, command: str, *args: str) -> bool:
    """python -m benchmarks GRID COMMAND ARGS (asv on the grid); False if a point failed.

    A point that fails leaves the others' results saved, so the callers write the report first
    and fail the session after.
    """
    py = python(session)
    # asv's machine info without questions, plus ffbench's machine facts (benchmarks/machine.py).
    session.run(py, "-m", "benchmarks.machine")
    try:
        session.run(py, "-m", "benchmarks", grid, command, *args)
    except nox.command.CommandFailed as failed:
        if failed.return_code != ASV_SOME_FAILED:
            raise
        return False
    return True


def fail_if_some_failed(session: nox.Session, ok: bool) -> None:
    """Fail the session, after its report, when asv marked some benchmark failed."""
    if not ok:
        session.error("some benchmarks failed: asv marks them failed (see its log above)")


def head(session: nox.Session) -> str:
    """This checkout's commit: results of --python=same runs are saved against it."""
    return session.run("git", "rev-parse", "HEAD", silent=True, external=True).strip()


def sweep_and_report(session: nox.Session, grid: str) -> None:
    """asv on ``grid`` for this checkout, saved against HEAD (posargs to asv), then the report."""
    commit = head(session)
    ok = run_asv_grid(
        session, grid, "run", "--python=same", f"--set-commit-hash={commit}", *session.posargs
    )
    session.run(python(session), "-m", "reports")
    fail_if_some_failed(session, ok)


@in_shared_env
def bench(session: nox.Session) -> None:
    """Main job: the quick asv grid on this checkout, saved against HEAD, then the report."""
    sweep_and_report(session, "quick")


@in_shared_env
def tests(session: nox.Session) -> None:
    """Run the test suite: every implementation against the oracle; CUDA tests skip without CUDA."""
    session.run(python(session), "-m", "pytest", *session.posargs)


@nox.session(default=False)
def lint(session: nox.Session) -> None:
    """Check style and common mistakes with ruff."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@in_shared_env
def report(session: nox.Session) -> None:
    """Write the report (tables, figures, GPU gain) from .asv/results; args go to reports."""
    session.run(python(session), "-m", "reports", *session.posargs)


@in_shared_env
def demo(session: nox.Session) -> None:
    """Check every available implementation against the oracle and time one step of each."""
    session.run(python(session), "-m", "impls", *session.posargs)


@in_shared_env
def full(session: nox.Session) -> None:
    """The full asv grid on this checkout, saved against HEAD, then the report (long)."""
    sweep_and_report(session, "full")


@in_shared_env
def history(session: nox.Session) -> None:
    """The quick grid over a commit range, each commit built by asv in its own virtualenv."""
    commits(session, "a commit range", "HEAD~2..HEAD")
    fail_if_some_failed(session, run_asv_grid(session, "quick", "run", *session.posargs))


@in_shared_env
def compare(session: nox.Session) -> None:
    """Two commits' saved results side by side (asv compare A B; run history on both first)."""
    commits(session, "two commits", "HEAD~1 HEAD")
    py = python(session)
    for rev in session.posargs[:2]:
        if not saved_results(session, rev):
            session.error(
                f"no saved results for {rev}: measure it first, e.g. nox -s history -- {rev}^!"
            )
    session.run(py, "-m", "asv", "compare", *session.posargs)


def saved_results(session: nox.Session, rev: str) -> bool:
    """Whether .asv/results holds a results file of the commit ``rev`` names."""
    sha = session.run("git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}",
                      silent=True, external=True, success_codes=[0, 1]).strip()  # fmt: skip
    return bool(sha) and any(Path(".asv/results").glob(f"*/{sha[:8]}-*.json"))


@in_shared_env
def continuous(session: nox.Session) -> None:
    """The regression gate: run the quick grid on commits A and B, fail on a regression."""
    commits(session, "two commits", "HEAD~1 HEAD")
    fail_if_some_failed(session, run_asv_grid(session, "quick", "continuous", *session.posargs))


@in_shared_env
def publish(session: nox.Session) -> None:
    """asv's browsable history in .asv/html, served locally; its page needs internet (CDN JS)."""
    # asv's page loads jquery and flot from CDNs: offline it stays blank. The report written by
    # `nox -s report` embeds everything. Args go to `asv preview` (e.g. --port 8081).
    py = python(session)
    session.run(py, "-m", "asv", "publish")
    session.run(py, "-m", "asv", "preview", *session.posargs)


@in_shared_env
def fidelity(session: nox.Session) -> None:
    """Cross-check asv's step times against torch.utils.benchmark at the tutorial size."""
    session.run(python(session), "-m", "benchmarks.fidelity", *session.posargs)


@in_shared_env
def gpu(session: nox.Session) -> None:
    """Lab machine check: validate CUDA implementations, run the CUDA sweeps, report GPU gain."""
    # tools/gpu_check.sh runs the same three steps without nox: keep the two in step.
    py = python(session)
    # 1. Every CUDA implementation against the oracle, before anything is timed. Without CUDA
    #    this fails at once with one line saying why (a check that cannot run must not pass),
    #    before anything is installed.
    session.run(py, "-m", "impls.validate", "--device", "cuda")
    session.run(py, "-m", "pip", "install", *PYPROJECT["project"]["optional-dependencies"]["gpu"])
    # 2. The CUDA sweeps, the CPU points they are compared with (all cores, same dtype) and the
    #    ceilings: the gpu grid through asv, saved against HEAD, with the machine's facts (GPU,
    #    driver, clocks, TF32 off) beside them.
    commit = head(session)
    ok = run_asv_grid(
        session, "gpu", "run", "--python=same", f"--set-commit-hash={commit}", *session.posargs
    )
    # 3. The report, and its GPU-gain summary on the terminal.
    session.run(py, "-m", "reports", "--commit", commit, "--summary", "gpu")
    fail_if_some_failed(session, ok)


@nox.session(default=False)
def env(session: nox.Session) -> None:
    """Create or update the shared virtualenv (torch, the project, pytest) the sessions run in."""
    SHARED_BIN[:] = [session.bin]
    # What was installed, kept in the virtualenv: unchanged, pip is skipped (15 s saved per run).
    # The project is installed editable, so only pyproject.toml and the torch choice matter.
    stamp = Path(session.virtualenv.location, "ffbench-installed")
    wanted = "\n".join([TORCH, TORCH_INDEX, Path("pyproject.toml").read_text()])
    if stamp.is_file() and stamp.read_text() == wanted:
        session.log(f"{stamp.parent} is up to date ({TORCH}, pyproject.toml unchanged)")
        return
    index = ["--extra-index-url", TORCH_INDEX] if TORCH_INDEX else []
    # A changed index must change the build: an installed torch of the same version satisfies
    # pip, so torch itself is reinstalled (its dependencies only if needed).
    reinstall = ["--force-reinstall", "--no-deps"] if stamp.is_file() else []
    pip_install(session, *TORCH.split(), *index)
    if reinstall:
        pip_install(session, *reinstall, *TORCH.split(), *index)
    pip_install(session, "-e", ".", *nox.project.dependency_groups(PYPROJECT, "test"))
    stamp.write_text(wanted)


def pip_install(session: nox.Session, *args: str) -> None:
    """pip install in the session's virtualenv with pip's output shown, and a line whenever it
    is silent for 6 s (it says nothing while it unpacks torch, ~20 s): tools/heartbeat.py."""
    session.run("python", "tools/heartbeat.py", "6", "--", "python", "-m", "pip", "install",
                *args, silent=False)  # fmt: skip
