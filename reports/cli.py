"""``python -m reports``: asv results -> report files and a terminal summary.

Bad input ends with one line on stderr and exit status 2 (nothing usable) or 1 (``--summary
gpu`` and no GPU results); a results file that cannot be read is warned about by name and
skipped. Parsed results files are cached under ``OUT/.cache`` (never in the results directory),
so that a long history is parsed once.
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
        "--env",
        help="this asv environment (default: per machine and commit, the one with most ok points)",
    )
    p.add_argument(
        "--baseline",
        default="numpy",
        help="implementation speedups are relative to (default: numpy)",
    )
    p.add_argument(
        "--summary",
        choices=("all", "gpu"),
        default="all",
        help="'gpu': print only the GPU-gain summary; exit 1, writing no report, if there is none",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="parse every results file afresh (default: reuse OUT/.cache where files are unchanged)",
    )
    return p


def _error(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _load(args: argparse.Namespace, cache: Path | None) -> tuple[object, str | None]:
    """(the tidy DataFrame or None, an error or None); every ResultsWarning printed as one
    line, whether or not the load succeeds."""
    everything, error = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", load.ResultsWarning)
        try:
            everything = load.load_results(args.results, cache)
        except load.ResultsError as exc:
            error = str(exc)
    for w in caught:
        if issubclass(w.category, load.ResultsWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return everything, error


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    matplotlib.use("Agg")
    if args.commit is not None and not args.commit.strip():
        return _error("--commit is empty: give the first digits of a commit hash")
    try:
        load.check_root(args.results)
        load.read_benchmarks(args.results)  # before anything is written
        out = prepare(args.out, args.results)
    except (load.ResultsError, OutputError) as exc:
        return _error(str(exc))
    everything, error = _load(args, None if args.no_cache else out / ".cache")
    if error:
        return _error(error)
    try:
        if args.env is not None:
            everything, _ = stats.choose_env(everything, args.env)
        df, notes = stats.choose_env(stats.latest(everything, args.machine, args.commit))
    except ValueError as exc:
        return _error(str(exc))
    measured = set(df.loc[df["status"] == "ok", "impl"].dropna().astype(object))
    if args.baseline not in measured:
        known = ", ".join(sorted(measured)) or "none"
        return _error(f"baseline {args.baseline!r} has no results (implementations: {known})")
    history = everything.loc[everything["measure"] == "time", stats.HISTORY_COLUMNS]
    if args.machine is not None:
        history = history[history["machine"] == args.machine]
    history, _ = stats.choose_env(history)
    try:
        report = build(df, history, args.baseline, notes, args.env)
        if args.summary == "gpu" and not report.gpu_summary:
            return _error("no GPU gain: no CUDA step results with CPU points to compare", 1)
        written = write_report(report, out)
    except OutputError as exc:
        return _error(str(exc))
    print(report.gpu_summary if args.summary == "gpu" else report.summary)
    print(f"wrote {len(written)} files to {out}/: open {out / 'index.html'}")
    return 0
