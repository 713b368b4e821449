"""``python -m benchmarks GRID COMMAND [ASV ARGS...]``: asv on one grid, one run at a time.

Runs ``python -m asv COMMAND ASV ARGS...`` with ``FFBENCH_GRID=GRID``, so the grid is what asv
discovers and a ``--bench REGEX`` narrows it as in asv. asv passes its own environment on to
every process that imports the benchmarks (discovery, the forkserver, each benchmark process,
``setup_cache``; virtualenv and ``--python=same`` alike: ``asv.runner.Spawner`` and
``asv.benchmarks.Benchmarks.discover`` start them with ``dict(os.environ)``, only PYTHONPATH is
dropped), so the variables set here reach the benchmark code (`benchmarks.flags`). Around asv:

- the run lock (`benchmarks.runlock`): a second run exits 3 without touching results; a plain
  ``asv run`` does not take it, so it is not serialised with these runs;
- what an earlier, killed run left (`benchmarks.leftovers`) is removed first;
- a progress line whenever asv is quiet for a while (`benchmarks.progress_view`);
- Ctrl-C: one line, exit 130, nothing left running (`benchmarks.supervise`);
- the machine facts in machine.json, which asv rewrites without them (`benchmarks.machine`);
- one memory layout for every run: asv starts without address randomisation
  (`benchmarks.layout`; ``FFBENCH_LAYOUT=random`` keeps it);
- after a run of the working tree (``--set-commit-hash``): what the machine put it through
  (measured again, waited), and each implementation's step times against this machine's
  recent runs of the same code (`benchmarks.drift`): a run the machine slowed from start to
  end is flagged;
- ``continuous A B``: only the grid's history points, rounds interleaved, then the regression
  gate (`benchmarks.gate`) sets the exit status.

Examples::

    python -m benchmarks quick run --python=same --set-commit-hash "$(git rev-parse HEAD)"
    python -m benchmarks quick run HEAD~2..HEAD
    python -m benchmarks quick continuous HEAD~1 HEAD
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from reports.flags import run_lines, sidecar

from . import cli, drift, flags, gate, grids, layout, leftovers, machine, supervise
from .progress_view import Progress, grid_runs, history_runs
from .runlock import Busy, RunLock

#: A command to run instead of ``python -m asv`` (e.g. another asv installation).
ASV_ENV = "FFBENCH_ASV"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except cli.UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except Busy as busy:
        print(busy, file=sys.stderr)
        return 3
    except KeyboardInterrupt:  # before asv started or after it ended: nothing to stop
        print("interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


def load_config(path: str) -> tuple[Path, Path]:
    """(repo, results_dir) named by an asv config file."""
    from asv.config import Config
    from asv.util import UserError

    try:
        conf = Config.load(path)
    except (OSError, ValueError, UserError) as error:
        raise cli.UsageError(f"python -m benchmarks: asv config {path}: {error}") from None
    base = Path(path).parent
    return (base / conf.repo).resolve(), (base / conf.results_dir).resolve()


def asv_command() -> list[str]:
    override = os.environ.get(ASV_ENV)
    return shlex.split(override) if override else [sys.executable, "-m", "asv"]


@dataclass
class Plan:
    """The asv command line, as run and as shown, and what the run is expected to do."""

    asv_args: list[str]
    shown: list[str]
    total: int | None = None  # point runs, for the progress line (None: unknown)
    labels: list[str] = field(default_factory=list)  # continuous: the history points
    commits: tuple[str, str] = ("", "")  # continuous: full hashes of A and B
    rounds: int = grids.GATE_ROUNDS  # continuous: rounds of each commit


def plan(grid: str, command: str, args: list[str], opts, repo: Path) -> Plan:
    """``run``: the grid's points, unless ``--bench`` narrows them; ``continuous``: the grid's
    history points (narrowed by the user's ``--bench``), rounds interleaved."""
    rounds = (getattr(opts, "attribute", None) or {}).get("rounds")
    if rounds is None and command in ("run", "continuous"):
        rounds = grids.GATE_ROUNDS if command == "continuous" else grids.ROUNDS
        args = [*args, "-a", f"rounds={rounds}"]
    if command == "run":
        count = cli.commit_count(repo, opts)
        total = None if opts.bench or count is None else grid_runs(grid, rounds, count)
        return Plan(args, args, total)
    if command != "continuous":
        return Plan(args, args)
    labels = grids.grid(grid).history_labels()
    if not labels:
        raise cli.UsageError(
            f"python -m benchmarks {grid} continuous: the {grid} grid has no history points"
            " (one-thread step times), so nothing to compare"
        )
    head = cli.resolve_commit(repo, opts.branch)
    base = cli.resolve_commit(repo, opts.base or f"{head}^")
    pattern = cli.narrowed(cli.history_pattern(labels), opts.bench)
    rest = [
        *cli.without_bench(args),
        *([] if opts.interleave_rounds is False else ["--interleave-rounds"]),
    ]
    return Plan(
        [*rest, "--bench", pattern],
        [*rest, "--bench", f"<{len(labels)} history points>"],
        None if opts.bench else history_runs(labels, rounds),
        labels,
        (base, head),
        int(rounds) if str(rounds).isdigit() else grids.GATE_ROUNDS,
    )


def run(argv: list[str]) -> int:
    ours, opts = cli.parse(argv)
    config = getattr(opts, "config", None) or machine.CONFIG
    repo, results = load_config(config)
    name = machine.asv_machine_name(getattr(opts, "machine", None))
    todo = plan(ours.grid, ours.command, list(ours.asv_args), opts, repo)
    fixed = layout.wanted() == "fixed"
    commit = getattr(opts, "set_commit_hash", None)

    outcome, env, address_layout = asv_pass(ours, todo, opts, config, name, results, fixed)
    if outcome.signal is not None:
        return interrupted(outcome, results / name)
    if ours.command != "continuous":
        if ours.command == "run" and outcome.returncode == 0 and commit:
            after_run(results / name, commit, env[flags.RUN], address_layout)
        return outcome.returncode
    failed = gate_failed(outcome, results / name)
    if failed is not None:
        return failed
    first = gate.judge(results, name, *todo.commits, labels=todo.labels)
    print(gate.describe(first), flush=True)
    again = first.to_confirm()
    if not again:
        return first.code
    print(f"measuring the {len(again)} regressed or improved points again to confirm them",
          flush=True)  # fmt: skip
    outcome, _, _ = asv_pass(ours, confirming(todo, again), opts, config, name, results, fixed)
    failed = gate_failed(outcome, results / name)
    if failed is not None:
        return failed
    final = gate.confirm(first, gate.judge(results, name, *todo.commits, labels=todo.labels))
    print(gate.describe(final))
    return final.code


def gate_failed(outcome, machine_results: Path) -> int | None:
    """The exit code when a ``continuous`` pass of asv was interrupted or failed (no verdict);
    None when the gate may judge its results."""
    if outcome.signal is not None:
        return interrupted(outcome, machine_results)
    if outcome.returncode not in (0, 1):  # 1: asv found a change; the gate decides what it means
        print(f"asv continuous failed (exit {outcome.returncode}): no regression verdict")
        return outcome.returncode
    return None


def confirming(todo: Plan, labels: list[str]) -> Plan:
    """``todo`` (a ``continuous`` plan) narrowed to ``labels``: the gate's second pass."""
    pattern = cli.history_pattern(labels)
    rest = cli.without_bench(todo.asv_args)
    return replace(
        todo,
        asv_args=[*rest, "--bench", pattern],
        shown=[*rest, "--bench", f"<{len(labels)} points to confirm>"],
        total=history_runs(labels, todo.rounds),
    )


def interrupted(outcome, machine_results: Path) -> int:
    print(
        f"interrupted; results of earlier runs and finished commits are in {machine_results}/"
        " (asv saves a commit's results when all its points are done)",
        file=sys.stderr,
    )
    return 128 + outcome.signal


def asv_pass(ours, todo: Plan, opts, config: str, name: str, results: Path, fixed: bool):
    """Run asv as ``todo`` says, under the run lock, with the address layout and the flags'
    environment set; (its outcome, the environment, the address layout it ran with)."""
    with RunLock(results) as lock:
        note = leftovers.remove_stale()
        if note:
            print(note, flush=True)
        facts_path = results / name / "machine.json"
        facts_before = machine.kept_facts(facts_path)
        fd, progress_path = tempfile.mkstemp(prefix="ffbench-progress-", suffix=".txt")
        os.close(fd)
        commit = getattr(opts, "set_commit_hash", None)
        env = layout.environment(fixed, run_env(ours.grid, results / name, progress_path, commit))
        env_name = existing_env_name(config, getattr(opts, "env_spec", None) or [])
        if env_name:
            env[flags.ENV] = env_name
        print(f"{ours.grid} grid: asv {shlex.join([ours.command, *todo.shown])}", flush=True)
        outcome = None
        address_layout = layout.RANDOM
        try:
            with layout.applied(fixed) as address_layout:
                caveat = layout.caveat(fixed, address_layout)
                print(f"address layout: {address_layout}{caveat}", flush=True)
                outcome = supervise.run(
                    [*asv_command(), ours.command, *todo.asv_args],
                    env,
                    keep_fds=[lock.fd],
                    progress=Progress(Path(progress_path), todo.total),
                    started=lambda pid: lock.name_holders(os.getpid(), pid),
                )
        finally:
            Path(progress_path).unlink(missing_ok=True)
            keep_facts(ours.command, outcome, name, config, facts_path, facts_before,
                       address_layout)  # fmt: skip
    return outcome, env, address_layout


def after_run(machine_results: Path, commit: str, run_id: str, address_layout: str) -> None:
    """For each results file this run of the working tree saved (a commit set with
    ``--set-commit-hash``: the code that ran is the code here): what the machine put the run
    through (`flags.run_outcome`), then `benchmarks.drift`'s whole-run check, with the fixed
    layout only. A results file that cannot be read is named and left as it is."""
    for path in sorted(machine_results.glob(f"{commit[:8]}-*.json")):
        measured = run_lines(sidecar(path), run_id)
        if not measured:
            continue
        print(flags.run_outcome(measured).describe(), flush=True)
        if address_layout != layout.FIXED:
            print("whole-run check: skipped (the address layout is not fixed: each run is its"
                  " own draw)")  # fmt: skip
            continue
        try:
            lines = drift.check(path, run_id)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            lines = [f"whole-run check: skipped {path}: {error}"]
        print("\n".join(lines), flush=True)


def run_env(grid: str, machine_results: Path, progress: str, commit: str | None) -> dict:
    """asv's environment: the grid, and what the benchmark processes report to (`flags`)."""
    env = dict(os.environ)
    env[grids.GRID_ENV] = grid
    env[flags.FLAGS_DIR] = str(machine_results / "ffbench-flags")
    env[flags.RUN] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    env[flags.PROGRESS] = progress
    env.pop(flags.COMMIT, None)
    if commit:
        env[flags.COMMIT] = commit
    return env


def existing_env_name(config: str, env_spec: list[str]) -> str | None:
    """asv's name for the one existing environment of ``--python=same`` (``:same`` as asv's
    parser gives it) or ``-E existing:PATH``, which asv does not pass to the benchmark
    processes; None for the environments asv builds (those set ASV_ENV_NAME themselves)."""
    if len(env_spec) != 1:
        return None
    (spec,) = env_spec
    if spec in (":same", "existing:same"):
        spec = f"existing:{sys.executable}"
    elif not spec.startswith("existing:"):
        return None
    from asv import environment
    from asv.config import Config

    try:
        envs = list(environment.get_environments(Config.load(config), [spec]))
    except (RuntimeError, ValueError, OSError):  # asv could not name it: the flags go unkept
        return None
    return envs[0].name if len(envs) == 1 else None


def keep_facts(command, outcome, name, config, path: Path, before: dict | None,
               address_layout: str) -> None:  # fmt: skip
    """Fresh facts after a finished run that saved results (with the run's address layout);
    else the ones asv wrote over."""
    if command in cli.SAVES_RESULTS and outcome is not None and outcome.signal is None:
        written = machine.record_facts(name, config, {"address_layout": address_layout})
        print(f"ffbench machine facts written to {written}", flush=True)
    elif before is not None:
        machine.restore_facts(path, before)


if __name__ == "__main__":
    raise SystemExit(main())
