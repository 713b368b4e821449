"""What is timed, named: a point (implementation, problem, threads) and its label codec.

Benchmarks take one parameter, a point's label; reports turn labels back into columns with the
same codec, so neither side parses the other's class names. A label is readable and stable: its
meaning is fixed by its text alone (every field is spelled out, nothing depends on a grid or a
default), so a label recorded years ago still decodes to the same point.

Labels, by what they name:

- a training step: ``IMPL/BATCHxD_INxHIDDENxD_OUT/DTYPE/LOSS-ACTIVATION/THREADSt``, e.g.
  ``numpy/64x1000x100x10/float32/squared-relu/1t``; the problem is always ``init="scaled"``,
  seed 0, with the searched default learning rate (`impls.learning_rate`);
- a matrix-multiply ceiling: ``DEVICE/DTYPE/MxKxN[/THREADSt]``, e.g.
  ``cpu/float32/2048x2048x2048/1t`` (CPU ceilings name their thread count, CUDA ones do not);
- the launch floor: ``DEVICE``, e.g. ``cuda``.

`columns` decodes any of them to the tidy columns reports use; `step_label` and `gemm_label`
encode. A malformed label raises ValueError naming it and the forms allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from impls.problem import ACTIVATIONS, DTYPES, LOSSES, SIZE_FIELDS, Problem

DEVICES = ("cpu", "cuda")
#: Every column a label can decode to, in a fixed order.
COLUMNS = ("impl", *SIZE_FIELDS, "dtype", "loss", "activation", "threads", "device", "m", "k", "n")

_NAME = r"[a-z0-9][a-z0-9-]*"
_STEP = re.compile(
    rf"^(?P<impl>{_NAME})/(?P<batch>\d+)x(?P<d_in>\d+)x(?P<hidden>\d+)x(?P<d_out>\d+)"
    rf"/(?P<dtype>{'|'.join(DTYPES)})/(?P<loss>{'|'.join(LOSSES)})"
    rf"-(?P<activation>{'|'.join(ACTIVATIONS)})/(?P<threads>\d+)t$"
)
_GEMM = re.compile(
    rf"^(?P<device>{'|'.join(DEVICES)})/(?P<dtype>{'|'.join(DTYPES)})"
    r"/(?P<m>\d+)x(?P<k>\d+)x(?P<n>\d+)(?:/(?P<threads>\d+)t)?$"
)
_FLOOR = re.compile(rf"^(?P<device>{'|'.join(DEVICES)})$")
_INTS = ("batch", "d_in", "hidden", "d_out", "threads", "m", "k", "n")
FORMS = (
    "IMPL/BATCHxD_INxHIDDENxD_OUT/DTYPE/LOSS-ACTIVATION/THREADSt",
    "DEVICE/DTYPE/MxKxN[/THREADSt]",
    "DEVICE",
)


@dataclass(frozen=True)
class Point:
    """One timed training step: ``impl`` on ``problem`` with ``threads`` CPU threads."""

    impl: str
    problem: Problem
    threads: int

    @property
    def label(self) -> str:
        p = self.problem
        return (
            f"{self.impl}/{p.batch}x{p.d_in}x{p.hidden}x{p.d_out}/{p.dtype}"
            f"/{p.loss}-{p.activation}/{self.threads}t"
        )

    @classmethod
    def parse(cls, label: str) -> Point:
        """The point a step label names; ValueError if ``label`` is not a step label."""
        match = _STEP.match(label) if isinstance(label, str) else None
        if match is None:
            raise ValueError(f"point label {label!r} is invalid: expected {FORMS[0]}")
        f = match.groupdict()
        problem = Problem(
            batch=int(f["batch"]),
            d_in=int(f["d_in"]),
            hidden=int(f["hidden"]),
            d_out=int(f["d_out"]),
            dtype=f["dtype"],
            loss=f["loss"],
            activation=f["activation"],
        )
        threads = int(f["threads"])
        if threads < 1:
            raise ValueError(f"point label {label!r} is invalid: threads must be >= 1")
        return cls(f["impl"], problem, threads)


def step_label(impl: str, problem: Problem, threads: int) -> str:
    return Point(impl, problem, threads).label


def gemm_label(device: str, dtype: str, m: int, k: int, n: int, threads: int | None = None) -> str:
    suffix = "" if threads is None else f"/{threads}t"
    return f"{device}/{dtype}/{m}x{k}x{n}{suffix}"


def columns(label: str) -> dict[str, object]:
    """The columns a label names (those it does not name are absent); ValueError if malformed."""
    for pattern in (_STEP, _GEMM, _FLOOR):
        match = pattern.match(label) if isinstance(label, str) else None
        if match:
            fields = match.groupdict().items()
            return {k: int(v) if k in _INTS else v for k, v in fields if v is not None}
    raise ValueError(f"point label {label!r} is invalid: expected one of {', '.join(FORMS)}")
