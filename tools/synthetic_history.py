"""A SYNTHETIC asv history, for sizing the reports: copies of one real run, not measurements.

    python tools/synthetic_history.py SOURCE DEST --commits 1000 --machines 5

SOURCE is a real asv results directory; its first machine's newest results file is copied
``commits`` x ``machines`` times into DEST in asv's layout (``benchmarks.json``,
``<machine>/machine.json``, ``<machine>/<commit>-<env>.json``), each copy with a distinct fake
commit hash, a commit date one hour after the previous one, and every time-like number (result
and its statistics) multiplied by a small deterministic noise factor (log-normal, 1% by
default; the same arguments give the same files). Machines are named ``<machine>-synth<j>``.
Nothing in DEST is a measurement: use it to time ``python -m reports``, never to read results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

#: Columns of a result row that are not time-like (left as they are).
KEEP = {"params", "version", "started_at", "duration", "stats_number", "stats_repeat", "samples",
        "profile"}  # fmt: skip
HOUR_MS = 3_600_000


def source_file(source: Path) -> tuple[Path, Path]:
    """(machine dir, newest results file) of SOURCE's first machine; SystemExit if none."""
    for machine_dir in sorted(p for p in source.iterdir() if (p / "machine.json").is_file()):
        files = [p for p in machine_dir.glob("*.json") if p.name != "machine.json"]
        if files:
            newest = max(files, key=lambda p: json.loads(p.read_text()).get("date") or 0)
            return machine_dir, newest
    raise SystemExit(f"error: no machine with results under {source}")


def noisy(data: dict, rng: np.random.Generator, sigma: float) -> dict:
    """A copy of a results file with each time-like list scaled by one factor per point."""
    cols = data["result_columns"]
    out = dict(data)
    out["results"] = {}
    for name, row in data["results"].items():
        row = list(row)
        fields = dict(zip(cols, row, strict=False))
        result = fields.get("result")
        n = len(result) if isinstance(result, list) else 0
        factor = np.exp(rng.normal(0.0, sigma, size=n)).tolist()
        for i, col in enumerate(cols[: len(row)]):
            if col in KEEP or not isinstance(row[i], list) or len(row[i]) != n:
                continue
            row[i] = [
                v * f if isinstance(v, float) else v for v, f in zip(row[i], factor, strict=True)
            ]
        out["results"][name] = row
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path, help="a real asv results directory")
    p.add_argument("dest", type=Path, help="where to write the synthetic one (replaced)")
    p.add_argument("--commits", type=int, default=100)
    p.add_argument("--machines", type=int, default=5)
    p.add_argument("--noise", type=float, default=0.01, help="log-normal sigma (default 0.01)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if not (args.source / "benchmarks.json").is_file():
        return print(f"error: {args.source}/benchmarks.json not found", file=sys.stderr) or 2
    if args.dest.resolve() == args.source.resolve():
        return print("error: DEST must not be SOURCE", file=sys.stderr) or 2
    machine_dir, src = source_file(args.source)
    data = json.loads(src.read_text())
    machine = json.loads((machine_dir / "machine.json").read_text())
    shutil.rmtree(args.dest, ignore_errors=True)
    args.dest.mkdir(parents=True)
    shutil.copy(args.source / "benchmarks.json", args.dest / "benchmarks.json")
    start = int(data.get("date") or 1_700_000_000_000)
    for j in range(args.machines):
        name = f"{machine_dir.name}-synth{j}"
        folder = args.dest / name
        folder.mkdir()
        (folder / "machine.json").write_text(json.dumps({**machine, "machine": name}, indent=1))
        rng = np.random.default_rng([args.seed, j])
        for i in range(args.commits):
            commit = hashlib.sha1(f"synthetic {args.seed} {i}".encode()).hexdigest()
            copy = noisy(data, rng, args.noise)
            copy.update(commit_hash=commit, date=start + i * HOUR_MS)
            copy["params"] = {**data.get("params", {}), "machine": name}
            (folder / f"{commit[:8]}-{data['env_name']}.json").write_text(json.dumps(copy))
    print(f"wrote {args.commits} commits x {args.machines} machines (synthetic) to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
