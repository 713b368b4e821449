"""Writing: a `Report` -> files in the output directory. The only module that writes.

Every file is written atomically (a temporary file in the same directory, then `os.replace`),
so a reader never sees half a page and an interrupted run leaves the previous report whole.
The output directory may not be, or lie inside, the results directory: the results stay
byte-identical.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

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


def figure_bytes(figure, fmt: str) -> bytes:
    """A figure rendered to PNG or SVG bytes (no timestamps, so reruns give equal files)."""
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    figure.savefig(buf, format=fmt, dpi=110, metadata=metadata)
    return buf.getvalue()


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
    for plot in report.plots:
        png[plot.name] = figure_bytes(plot.figure, "png")
        put(f"{plot.name}.png", png[plot.name])
        put(f"{plot.name}.svg", figure_bytes(plot.figure, "svg"))
    for table in report.tables:
        put(f"{table.name}.csv", table.data.to_csv(index=False).encode())
    put("report.md", render_markdown(report).encode())
    put("index.html", render_html(report, png).encode())
    return written
