"""A cache of parsed results files, so that a long history is not re-parsed on every report.

asv's JSON stays the source of truth: an entry is used only while its results file (and the
file's disturbed-flags sidecar) has the same size and modification time as when it was parsed,
and the whole cache is dropped when ``benchmarks.json`` or this cache's format changes. The cache
lives outside the results directory (the report's output directory by default), which is
never written to. A cache that cannot be read or written is ignored: it only saves time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

#: Bump when the parsed form of a file changes.
VERSION = 1


def stamp(path: Path) -> tuple[int, int] | None:
    """(size, mtime in ns) of ``path``; None if it does not exist."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class Cache:
    """Parsed files of one results directory, keyed by path and stamped by size and mtime."""

    def __init__(self, directory: Path | None, results: Path, benchmarks_digest: str) -> None:
        self.path = None
        if directory is not None:
            name = hashlib.sha256(str(results.resolve()).encode()).hexdigest()[:16]
            self.path = directory / f"results-{name}.pickle"
        self.header = (VERSION, benchmarks_digest)
        self.entries: dict[str, tuple[object, object]] = {}
        self.used: set[str] = set()
        self.changed = False
        if self.path is not None:
            with contextlib.suppress(OSError, pickle.UnpicklingError, EOFError, ValueError,
                                     TypeError, AttributeError, ImportError):  # fmt: skip
                with self.path.open("rb") as f:
                    header, entries = pickle.load(f)
                if header == self.header and isinstance(entries, dict):
                    self.entries = entries

    def get(self, key: str, stamp_: object) -> object | None:
        """The parsed form of ``key`` if it was parsed with the same stamp, else None."""
        self.used.add(key)
        entry = self.entries.get(key)
        if entry is not None and entry[0] == stamp_:
            return entry[1]
        return None

    def put(self, key: str, stamp_: object, parsed: object) -> None:
        self.entries[key] = (stamp_, parsed)
        self.changed = True

    def save(self) -> None:
        """Write the entries of the files seen this time (removed files drop out)."""
        if self.path is None:
            return
        stale = set(self.entries) - self.used
        if not (self.changed or stale):
            return
        for key in stale:
            del self.entries[key]
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    pickle.dump((self.header, self.entries), f, protocol=pickle.HIGHEST_PROTOCOL)
                Path(name).replace(self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(name).unlink()
                raise
