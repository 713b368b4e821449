"""``python -m reports``: asv results -> report files and a terminal summary.

Bad input ends with one line on stderr and exit status 2 (nothing usable) or 1 (``--summary
gpu`` and no GPU results); a results file that cannot be read is warned about by name and
skipped.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import matplotlib

from reports import load, stats
from reports.report import build
from reports.write import OutputError, prepare, write_report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m reports",
        description="Turn asv results into speedup tables, figures and a GPU-gain summary.",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=Path(".asv/results"),
        help="asv results directory (default: .asv/results)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("report"),
        help="output directory, created if needed (default: report)",
    )
    p.add_argument("--machine", help="only this asv machine (default: every machine)")
    p.add_argument("--commit", help="this commit (hash prefix; default: latest per machine)")
    p.add_argument(
        "--baseline",
        default="numpy",
        help="implementation speedups are relative to (default: numpy)",
    )
    p.add_argument(
        "--summary",
        choices=("all", "gpu"),
        default="all",
        help="'gpu': print only the GPU-gain summary; exit 1, writing nothing, if there is none",
    )
    return p


def _error(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    matplotlib.use("Agg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", load.ResultsWarning)
        try:
            everything = load.load_results(args.results)
        except load.ResultsError as exc:
            return _error(str(exc))
    for w in caught:
        if issubclass(w.category, load.ResultsWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    try:
        df = stats.latest(everything, args.machine, args.commit)
    except ValueError as exc:
        return _error(str(exc))
    if args.baseline not in set(df["impl"].dropna()):
        known = ", ".join(sorted(set(df["impl"].dropna())))
        return _error(f"baseline {args.baseline!r} has no results (implementations: {known})")
    history = (
        everything if args.machine is None else everything[everything["machine"] == args.machine]
    )
    try:
        out = prepare(args.out, args.results)
        report = build(df, history, args.baseline)
        if args.summary == "gpu" and not report.gpu_summary:
            return _error("no GPU gain: no CUDA step results with CPU points to compare", 1)
        written = write_report(report, out)
    except OutputError as exc:
        return _error(str(exc))
    print(report.gpu_summary if args.summary == "gpu" else report.summary)
    print(f"wrote {len(written)} files to {out}/: open {out / 'index.html'}")
    return 0
