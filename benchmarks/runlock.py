"""One ffbench run at a time per results directory: a lock file that a second run finds taken.

Two runs at once would slow each other's points down and both would record the slow numbers,
so ``python -m benchmarks`` takes ``<results_dir>/.ffbench-run.lock`` (``fcntl.flock``, never
waiting) before anything else and holds it for the whole asv command. The lock's file
descriptor is also handed to the asv process, so the lock stays taken while asv lives even if
``python -m benchmarks`` itself is killed. The file names the holder (pid and start time) for
the message a second run prints.

A plain ``asv run`` (or ``asv continuous``) does not take this lock: asv knows nothing of it, so
such a run is neither stopped by an ffbench run nor stops one. Start runs with
``python -m benchmarks GRID COMMAND`` to have them serialised.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from typing_extensions import Self

LOCK_NAME = ".ffbench-run.lock"


class Busy(Exception):
    """Another run holds the lock; the message names it."""


def describe_holder(text: str) -> str:
    """``pid N since TIME`` from a lock file's text: the first holder process still alive."""
    try:
        info = json.loads(text)
        pids = [int(p) for p in info["pids"]]
        since = str(info["since"])
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
    alive = [pid for pid in pids if _alive(pid)] or pids
    return f"pid {alive[0]} since {since}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """The results directory's run lock, taken at once or not at all (`Busy`)."""

    def __init__(self, results_dir: Path):
        self.path = Path(results_dir) / LOCK_NAME
        self.fd: int | None = None
        self.since = ""

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = self.path.read_text(errors="replace")
            os.close(fd)
            raise Busy(
                f"another ffbench run is in progress ({describe_holder(text)}); "
                "wait for it, or stop it"
            ) from None
        self.fd = fd
        self.since = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.name_holders(os.getpid())
        return self

    def name_holders(self, *pids: int) -> None:
        """Record the processes holding the lock (this one first, then asv once started)."""
        assert self.fd is not None
        text = json.dumps({"pids": list(pids), "since": self.since}) + "\n"
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text.encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
