"""``python -m benchmarks.machine``: asv's machine info without questions, plus ffbench's facts.

asv records the OS, CPU model, core count and RAM. ffbench adds what asv does not
(`impls.facts.machine_facts`: BLAS vendor, thread counts in force, torch version and build,
TF32 off, and on CUDA the GPU's name, memory, driver, runtime, clocks and power limit) as one
flat dict under the key ``"ffbench_facts"`` of ``<results_dir>/<machine>/machine.json``.

Why there and not in ``~/.asv-machine.json``: asv copies that file's entry into the ``params``
of every result, and ``asv publish`` fails on a dict-valued param ("unhashable type: 'dict'").
``asv run`` rewrites machine.json from ``~/.asv-machine.json``, so the facts are written after
each run: ``python -m benchmarks GRID run|continuous`` does it, and after an interrupted run it
puts back the facts asv wrote over (`restore_facts`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

FACTS_KEY = "ffbench_facts"
CONFIG = "asv.conf.json"


def machine_file() -> Path:
    return Path("~/.asv-machine.json").expanduser()


def write_json_atomically(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as stream:
            json.dump(data, stream, indent=4, sort_keys=True)
            stream.write("\n")
        Path(tmp).chmod(0o644)  # as asv's own files: mkstemp's are private
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def complete_entry(machines: dict, name: str, defaults: dict) -> dict:
    """asv's machine file with entry ``name`` complete and free of ffbench's facts.

    asv's own answers win over ``defaults`` (asv's defaults for this host): ``asv machine --yes
    --machine NAME`` records only the name of a new machine, so the rest is filled in here.
    """
    entry = {**defaults, **machines.get(name, {}), "machine": name}
    entry.pop(FACTS_KEY, None)  # never in asv's params (see the module docstring)
    return {"version": 1, **machines, name: entry}


def with_facts(recorded: dict, facts: dict) -> dict:
    """A results machine.json: the machine info asv ``recorded`` plus ``facts``."""
    return {"version": 1, **recorded, FACTS_KEY: facts}


def results_dir(config: str = CONFIG) -> Path:
    """The results directory named by an asv config file (relative to the file)."""
    from asv.config import Config

    return (Path(config).parent / Config.load(config).results_dir).resolve()


def asv_machine_name(requested: str | None = None) -> str:
    """The machine name asv saves results under for ``--machine requested`` (asv's rule in
    ``asv.machine``: the entry of that name, by default the host's, or the only entry there is,
    and that entry's own ``machine`` field)."""
    host = platform.node()
    name = requested or host
    try:
        machines = json.loads(machine_file().read_text())
    except (OSError, ValueError):
        return name
    machines = {k: v for k, v in machines.items() if k != "version"}
    entry = machines.get(name)
    if entry is None and len(machines) == 1 and name == host:
        entry = next(iter(machines.values()))
    if isinstance(entry, dict) and isinstance(entry.get("machine"), str):
        return entry["machine"]
    return name


def kept_facts(path: Path) -> dict | None:
    """The facts in a results machine.json, if it has them."""
    try:
        facts = json.loads(path.read_text()).get(FACTS_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    return facts if isinstance(facts, dict) else None


def restore_facts(path: Path, facts: dict) -> bool:
    """Put ``facts`` back into a machine.json that asv rewrote without them; whether it did."""
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict) or FACTS_KEY in recorded:
        return False
    write_json_atomically(path, with_facts(recorded, facts))
    return True


def ensure_machine(name: str | None) -> str:
    """asv's machine entry for ``name`` (default: the host name), made without questions."""
    from asv.machine import Machine

    host = platform.node()
    asv = [sys.executable, "-m", "asv", "machine", "--yes"]
    extra = ["--machine", name] if name and name != host else []
    subprocess.run(asv + extra, check=True, stdout=subprocess.DEVNULL)
    name = name or host
    path = machine_file()
    machines = complete_entry(json.loads(path.read_text()), name, Machine.get_defaults())
    write_json_atomically(path, machines)
    return name


def record_facts(name: str | None = None, config: str = CONFIG, run: dict | None = None) -> Path:
    """Write this machine's facts, and ``run``'s (how the last run measured), into
    ``<results_dir>/<name>/machine.json``; return its path."""
    import impls
    from impls.facts import machine_facts
    from impls.registry import cuda_available

    name = name or platform.node()
    impls.set_threads(impls.physical_cores())  # the benchmarks' default, so the facts show it
    facts = {**machine_facts(cuda=cuda_available()), **(run or {})}
    path = results_dir(config) / name / "machine.json"
    if path.exists():
        recorded = json.loads(path.read_text())
    else:  # before any asv run: asv's entry, as asv run will copy it
        known = json.loads(machine_file().read_text()) if machine_file().exists() else {}
        recorded = known.get(name, {"machine": name})
    write_json_atomically(path, with_facts(recorded, facts))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.machine", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--machine", help="machine name (default: asv's, the host name)")
    parser.add_argument("--config", default=CONFIG, help="asv config file (for results_dir)")
    args = parser.parse_args(argv)
    name = ensure_machine(args.machine)
    path = record_facts(name, args.config)
    print(f"asv machine {name!r} ready; ffbench facts in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
