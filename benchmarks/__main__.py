"""``python -m benchmarks GRID COMMAND [ASV ARGS...]``: asv on one grid's points that run here.

Runs ``asv COMMAND --bench <the grid's selection> ASV ARGS...`` (see `benchmarks.select` for why
the selection matters), printing the command with the selection summarised. Examples::

    python -m benchmarks quick run --python=same --set-commit-hash "$(git rev-parse HEAD)"
    python -m benchmarks full run --python=same --set-commit-hash "$(git rev-parse HEAD)"
    python -m benchmarks quick run HEAD~2..HEAD
    python -m benchmarks quick continuous HEAD~1 HEAD
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys

from . import machine
from .select import GRIDS, pattern

#: asv commands that take ``--bench``.
COMMANDS = ("run", "continuous", "dev", "find", "profile")
#: Those that save results: asv rewrites machine.json, so the facts are written after them.
SAVES_RESULTS = ("run", "continuous")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] not in GRIDS or argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    grid, command, *rest = argv
    selection = pattern(grid)
    shown = shlex.join(["asv", command, "--bench", f"<{grid} grid>", *rest])
    print(f"{shown}   # <{grid} grid>: {selection.count('|') + 1} alternatives", flush=True)
    asv = [sys.executable, "-m", "asv", command, "--bench", selection, *rest]
    with subprocess.Popen(asv, stdout=subprocess.PIPE, text=True, bufsize=1) as child:
        hidden = echo_without_unrun_rows(child.stdout, sys.stdout)
    if hidden:
        print(f"({hidden} table rows of combinations not run here, n/a, left out of this log)")
    if command in SAVES_RESULTS:
        options = argparse.ArgumentParser(add_help=False)
        options.add_argument("--machine", "-m")
        options.add_argument("--config", default=machine.CONFIG)
        known, _ = options.parse_known_args(rest)
        path = machine.record_facts(known.machine, known.config)
        print(f"ffbench machine facts written to {path}")
    return child.returncode


#: A row of asv's result table whose value is n/a (a combination skipped or not selected).
UNRUN_ROW = re.compile(r"^ {10,}\S.*\s n/a\s*$")


def echo_without_unrun_rows(lines, out) -> int:
    """Copy asv's log, leaving out n/a table rows: the cartesian grids hold thousands of
    combinations that never run here, and the results file records them all anyway."""
    hidden = 0
    for line in lines:
        if UNRUN_ROW.match(line):
            hidden += 1
            continue
        out.write(line)
        out.flush()
    return hidden


if __name__ == "__main__":
    raise SystemExit(main())
