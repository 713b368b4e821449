"""Processes and folders an asv run leaves behind, found in /proc and removed.

asv starts its benchmark processes in process groups of their own: the forkserver
(``asv/benchmark.py run_server DIR SOCKET``, in a folder ``asv-forkserver-*`` of the temporary
directory), its forked children and ``setup_cache`` processes. Killing asv's group (or asv)
leaves them running, still importing torch and burning cores that the next run measures on,
and the forkserver's folder stays in the temporary directory. `Tracker` remembers what one asv
process started, so all of it can be killed when the run ends; `remove_stale` finds what an
earlier, killed run left: asv benchmark processes whose parent is no asv process any more.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: asv's benchmark process commands (``asv/benchmark.py COMMAND ...``).
RUNNER_COMMANDS = ("run_server", "setup_cache", "run", "discover", "check")
SOCKET_DIR_PREFIX = "asv-forkserver-"
#: A forkserver folder this young may belong to a forkserver still starting.
STALE_AFTER_S = 60.0


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    start: int  # clock ticks after boot: tells a pid apart from a later one that reuses it
    argv: tuple[str, ...]
    cwd: str


def read_proc(pid: int) -> Proc | None:
    """One process from /proc, or None if it is gone or not ours to inspect."""
    base = Path("/proc", str(pid))
    try:
        stat = (base / "stat").read_text()
        argv = (base / "cmdline").read_bytes().split(b"\0")
        cwd = str((base / "cwd").readlink())
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    words = tuple(a.decode(errors="replace") for a in argv if a)
    return Proc(pid, int(fields[1]), int(fields[19]), words, cwd)


def table() -> dict[int, Proc]:
    """This user's processes (others' cannot be inspected or signalled anyway)."""
    procs = {}
    uid = os.getuid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
        except OSError:
            continue
        proc = read_proc(int(entry.name))
        if proc is not None:
            procs[proc.pid] = proc
    return procs


def descendants(roots: set[int], procs: dict[int, Proc]) -> set[int]:
    """``roots`` and every process below them."""
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def runner_command(argv: tuple[str, ...]) -> str | None:
    """The command of an asv benchmark process (``run_server``, ``setup_cache``...), else None."""
    for i, word in enumerate(argv[:3]):
        if word.endswith(("asv/benchmark.py", "asv_runner")) and i + 1 < len(argv):
            command = argv[i + 1]
            return command if command in RUNNER_COMMANDS else None
    return None


def is_asv(argv: tuple[str, ...]) -> bool:
    """Whether a command line is asv itself (``python -m asv ...`` or the ``asv`` script)."""
    head = argv[:3]
    return any(Path(w).name == "asv" for w in head) or any(
        a == "-m" and b == "asv" for a, b in itertools.pairwise(head)
    )


def socket_dir(argv: tuple[str, ...]) -> str | None:
    """A forkserver's socket folder, from its command line."""
    if runner_command(argv) != "run_server":
        return None
    folder = Path(argv[-1]).parent
    return str(folder) if folder.name.startswith(SOCKET_DIR_PREFIX) else None


def scratch_dir(proc: Proc, tempdir: str) -> str | None:
    """A folder asv made for ``proc`` and removes itself when nothing goes wrong: the
    forkserver's socket folder, or the temporary folder a ``setup_cache`` process works in."""
    folder = socket_dir(proc.argv)
    if folder is None and runner_command(proc.argv) == "setup_cache":
        cwd = Path(proc.cwd)
        if cwd.parent == Path(tempdir) and cwd.name.startswith("tmp"):
            folder = proc.cwd
    return folder


def kill_all(pids: set[int], procs: dict[int, Proc]) -> int:
    """SIGKILL each of ``pids`` that is still the process recorded; how many were signalled."""
    killed = 0
    for pid in pids:
        now = read_proc(pid)
        if now is None or now.start != procs[pid].start:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    return killed


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its parent to reap it does not)."""
    try:
        stat = Path("/proc", str(pid), "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] not in ("Z", "X")


def wait_gone(pids: set[int], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(running(p) for p in pids):
        time.sleep(0.02)


class Tracker:
    """What one asv process started: seen while it runs, killed and removed when it ends."""

    def __init__(self, root: int, tempdir: str | None = None):
        self.root = root
        self.tempdir = str(Path(tempdir or tempfile.gettempdir()).resolve())
        self.seen: dict[int, Proc] = {}
        self.socket_dirs: set[str] = set()
        self.scratch: set[str] = set()

    def look(self) -> None:
        """Note asv's processes now (call every second or so while asv runs)."""
        procs = table()
        for pid in descendants({self.root}, procs):
            proc = procs.get(pid)
            if proc is not None:
                self.seen[pid] = proc
                scratch, sockets = scratch_dir(proc, self.tempdir), socket_dir(proc.argv)
                if scratch:
                    self.scratch.add(scratch)
                if sockets:
                    self.socket_dirs.add(sockets)

    def finish(self) -> int:
        """Kill whatever is left of asv's processes and remove the folders asv made for them."""
        self.look()
        procs = table()
        ours = {p.pid for p in procs.values() if socket_dir(p.argv) in self.socket_dirs}
        pids = descendants(ours, procs) | set(self.seen)
        everything = {**procs, **self.seen}
        pids = {pid for pid in pids if pid in everything and pid != os.getpid()}
        killed = kill_all(pids, everything)
        wait_gone(pids)
        for folder in self.scratch:
            shutil.rmtree(folder, ignore_errors=True)
        return killed


def stale_roots(procs: dict[int, Proc], tempdir: str) -> set[int]:
    """asv benchmark processes working in ``tempdir`` whose parent is no asv process."""
    roots = set()
    for p in procs.values():
        if runner_command(p.argv) is None:
            continue
        parent = procs.get(p.ppid)
        if parent is not None and (is_asv(parent.argv) or runner_command(parent.argv)):
            continue
        where = socket_dir(p.argv) or p.cwd
        if Path(where).is_relative_to(tempdir):
            roots.add(p.pid)
    return roots


def stale_folders(procs: dict[int, Proc], tempdir: str) -> list[Path]:
    """Forkserver folders in ``tempdir`` that no live forkserver uses, owned by this user."""
    used = {socket_dir(p.argv) for p in procs.values()}
    cutoff = time.time() - STALE_AFTER_S
    found = []
    for folder in Path(tempdir).glob(f"{SOCKET_DIR_PREFIX}*"):
        try:
            info = folder.stat()
        except OSError:
            continue
        if info.st_uid == os.getuid() and info.st_mtime < cutoff and str(folder) not in used:
            found.append(folder)
    return found


def remove_stale(tempdir: str | None = None) -> str | None:
    """Kill an earlier run's stray asv processes and remove the folders asv made for them and
    unused forkserver folders; one line saying what was removed, or None if nothing was."""
    tempdir = str(Path(tempdir or tempfile.gettempdir()).resolve())
    procs = table()
    pids = descendants(stale_roots(procs, tempdir), procs)
    killed = kill_all(pids, procs)
    wait_gone(pids)
    folders = {scratch_dir(procs[pid], tempdir) for pid in pids} | set(
        stale_folders(table(), tempdir)
    )
    folders = {str(Path(f).resolve()) for f in folders if f}
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    if not (killed or folders):
        return None
    return (
        f"removed what an earlier asv run left: {killed} benchmark processes, "
        f"{len(folders)} asv folders in {tempdir}"
    )
