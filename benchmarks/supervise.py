"""Run asv as a child that can be stopped cleanly: output passed through, progress, Ctrl-C.

asv runs in a session of its own, so a Ctrl-C (SIGINT to the terminal's process group) reaches
only ``python -m benchmarks``. That one then goes quiet at once (asv's reaction to an interrupt
is a traceback, then broken pipes from its children: nothing a person needs), sends SIGINT to
asv so it can close its forkserver, and after `GRACE_S` kills whatever asv started
(`benchmarks.leftovers.Tracker`). A second Ctrl-C skips the wait. While asv is quiet for
`benchmarks.progress_view.QUIET_S`, a progress line is printed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from .leftovers import Tracker
from .progress_view import QUIET_S, Progress

#: How long asv may take to stop after the interrupt is passed on to it.
GRACE_S = 5.0
POLL_S = 0.1
LOOK_EVERY_S = 1.0


@dataclass
class Outcome:
    returncode: int
    signal: int | None  # the signal that interrupted the run, if one did


class Console:
    """asv's output and our own lines, written whole and in order; silenced on request."""

    def __init__(self):
        self.lock = threading.Lock()
        self.silent = False
        self.last_output = time.monotonic()
        self.at_line_start = True

    def copy(self, fd: int, out) -> None:
        """Pass a pipe's bytes through as they come, until it closes (silenced: discard)."""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                return
            with self.lock:
                self.last_output = time.monotonic()
                if self.silent:
                    continue
                try:
                    out.write(chunk)
                    out.flush()
                except (OSError, ValueError):
                    self.silent = True  # our own output is gone (a closed pipe): say nothing
                if out is sys.stdout.buffer:
                    self.at_line_start = chunk.endswith(b"\n")

    def say(self, text: str) -> None:
        """One line of ours on stdout, on a line of its own."""
        with self.lock:
            if self.silent:
                return
            head = "" if self.at_line_start else "\n"
            try:
                sys.stdout.write(f"{head}{text}\n")
                sys.stdout.flush()
            except (OSError, ValueError):
                self.silent = True
            self.at_line_start = True
            self.last_output = time.monotonic()


def run(command: list[str], env: dict, *, keep_fds=(), progress: Progress | None = None,
        started=None) -> Outcome:  # fmt: skip
    """Run ``command`` to its end or until SIGINT/SIGTERM; ``started(pid)`` once it runs."""
    console = Console()
    signals: list[int] = []
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, _frame: signals.append(signum)) for s in handled}
    try:
        sys.stdout.flush()
        child = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=tuple(keep_fds),
        )
        if started is not None:
            started(child.pid)
        pumps = [
            threading.Thread(target=console.copy, args=(pipe.fileno(), out), daemon=True)
            for pipe, out in ((child.stdout, sys.stdout.buffer), (child.stderr, sys.stderr.buffer))
        ]
        for pump in pumps:
            pump.start()
        tracker = Tracker(child.pid)
        watch(child, tracker, console, signals, progress)
        tracker.finish()
        for pump in pumps:
            pump.join(timeout=2.0)
        child.stdout.close()
        child.stderr.close()
        returncode = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return Outcome(returncode, signals[0] if signals else None)


def watch(child, tracker: Tracker, console: Console, signals: list, progress) -> None:
    """Wait for asv: note its processes, print progress when it is quiet, pass an interrupt on
    and give up waiting `GRACE_S` after it (or at a second one)."""
    last_look = 0.0
    deadline = None
    while child.poll() is None:
        time.sleep(POLL_S)
        now = time.monotonic()
        if now - last_look >= LOOK_EVERY_S:
            tracker.look()
            last_look = now
        if signals and deadline is None:
            console.silent = True
            tracker.look()  # what asv started since the last look, while asv is its parent
            deadline = now + GRACE_S
            _signal_group(child.pid, signal.SIGINT)
        if deadline is not None and (now >= deadline or len(signals) > 1):
            _signal_group(child.pid, signal.SIGKILL)
            return
        if progress is not None and now - console.last_output >= QUIET_S:
            console.say(progress.line())


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, signum)
