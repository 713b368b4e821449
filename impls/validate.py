"""``python -m impls.validate [--device cuda|cpu|all]``: every implementation against the oracle.

What must pass before anything on a device is timed (``nox -s gpu`` runs it first with
``--device cuda``). For each available implementation on the device: both costs, both
activations and both dtypes at a small size, one step at the oracle's probing rate and 20 steps at
the default rate, one line per check. Exit status 0 when every check passed, 1 when any was wrong
or failed to run. With ``--device cuda`` where no CUDA device is visible it prints one line saying
so, and why, and exits with status 2: a check that cannot run must not pass.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import warnings
from dataclasses import replace

import impls
from impls.oracle import check, probing_lr
from impls.registry import entry

#: The checks' problem size: small, so that compiling implementations compile quickly (the same
#: sizes as tests/test_correctness.py, so one process can share compiled code between them).
SIZES = {"batch": 24, "d_in": 40, "hidden": 16, "d_out": 5}
COMBOS = list(itertools.product(["float32", "float64"], ["squared", "exp"], ["relu", "sigmoid"]))
TRAJECTORY_STEPS = 20


def no_cuda_reason() -> str | None:
    """Why no CUDA device is visible here (one line), or None when one is."""
    try:
        import torch
    except ImportError:
        return "no CUDA device is visible: torch is not installed"
    with warnings.catch_warnings(record=True) as caught:  # e.g. "Found no NVIDIA driver"
        warnings.simplefilter("always")
        visible = torch.cuda.is_available()
    if visible:
        return None
    if torch.version.cuda is None:
        why = f"this torch is a CPU build (torch {torch.__version__})"
    else:
        why = f"torch {torch.__version__} is built for CUDA {torch.version.cuda} but sees no device"
        if caught:
            why += f" ({str(caught[0].message).splitlines()[0]})"
    return f"no CUDA device is visible: {why}"


def machine_line(device: str) -> str:
    """One line of what the checks ran on: CPU, torch, and the GPU where CUDA is checked."""
    from impls.facts import cpu_facts, cuda_facts, torch_facts

    cpu, torch_ = cpu_facts(), torch_facts()
    line = (
        f"checking on {cpu['cpu_model']} ({cpu['physical_cores']} cores), torch"
        f" {torch_['torch_version']}, float32 matmul precision"
        f" {torch_['float32_matmul_precision']} (TF32 {'on' if torch_['tf32_matmul'] else 'off'})"
    )
    if device != "cpu" and no_cuda_reason() is None:
        gpu = cuda_facts()
        line += (
            f", {gpu['gpu_name']} (CUDA {gpu['cuda_runtime']}, driver {gpu.get('gpu_driver', '?')})"
        )
    return line


def names_on(device: str) -> list[str]:
    """Registered implementations on ``device`` ("cpu", "cuda" or "all"), in registry order."""
    return [n for n in impls.names() if device == "all" or entry(n).device == device]


def run_checks(name: str) -> list[tuple[bool, str]]:
    """(passed, line) for each check of one implementation; an exception is a failed check."""
    results = []
    for dtype, loss, activation in COMBOS:
        problem = impls.Problem(**SIZES, dtype=dtype, loss=loss, activation=activation)
        for steps in (1, TRAJECTORY_STEPS):
            probe = replace(problem, lr=probing_lr(problem)) if steps == 1 else problem
            try:
                result = check(name, probe, steps=steps)
            except Exception as error:  # noqa: BLE001 (any failure is a failed check; go on)
                first_line = (str(error).splitlines() or [""])[0]
                label = f"{steps} step(s) ({dtype}, {loss}, {activation})"
                results.append(
                    (False, f"{name}: ERROR after {label}: {type(error).__name__}: {first_line}")
                )
                continue
            results.append((result.ok, str(result)))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m impls.validate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--device", default="all", choices=["cuda", "cpu", "all"])
    args = parser.parse_args(argv)

    if args.device == "cuda":
        reason = no_cuda_reason()
        if reason is not None:
            print(reason, file=sys.stderr)
            return 2
    print(machine_line(args.device), flush=True)
    failed = passed = 0
    for name in names_on(args.device):
        reason = impls.unavailable_reason(name)
        if reason is not None:
            print(f"{name}: skipped: {reason}", flush=True)
            continue
        for ok, line in run_checks(name):
            print(line, flush=True)
            passed += ok
            failed += not ok
    total = passed + failed
    if total == 0:
        print(f"no implementation could run on device {args.device!r}: nothing was checked")
        return 1
    if failed:
        print(f"{failed} of {total} checks WRONG or failed on device {args.device!r}")
        return 1
    print(f"all {total} checks passed on device {args.device!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
