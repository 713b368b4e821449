"""``python tools/heartbeat.py SECONDS -- COMMAND...``: run COMMAND, passing its output through,
and print a line whenever it has said nothing for SECONDS.

Why: pip prints nothing while it unpacks torch (18 s on a fresh clone here), and the env session
runs first in every nox session, so a user's first minute had the longest silence of the main
job. Standard library only: it runs before anything is installed. Exits with COMMAND's status.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python tools/heartbeat.py SECONDS -- COMMAND...", file=sys.stderr)
        return 2
    quiet, command = float(argv[0]), argv[2:]
    started = time.monotonic()
    last = [started]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def relay() -> None:
        for line in iter(proc.stdout.readline, b""):
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
            last[0] = time.monotonic()

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    while proc.poll() is None:
        time.sleep(min(0.5, quiet / 4))
        now = time.monotonic()
        if now - last[0] >= quiet:
            print(f"... still running after {now - started:.0f} s: {' '.join(command[:5])}",
                  flush=True)  # fmt: skip
            last[0] = now
    reader.join()
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
