"""The arguments of ``python -m benchmarks GRID COMMAND [ASV ARGS...]``, checked before asv runs.

Ours (grid and command) are parsed by our parser; the rest by asv's own parser for COMMAND, so
that ``--machine``, ``--config``, ``--set-commit-hash``, ``--bench`` and the commits mean here
exactly what they mean to asv, and a bad asv argument is one line before anything starts.
"""

from __future__ import annotations

import argparse
import platform
import re
import shlex
import subprocess
from pathlib import Path

from . import grids

#: asv commands whose benchmarks come from the grid (the others read saved results only).
COMMANDS = ("run", "continuous", "find", "profile", "check")
#: Those that save results: asv rewrites machine.json, so the facts are written after them.
SAVES_RESULTS = ("run", "continuous")
#: The benchmark the regression gate reads: wall time at the grid's history points.
HISTORY_BENCHMARK = "bench_step.Step.track_time"

EPILOG = """\
ASV ARGS go to asv unchanged; the ones read here too, with asv's defaults:
  --machine/-m NAME    results of machine NAME (default: asv's, this host's name, {host!r})
  --config FILE        asv config, for results_dir (default: asv.conf.json)
  --set-commit-hash H  the commit the results are saved under (default: none)
  --bench/-b REGEX     narrows the grid's points as in asv (default: all of them)
The grid is what asv discovers (FFBENCH_GRID=GRID; a plain asv run sees quick).
Runs take the lock <results_dir>/.ffbench-run.lock; a progress line after {quiet:.0f} s
without asv output.
continuous A B runs only {history}(<the grid's one-thread points>), rounds
interleaved, then the regression gate (benchmarks.gate) decides the exit status.
Exit status: asv's, 2 bad arguments, 3 another run holds the lock, 130 interrupted.
"""


class UsageError(Exception):
    """A bad argument: the message is the one line printed."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line naming the bad argument (no usage block)."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message}")


def parser() -> argparse.ArgumentParser:
    from .progress_view import QUIET_S

    top = OneLineParser(
        prog="python -m benchmarks",
        description="asv on one of ffbench's grids, serialised, with progress and a clean Ctrl-C.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG.format(host=platform.node(), quiet=QUIET_S, history=HISTORY_BENCHMARK),
    )
    subs = top.add_subparsers(
        dest="grid", metavar="GRID", required=True, parser_class=OneLineParser
    )
    for name in grids.GRIDS:
        sub = subs.add_parser(
            name,
            help=f"the {name} grid (benchmarks.grids.{name})",
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        sub.add_argument("command", choices=COMMANDS, metavar="COMMAND", help=", ".join(COMMANDS))
        sub.add_argument("asv_args", nargs=argparse.REMAINDER, metavar="ASV ARGS",
                         default=[], help="passed to asv")  # fmt: skip
    return top


def asv_options(command: str, args: list[str]) -> argparse.Namespace:
    """``args`` as asv's parser for ``command`` reads them (its help exits here, as in asv)."""
    from asv.commands import common_args
    from asv.commands.asv_profiling import Profile
    from asv.commands.check import Check
    from asv.commands.continuous import Continuous
    from asv.commands.find import Find
    from asv.commands.run import Run

    classes = {"run": Run, "continuous": Continuous, "find": Find, "profile": Profile,
               "check": Check}  # fmt: skip
    subs = OneLineParser(prog="asv").add_subparsers(parser_class=OneLineParser)
    sub = classes[command].setup_arguments(subs)
    common_args.add_global_arguments(sub)
    sub.prog = f"asv {command}"
    return sub.parse_args(args)


def parse(argv: list[str]) -> tuple[argparse.Namespace, argparse.Namespace]:
    """Our arguments and asv's; `UsageError` if either is bad."""
    if len(argv) == 1 and argv[0] in grids.GRIDS:  # argparse would ask for ASV ARGS too
        raise UsageError(
            f"python -m benchmarks {argv[0]}: a COMMAND is required: {', '.join(COMMANDS)}"
        )
    ours = parser().parse_args(argv)
    return ours, asv_options(ours.command, ours.asv_args)


def history_pattern(labels: list[str]) -> str:
    """``--bench`` regex for `HISTORY_BENCHMARK` at ``labels``: asv matches --bench against
    ``name(param)``, the param as its repr (a quoted label)."""
    points = "|".join(re.escape(repr(label)) for label in labels)
    return f"^{re.escape(HISTORY_BENCHMARK)}\\((?:{points})\\)$"


def narrowed(pattern: str, user: list[str] | None) -> str:
    """``pattern`` and, if given, any of the user's ``--bench`` regexes (asv ORs repeated
    --bench; a lookahead makes the user's narrow ours instead of adding to it)."""
    if not user:
        return pattern
    either = "|".join(f".*(?:{u})" for u in user)
    return f"(?=(?:{either})){pattern}"


def without_bench(args: list[str]) -> list[str]:
    """``args`` less their ``--bench``/``-b`` options (in any of argparse's spellings)."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        flag = arg.split("=", 1)[0]
        if arg == "-b" or (len(flag) >= 3 and "--bench".startswith(flag)):
            skip = "=" not in arg
            continue
        if arg.startswith("-b"):
            continue
        out.append(arg)
    return out


def resolve_commit(repo: Path, name: str) -> str:
    """The full hash of commit ``name`` in ``repo``; `UsageError` if there is none."""
    found = _git(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    if found.returncode != 0:
        raise UsageError(f"python -m benchmarks: commit {name!r} is unknown in {repo}")
    return found.stdout.strip()


def commit_count(repo: Path, opts: argparse.Namespace) -> int | None:
    """Commits one ``asv run`` with ``opts`` measures: one for ``--python=same``,
    ``--set-commit-hash``, no range or ``HEAD``; else what ``git rev-list --first-parent``
    lists for its range, as asv does (at most ``--steps``). None where asv decides from its
    results or config (ALL, NEW, EXISTING, TAGS, HASHFILE:)."""
    existing = any(e.startswith("existing") or e.endswith("same")
                   for e in getattr(opts, "env_spec", None) or [])  # fmt: skip
    spec = getattr(opts, "range", None)
    if existing or getattr(opts, "set_commit_hash", None) or spec in (None, "HEAD"):
        return 1
    if spec in ("ALL", "NEW", "EXISTING", "TAGS") or spec.startswith("HASHFILE:"):
        return None
    listed = _git(repo, "rev-list", "--first-parent", "--count", *shlex.split(spec), "--")
    try:
        count = int(listed.stdout.strip())
    except ValueError:
        return None
    steps = getattr(opts, "steps", None)
    return max(1, min(count, steps) if steps else count)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """``git ARGS`` in ``repo``, its output captured as text; the caller reads the status."""
    return subprocess.run(["git", *args], cwd=repo, check=False, capture_output=True, text=True)
