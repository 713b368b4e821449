"""The problem spec: one frozen dataclass that every implementation, benchmark and report shares.

A `Problem` fixes everything that decides the arithmetic of a training step: the sizes (named as
in the tutorial: N -> ``batch``, D_in -> ``d_in``, H -> ``hidden``, D_out -> ``d_out``), the
dtype, the cost, the hidden activation, how the data and weights are drawn, the learning rate and
the seed. Two implementations given the same `Problem` start from the same arrays and must end a
step with the same weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from impls.memory import require_memory

DTYPES = ("float32", "float64")
LOSSES = ("squared", "exp")
ACTIVATIONS = ("relu", "sigmoid")
INITS = ("scaled", "seed")
SIZE_FIELDS = ("batch", "d_in", "hidden", "d_out")
#: The largest size per dimension: BLAS libraries take matrix dimensions as 32-bit ints.
MAX_SIZE = 2**31 - 1
#: The parameter names of every step benchmark, in order: read by benchmarks and reports alike.
STEP_PARAM_NAMES = ("impl", *SIZE_FIELDS, "dtype", "loss", "activation", "threads")

#: The tutorial's sizes and learning rate (N, D_in, H, D_out = 64, 1000, 100, 10; lr 1e-6).
TUTORIAL_SIZES = {"batch": 64, "d_in": 1000, "hidden": 100, "d_out": 10}
TUTORIAL_LR = 1e-6


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)


@dataclass(frozen=True)
class Problem:
    """One two-layer network training problem: y_pred = act(x @ w1) @ w2, plain SGD, no biases.

    ``init="seed"`` draws x, y, w1, w2 from a standard normal exactly as the tutorial does
    (``np.random.seed(seed)`` then ``randn`` in the order x, y, w1, w2) and defaults to its
    learning rate 1e-6. ``init="scaled"`` (the benchmarking default) draws standard normals
    too but scales w1 by 1/sqrt(d_in) and w2 by 1/sqrt(hidden) so that every activation stays
    O(1) at every size; its default learning rate is chosen by a deterministic search (see
    `impls.learning_rate`) that keeps the loss finite and falling. ``lr`` set explicitly wins.

    A plain value: nothing here trains or searches. `impls.learning_rate.rate_in_force` gives
    the rate a trainer will use (``impls.create`` calls it when ``lr`` is None).
    """

    batch: int = 64
    d_in: int = 1000
    hidden: int = 100
    d_out: int = 10
    dtype: str = "float32"
    loss: str = "squared"
    activation: str = "relu"
    init: str = "scaled"
    lr: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in SIZE_FIELDS:
            value = getattr(self, name)
            bad = isinstance(value, bool) or not isinstance(value, (int, np.integer))
            if bad or not 0 < value <= MAX_SIZE:
                raise ValueError(
                    f"Problem.{name}={value!r} is invalid: expected a positive int <= {MAX_SIZE} "
                    "(BLAS takes 32-bit sizes)"
                )
            object.__setattr__(self, name, int(value))
        for name, allowed in (
            ("dtype", DTYPES),
            ("loss", LOSSES),
            ("activation", ACTIVATIONS),
            ("init", INITS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(
                    f"Problem.{name}={value!r} is invalid: expected one of {_choices(allowed)}"
                )
        lr = self.lr
        if lr is not None:
            bad = isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating))
            if bad or not math.isfinite(lr) or lr <= 0:
                raise ValueError(
                    f"Problem.lr={lr!r} is invalid: expected a positive finite number or None"
                )
            object.__setattr__(self, "lr", float(lr))
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Problem.seed={seed!r} is invalid: expected an int >= 0")
        object.__setattr__(self, "seed", int(seed))

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def shapes(self) -> list[tuple[int, int]]:
        """The shapes of x, y, w1 and w2, in that order."""
        return [
            (self.batch, self.d_in),
            (self.batch, self.d_out),
            (self.d_in, self.hidden),
            (self.hidden, self.d_out),
        ]

    def array_bytes(self) -> int:
        """Peak bytes `initial_arrays` holds: what must be available before it is called.

        With E = batch*d_in + batch*d_out + d_in*hidden + hidden*d_out elements in x, y, w1, w2,
        the draws are made in float64 (8E bytes, all four alive at once) and then cast to
        ``dtype`` while the draws are still referenced: float32 adds 4E bytes of copies (12E in
        all), float64 casts without copying (8E). Scaling w1 and w2 is done in place. A trainer
        needs more on top (activations, gradients, device copies): this is a lower bound.
        """
        elements = sum(rows * cols for rows, cols in self.shapes())
        copies = 0 if self.np_dtype == np.float64 else self.np_dtype.itemsize
        return elements * (8 + copies)

    def initial_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Fresh x, y, w1, w2 as numpy arrays of ``self.dtype``, deterministic from ``seed``.

        The draws are made in float64 and then cast, so the float32 and float64 problems of one
        seed hold the same data up to rounding. ``init="seed"`` uses numpy's legacy generator,
        as the tutorial does; ``init="scaled"`` numpy's default generator. Raises
        `impls.memory.ProblemTooLarge` before allocating when `array_bytes` exceeds the available memory.
        """
        require_memory(self)
        shapes = self.shapes()
        if self.init == "seed":
            rng = np.random.RandomState(self.seed)  # the tutorial's np.random.seed + randn
            x, y, w1, w2 = (rng.randn(*shape) for shape in shapes)
        else:
            gen = np.random.default_rng(self.seed)  # several times faster at large sizes
            x, y, w1, w2 = (gen.standard_normal(shape) for shape in shapes)
            w1 *= 1.0 / math.sqrt(self.d_in)
            w2 *= 1.0 / math.sqrt(self.hidden)
        dt = self.np_dtype
        return tuple(a.astype(dt, copy=False) for a in (x, y, w1, w2))  # type: ignore[return-value]

    def sizes(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SIZE_FIELDS}

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
