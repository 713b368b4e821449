"""Writing: a `Report` -> files in the output directory. The only module that writes.

Every file is written atomically (a temporary file in the same directory, then `os.replace`),
so a reader never sees half a page and an interrupted run leaves the previous report whole.
Figures are drawn in parallel where there are CPUs to spare (`render`), byte for byte as
serially.
The output directory may not be, or lie inside, the results directory: the results stay
byte-identical.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

from reports.pages import render_html, render_markdown
from reports.report import Report


class OutputError(Exception):
    """The output directory cannot be used; the message says why."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either the old or the new file, whole."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        tmp.chmod(0o644)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


#: SVG ids are hashes salted with this (matplotlib's default salt is random per process).
SVG_SALT = "ffbench"


def figure_bytes(figure, fmt: str) -> bytes:
    """A figure rendered to PNG or SVG bytes, byte-identical from run to run: no date or
    software stamp, and SVG element ids from a fixed salt."""
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT}):
        figure.savefig(buf, format=fmt, dpi=110, metadata=metadata)
    return buf.getvalue()


def _render_one(figure) -> tuple[bytes, bytes]:
    png = figure_bytes(figure, "png")
    figure.set_layout_engine("none")  # laid out once: the SVG keeps the PNG's layout
    return png, figure_bytes(figure, "svg")


#: The figures a forked renderer reads (inherited from the parent, never pickled).
_FIGURES: list = []


def _render_index(i: int) -> tuple[bytes, bytes]:
    return _render_one(_FIGURES[i])


def render(plots: list) -> list[tuple[bytes, bytes]]:
    """(PNG, SVG) bytes of each plot, in order. Drawing is most of a report's time, so on Linux
    with two or more CPUs free the figures are drawn by forked processes (which inherit them);
    the bytes are the same either way."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    jobs = min(cpus, len(plots) // 2)
    if jobs < 2 or not sys.platform.startswith("linux"):
        return [_render_one(p.figure) for p in plots]
    _FIGURES[:] = [p.figure for p in plots]
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            return pool.map(_render_index, range(len(plots)), chunksize=1)
    finally:
        _FIGURES.clear()


def prepare(out: Path, results: Path) -> Path:
    """Create ``out`` if needed; OutputError if it is inside ``results`` or not writable."""
    out_r, res_r = out.resolve(), results.resolve()
    if out_r == res_r or res_r in out_r.parents:
        raise OutputError(f"output dir {out} is inside the results dir {results}; choose another")
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output dir {out}: {exc.strerror}") from None
    if not out.is_dir() or not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"output dir {out} is not a writable directory")
    return out


def write_report(report: Report, out: Path) -> list[Path]:
    """All files of ``report`` into ``out`` (already prepared); the paths written."""
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = out / name
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror}") from None
        written.append(path)

    png = {}
    for plot, (png_bytes, svg_bytes) in zip(report.plots, render(report.plots), strict=True):
        png[plot.name] = png_bytes
        put(f"{plot.name}.png", png_bytes)
        put(f"{plot.name}.svg", svg_bytes)
    for table in report.tables:
        put(f"{table.name}.csv", table.data.to_csv(index=False).encode())
    put("report.md", render_markdown(report).encode())
    put("index.html", render_html(report, png).encode())
    return written
