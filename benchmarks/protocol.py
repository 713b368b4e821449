"""How one point is measured in one benchmark process, and how a busy machine is noticed.

asv runs each point in `benchmarks.grids.ROUNDS` separate processes, spread across the run (asv
runs round R of every benchmark, then round R-1, ...), and pools their samples: its value is
the median of the blocks of every round, and its interval comes from them too. Inside one
process this module:

1. pins a one-thread point to one core (where the OS allows), so the scheduler cannot move it
   while it is timed; before each attempt it may move to another core that reads fast (step 4);
2. calibrates a block of consecutive calls to last >= `Protocol.block_seconds`;
3. times blocks for >= `Protocol.measure_seconds` (at least `min_blocks`), each sample being
   one block's seconds per call, as training runs them back to back;
4. checks the machine around that, two ways:
   - **CPU time**: /proc/stat's busy and steal time minus this process's own CPU time, over
     the wall time, is what other processes took, in cores; with the point's threads it must
     fit in the machine's cores (plus `oversubscription`). A one-thread point must also have
     had its core (its own CPU time >= `min_own_share` of the wall time);
   - **a reference workload** (numpy's step arithmetic on one thread, best of a few calls) on
     each core the point runs on, before and after: if any core was slower than the machine's
     best on that core by more than `slow_state`, the point may have run in the machine's slow
     state (measured here: a core slows to ~1.4-2.5x for a second or more, and everything on
     it moves with it). Before the point the harness waits, polling the reference, for up to
     `wait_seconds` until no core is slow (a one-thread point: until one of the machine's
     cores is not, and it moves there: `choose_core`); after it, a slow reading is the attempt disturbed
     (on several threads, once read again after `settle_seconds`: the point's own worker
     threads may still spin on its cores). A point whose first block is in its fast mode
     (`began_fast`) and ran between two readings clearly in the fast state (one before the
     point, one right after that block: `began_in_fast_state`) needs no reading after: its
     fast blocks are the fast state's whatever came later;
5. keeps the blocks of the machine's fast state: those within `fast_mode` of the fastest block
   (a step's arithmetic is deterministic, so its blocks are one mode unless the machine
   changed under them); blocks are timed until `min_blocks` of them are there (for at most
   `max_measure_seconds`), and fewer disturbs the attempt. A second suits a VM whose fast
   state comes in windows of 50 ms or more and holds 10-20% of the blocks (one 2-vCPU host, in
   back-to-back main jobs: 59 of 212 step measurements short of fast blocks with 0.3 s, 20
   with 1 s);
6. re-measures a disturbed attempt, after `pause_seconds`, for up to `max_attempts` attempts in
   all (not after a wait for the fast state that ran out), and keeps the first undisturbed one;
   if none is, it keeps the fastest and the point is **disturbed**. After `patience_points`
   points in a row found the machine slow before every attempt, however long they waited,
   points do not wait until one is not: a busy machine is reported, not waited on for
   minutes. A round whose point is already held by clean rounds (`flags.Pool.settled`) waits
   for the fast state and is measured again as every round is: disturbed on every attempt, it
   is set aside (step 8); clean, it confirms the point's earlier round (`round_disagreement`)
   and joins its pool;
7. compares the point's median with its earlier round in this run (`round_disagreement`): more
   than `round_tolerance` slower is disturbed (measured again); more than that faster means the
   earlier round was slow, and this round measures on until it holds more than three times the
   earlier round's samples (`outweigh`: asv's pooled median and quartiles are then this
   round's), or the point is flagged if `outweigh_seconds` runs out first. A value made of
   step times (a paired ratio's two sides) is compared part by part instead, within
   `part_tolerance` (`parts_disagreement`): a slower side makes the round the slow one (which
   way the ratio moved does not say), unless the value itself held within `part_tolerance`
   (`value_held`: both sides slowed alike), a round that outweighs pools only its measurements whose
   parts agree with its own (`agreeing`), and too few fast-state blocks on a side disturb the
   round, as they do a step point's;
8. settles what the round gives asv's pool (`pool_round`): one clean round is enough for a
   point, so a disturbed round beside clean ones gives one sample and is set aside, and a clean
   round after a disturbed one outweighs it the same way; a point is disturbed only when the
   rounds that decide its pooled value are.

The best reference per core is the machine's, kept across runs beside the flags
(`flags.best_references`), so a run that starts in one of its slow periods is judged against
its quiet speed.

The statistic, pooled by asv over the rounds, is the median of the fast-state blocks. Measured
on the 2-vCPU VM: with nothing else running the machine itself flips, for seconds at a time,
between two states (numpy's tutorial step on one pinned thread: ~290 us and ~470-560 us, in
separate processes minutes apart; inside one asv round blocks of 304-322 us next to 587-700 us).
The median of all blocks follows whichever state dominated; the median of the fast mode does
not move unless a whole point ran in the slow state, and then the reference check flags it.
Flags go to a sidecar file beside asv's results (`flags.record`); asv's own files stay asv's.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import flags


@dataclass(frozen=True)
class Protocol:
    block_seconds: float = 0.01
    measure_seconds: float = 0.1
    min_blocks: int = 7
    max_blocks: int = 400
    max_attempts: int = 3
    pause_seconds: float = 0.1
    wait_seconds: float = 2.0
    poll_seconds: float = 0.02
    settle_seconds: float = 0.25
    patience_points: int = 3
    round_tolerance: float = 0.10
    part_tolerance: float = 0.05
    outweigh_seconds: float = 1.0
    slow_state: float = 1.25
    fast_reading: float = 1.12
    oversubscription: float = 0.25
    min_own_share: float = 0.9
    fast_mode: float = 0.10
    max_measure_seconds: float = 1.0
    gpu_warmup_seconds: float = 0.25


PROTOCOL = Protocol()


def usable_cpus() -> int:
    """Every CPU the machine has: /proc/stat counts them all, whatever this process is pinned to."""
    return os.cpu_count() or 1


#: The cores a pinned one-thread point may move between (`pin_one_core` records them).
_movable_cores: list[int] = []


def pin_one_core() -> int | None:
    """Pin this process to the last usable core (core 0 takes most interrupts); None where the
    OS has no affinity call. `measure` may move it to another of the cores it had
    (`choose_core`)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {allowed[-1]})
    _movable_cores[:] = allowed
    return allowed[-1]


def core_choice(threads: int) -> tuple[list[int | None], bool]:
    """(the cores a point may be measured on, whether it picks one of them): any core this
    process had before `pin_one_core` pinned it, for a pinned one-thread point; its own cores
    (`point_cores`), all of them busy, otherwise."""
    cores = point_cores()
    if threads == 1 and len(cores) == 1 and len(_movable_cores) > 1:
        return list(_movable_cores), True
    return cores, False


@dataclass(frozen=True)
class CpuClock:
    """A reading of the machine's and this process's CPU time (seconds) and the wall clock."""

    wall: float
    busy: float
    steal: float
    own: float

    @classmethod
    def now(cls) -> CpuClock:
        busy = steal = math.nan
        try:
            with Path("/proc/stat").open() as stat:
                fields = [int(v) for v in stat.readline().split()[1:]]
            hz = os.sysconf("SC_CLK_TCK")
            idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
            steal = (fields[7] if len(fields) > 7 else 0) / hz
            # guest time is already counted in user time
            busy = sum(fields[:8]) / hz - idle / hz - steal
        except (OSError, ValueError, IndexError):
            pass
        return cls(time.perf_counter(), busy, steal, time.process_time())


def others_cores(before: CpuClock, after: CpuClock) -> float:
    """Cores taken by other processes (and the hypervisor's steal) between two readings."""
    wall = after.wall - before.wall
    if wall <= 0 or math.isnan(before.busy):
        return 0.0
    others = (after.busy - before.busy) - (after.own - before.own)
    steal = after.steal - before.steal
    return max(0.0, others + steal) / wall


_REFERENCE = {}


def _reference_arrays() -> dict:
    """Fixed float32 arrays at the tutorial size (seeded), made once per process."""
    if "x" not in _REFERENCE:
        from threadpoolctl import ThreadpoolController

        rng = np.random.default_rng(0)
        _REFERENCE.update(
            x=rng.standard_normal((64, 1000)).astype(np.float32),
            w1=(rng.standard_normal((1000, 100)) / np.sqrt(1000)).astype(np.float32),
            w2=(rng.standard_normal((100, 10)) / 10).astype(np.float32),
            y=rng.standard_normal((64, 10)).astype(np.float32),
            blas=ThreadpoolController().select(user_api="blas"),
        )
    return _REFERENCE


def reference_step(r: dict) -> None:
    """The tutorial's forward and backward pass in numpy on fixed weights (no update, so every
    call is the same arithmetic on the same finite values)."""
    x, w1, w2, y = r["x"], r["w1"], r["w2"], r["y"]
    h = x @ w1
    h_relu = np.maximum(h, 0)
    y_pred = h_relu @ w2
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h = grad_y_pred @ w2.T
    grad_h[h < 0] = 0
    grad_w1 = x.T @ grad_h
    r["sink"] = (grad_w1, grad_w2)


def reference_seconds(calls: int = 10) -> float:
    """Best time of the reference workload on one BLAS thread (~0.25 ms here), wherever this
    thread runs.

    The workload is the numpy step's own arithmetic at the tutorial size, so the machine's slow
    state slows it as it slows the points (a 256^3 GEMM, tried first, stayed fast while steps
    ran 1.5x slow). One thread whatever the point's: on several threads the reference measured
    right after an all-core point mostly measured the point's worker threads still spinning
    (seen on a 16-core H200 host: 13-109x its best after the all-core CPU points)."""
    r = _reference_arrays()
    best = math.inf
    with r["blas"].limit(limits=1):
        for _ in range(calls):
            start = time.perf_counter()
            reference_step(r)
            best = min(best, time.perf_counter() - start)
    return best


def point_cores() -> list[int | None]:
    """The cores this process may run on: the pinned one for a one-thread point, every core
    otherwise; ``[None]`` where the OS has no affinity call."""
    if not hasattr(os, "sched_getaffinity"):
        return [None]
    return sorted(os.sched_getaffinity(0))


def reference_by_core(cores: list[int | None], calls: int = 10) -> dict[int | None, float]:
    """`reference_seconds` on each of ``cores`` in turn, this thread pinned there (its affinity
    put back after).

    Per core because the machine slows down one core at a time: measured on the 2-vCPU VM, a
    two-thread point ran 1.3-1.8x slow while the reference read 1.5-1.7x its best on one core
    and 1.03x on the other; a reference free to run on either core ran on the fast one."""
    if cores == [None]:
        return {None: reference_seconds(calls)}
    before = os.sched_getaffinity(0)
    readings = {}
    try:
        for core in cores:
            os.sched_setaffinity(0, {core})
            readings[core] = reference_seconds(calls)
    finally:
        os.sched_setaffinity(0, before)
    return readings


def slowness_by_core(readings: dict[int | None, float]) -> dict[int | None, float]:
    """How slow each core ran the reference against the machine's best on that core
    (`flags.best_references`, these readings included, with one read of the state): 1.0 at
    its best."""
    keys = {core: "best" if core is None else f"core{core}" for core in readings}
    bests = flags.best_references({keys[core]: s for core, s in readings.items()})
    return {core: seconds / bests[keys[core]] for core, seconds in readings.items()}


def slowness(readings: dict[int | None, float]) -> float:
    """How slow the slowest core ran the reference (`slowness_by_core`): 1.0 when every core is
    at its best."""
    return max(slowness_by_core(readings).values())


def calibrate_reference(calls: int = 50) -> None:
    """Read the reference on every core before any point runs (`flags.best_references` keeps the
    machine's best), so that the first points of a new machine are judged against its fast
    state too."""
    slowness(reference_by_core(point_cores(), calls))


def warm_up(call: Callable[[], None], seconds: float) -> None:
    """Run ``call`` for ``seconds``: a GPU idles at a low clock (345 MHz on the H200 checked)
    and takes a while under load to reach its boost clock; a block timed before that is slow."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        call()


def calibrate(call: Callable[[], None], block_seconds: float) -> int:
    """Calls per block so that one block lasts >= ``block_seconds``."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            call()
        elapsed = time.perf_counter() - start
        if elapsed >= block_seconds or number >= 1_000_000:
            return number
        number = max(number + 1, math.ceil(number * block_seconds / max(elapsed, 1e-9) * 1.1))


def blocked_times(call: Callable[[], None], number: int, protocol: Protocol) -> list[float]:
    """Seconds per call of consecutive blocks of ``number`` calls: for `measure_seconds` and at
    least `min_blocks`, then on until `min_blocks` of them are in the fast state (within
    `fast_mode` of the fastest), for at most `max_measure_seconds`. A process that the machine
    slowed for part of its blocks so measures a few more instead of being re-run."""
    samples: list[float] = []
    began = time.perf_counter()
    while len(samples) < protocol.max_blocks:
        start = time.perf_counter()
        for _ in range(number):
            call()
        end = time.perf_counter()
        samples.append((end - start) / number)
        if len(samples) == 1:
            first_block_timed()
            end = time.perf_counter()
        if end - began >= protocol.max_measure_seconds:
            break
        if len(samples) < protocol.min_blocks or end - began < protocol.measure_seconds:
            continue
        if len(fast_blocks(samples, protocol.fast_mode)) >= protocol.min_blocks:
            break
    return samples


@dataclass
class Attempt:
    samples: list[float]
    others: float
    slow: float
    why: str
    outweighed: float | None = None  # the earlier round's median over this one's, if outweighed
    earlier_slow: bool = False  # faster than the point's earlier round by `round_tolerance`
    parts: dict[str, float] | None = None  # what the value is made of (`measure`'s ``parts``)

    @property
    def disturbed(self) -> bool:
        return bool(self.why)


def own_share(before: CpuClock, after: CpuClock) -> float:
    """This process's CPU time over the wall time between two readings (1.0: one core, busy)."""
    wall = after.wall - before.wall
    return (after.own - before.own) / wall if wall > 0 else 1.0


def judge(
    others: float,
    threads: int,
    cpus: int,
    slow: float,
    protocol: Protocol,
    share: float = 1.0,
) -> str:
    """Why an attempt is disturbed ('' when it is not). ``share`` (this process's CPU time over
    wall time) is judged for one-thread points only: below `min_own_share`, the point waited
    for its core while others ran."""
    reasons = []
    if threads == 1 and share < protocol.min_own_share:
        reasons.append(f"the point had its core {share:.0%} of the time")
    if others + threads > cpus + protocol.oversubscription:
        reasons.append(f"other processes took {others:.2f} of {cpus} cores beside {threads}")
    if slow > protocol.slow_state:
        reasons.append(f"the reference ran {slow:.2f}x this machine's best (slow state)")
    return "; ".join(reasons)


def kept_samples(raw: list[float], keep_fast: bool, protocol: Protocol) -> list[float]:
    """The samples a point keeps: its fast-state blocks (`fast_blocks`) where ``keep_fast``,
    else all (paired ratios choose their blocks themselves)."""
    return fast_blocks(raw, protocol.fast_mode) if keep_fast and raw else raw


def fast_blocks(samples: list[float], tolerance: float) -> list[float]:
    """The blocks within ``tolerance`` of the fastest: the machine's fast state (see the module
    docstring); the others ran while it was slowed down."""
    fastest = min(samples)
    return [s for s in samples if s <= fastest * (1 + tolerance)]


def began_fast(raw: list[float], protocol: Protocol) -> bool:
    """Whether the first of ``raw``'s blocks is in their fast mode (`fast_blocks`).

    Measured right after a reading that found its core(s) fast, the first block ran in the
    fast state; in the fast mode with it, the fastest blocks are the fast state's and not a
    slow state's best. On a VM whose slow state comes and goes within a tenth of a second
    (measured on one 2-vCPU host: per-core states of 50 ms to a few seconds, the slow one 1.35x
    and most of the time), a reading after the point finds it slow whatever the blocks did."""
    return bool(raw) and raw[0] <= min(raw) * (1 + protocol.fast_mode)


@dataclass
class FirstBlock:
    """The reference on a measurement's cores, read once right after its first kept block
    (`first_block_timed`): with the reading before it, it brackets that block."""

    cores: list[int | None]
    slowness: float | None = None


#: The measurement `measure` is taking, for `first_block_timed`; None outside it.
_first_block: FirstBlock | None = None


def first_block_timed() -> None:
    """Read the reference on the measured point's cores, once per measurement: measurement
    loops call it right after their first kept block (a no-op outside `measure`)."""
    bracket = _first_block
    if bracket is not None and bracket.slowness is None:
        bracket.slowness = slowness(reference_by_core(bracket.cores))


def began_in_fast_state(before: float, after_first: float | None, protocol: Protocol) -> bool:
    """Whether the readings around a measurement's first block (``after_first`` None where its
    loop took none) are all clearly in the fast state, within `fast_reading` of the machine's
    best.

    Clearly, not merely under `slow_state`: measured on one 2-vCPU host (AMD EPYC, family 25),
    readings in the fast state were 1.03-1.10x the best and in the slow one 1.35-1.6x; a
    reading between them is a best of ten calls that straddled a change. And around the block,
    not only before it: with fast windows as short as 50 ms, the state changed between a
    1.04x reading and the first block, and a point ran its whole second 1.24x slow, every
    block in one mode, its first among them (numpy at 64x1000x100x10: 526 us in one main job,
    424 us in the next)."""
    readings = [before] if after_first is None else [before, after_first]
    return max(readings) <= protocol.fast_reading


def measure(
    measure_once: Callable[[], list[float]],
    threads: int,
    benchmark: str,
    label: str,
    protocol: Protocol = PROTOCOL,
    keep_fast: bool = True,
    parts: Callable[[], dict[str, float]] | None = None,
    short: Callable[[], str] | None = None,
    fast_start: Callable[[], bool] | None = None,
) -> list[float]:
    """Samples of ``measure_once`` taken on an undisturbed machine where possible (see the
    module docstring), with the outcome recorded by `flags.record`. ``threads``: the CPU threads
    the point keeps busy (`benchmarks.points.busy_threads`). ``parts``, read after each
    ``measure_once``: the step times its value is made of (a paired ratio's two sides), each
    compared with the point's earlier round (`parts_disagreement`). ``short``, read likewise:
    why that measurement's fast-state blocks are too few to judge ('' when they are not), for
    values that choose their blocks themselves (``keep_fast`` false); ``fast_start``, read likewise,
    says for those whether its blocks began in the fast state, as `began_fast` does for the
    others."""
    cpus = usable_cpus()
    choice, choose = core_choice(threads)
    # A machine that stayed slow for the last few points is busy, not passing through a slow
    # moment: measure at once and flag, instead of waiting on every point.
    patient = flags.slow_streak() < protocol.patience_points
    pool = flags.earlier_rounds(benchmark, label)
    attempts: list[Attempt] = []
    began = time.perf_counter()
    waited = 0.0  # seconds spent waiting for the fast state, for the run's summary
    slow_before = []  # whether each attempt's wait for the fast state ran out
    outweighing = Stopwatch()  # seconds spent measuring on to outweigh an earlier round
    # Beside clean rounds that hold the point a disturbed round is set aside (`pool_round`),
    # but every round has every attempt: a second clean round is what confirms the first.
    # Measured on one 2-vCPU host whose slow state holds most of the time, in three pairs of
    # main jobs: points that rested on one clean round in both runs agreed within 10% at 65-78%
    # of them; points with two clean rounds in both runs at 91% (39 of 43).
    for _ in range(protocol.max_attempts):
        started = time.perf_counter()
        wait = protocol.wait_seconds if patient else 0.0
        before, cores = wait_for_fast(choice, protocol, wait, choose)
        waited += time.perf_counter() - started
        slow_before.append(before > protocol.slow_state)
        clock_before = CpuClock.now()
        raw, after_first = bracketed(measure_once, cores)
        clock_after = CpuClock.now()
        made_of = parts() if parts is not None else None
        started_fast = fast_start() if fast_start else keep_fast and began_fast(raw, protocol)
        if started_fast and began_in_fast_state(before, after_first, protocol):
            # Its first block ran between fast readings and is in the fast mode: the blocks
            # kept are the fast state's, and a slow state that came later slowed only blocks
            # set aside. No reading after is needed to tell.
            after = before if after_first is None else max(before, after_first)
        else:
            after = slowness(reference_by_core(cores))
        if after > protocol.slow_state and threads > 1:
            # An all-core point's worker threads spin on its cores for a while after its last
            # call (OpenMP's and OpenBLAS's wait policies): read again once they sleep. A
            # one-thread point has none: a second look would judge a later moment, not it.
            time.sleep(protocol.settle_seconds)
            after = slowness(reference_by_core(cores))
        slow = max(before, after)
        others = others_cores(clock_before, clock_after)
        share = own_share(clock_before, clock_after)
        why = judge(others, threads, cpus, slow, protocol, share)
        samples = kept_samples(raw, keep_fast, protocol)
        state = short() if short is not None else ""
        if keep_fast and raw and len(samples) < protocol.min_blocks:
            state = f"only {len(samples)} of {len(raw)} blocks ran in the fast state"
        if state:
            why = f"{why}; {state}" if why else state
        earlier_slow, outweighed = False, None
        # A value made of step times is judged by them: which way a ratio moved does not say
        # which round ran slow (`ran_faster`).
        if not why and made_of and pool.parts:
            why, earlier_slow = parts_disagreement(made_of, pool.parts, protocol)
            if why and value_held(samples, pool.median, protocol):
                why, earlier_slow = "", False
        elif not why and samples and pool.median is not None:
            why, earlier_slow = round_disagreement(float(np.median(samples)), pool.median, protocol)
        if earlier_slow:
            more = outweighing.timed(agreeing(measure_once, parts, made_of, protocol))
            raw = outweigh(raw, more, 3 * pool.size + 1, keep_fast, protocol)
            samples = kept_samples(raw, keep_fast, protocol)
            if len(samples) > 3 * pool.size:
                why, outweighed = "", pool.median / float(np.median(samples))
        attempts.append(Attempt(samples, others, slow, why, outweighed, earlier_slow, made_of))
        # Clean; or the wait for a fast state ran out; or the earlier round was the slow one.
        if not why or before > protocol.slow_state or earlier_slow:
            break
        time.sleep(protocol.pause_seconds)
    kept = next((a for a in attempts if not a.disturbed), None)
    if kept is None:
        kept = min(attempts, key=lambda a: float(np.median(a.samples)) if a.samples else math.inf)
    # Busy is a machine that no wait found fast: one found fast before every attempt and slow
    # after it flips between its states, and waiting for the fast one pays there.
    flags.note_slow(all(slow_before))
    more = outweighing.timed(agreeing(measure_once, parts, kept.parts, protocol))
    samples, pooled, after_round = pool_round(kept, pool, more, keep_fast, protocol)
    flags.note_rounds(benchmark, label, after_round)
    flags.record(
        benchmark,
        label,
        disturbed=kept.disturbed,
        attempts=len(attempts),
        others_cpu=kept.others,
        reference_ratio=kept.slow,
        median=float(np.median(kept.samples)) if kept.samples else None,
        why=kept.why,
        outweighed_earlier_round=kept.outweighed,
        waited_seconds=round(waited, 3),
        outweigh_seconds=round(outweighing.seconds, 3),
        seconds=round(time.perf_counter() - began, 3),
        **({"parts": kept.parts} if kept.parts else {}),
        **({pooled: True} if pooled else {}),
    )
    return samples


def bracketed(
    measure_once: Callable[[], list[float]], cores: list[int | None]
) -> tuple[list[float], float | None]:
    """``measure_once``'s blocks and the reading its loop took after its first kept block
    (`first_block_timed`; None where it took none)."""
    global _first_block
    _first_block = FirstBlock(cores)
    try:
        return measure_once(), _first_block.slowness
    finally:
        _first_block = None


#: `pool_round`'s outcomes, as the flags line names them (`reports.flags` reads them).
OVERRULES = "overrules_earlier_rounds"
SET_ASIDE = "set_aside"


def pool_round(
    kept: Attempt,
    pool: flags.Pool,
    measure_once: Callable[[], list[float]],
    keep_fast: bool,
    protocol: Protocol,
) -> tuple[list[float], str, flags.Pool]:
    """(the samples this round gives asv, `OVERRULES`, `SET_ASIDE` or '', the pool after it).

    A point is disturbed only where a disturbed round decides asv's pooled median and
    quartiles: one clean round of two is enough, as one round is enough in a run of one
    (measured on the 2-vCPU VM in noisy hours: of the points flagged in either of two
    back-to-back runs, all but 0-3 of 8-25 had one clean round). So:

    - a disturbed round after clean rounds that decide the pool (`flags.Pool.settled`) gives
      one sample, its median: **set aside**, it cannot move their median or quartiles, and
      the point stays clean;
    - a clean round after a disturbed one measures on until it holds more than three times
      every sample in the pool (`outweigh`, for at most `outweigh_seconds`): then it
      **overrules** the earlier rounds and the point is clean; if time runs out it stays
      disturbed. So does a clean round after an earlier one found slow (`round_disagreement`).

    A slow state only makes a step slower, so a round more than `round_tolerance` faster than
    the round that would hold the point, however it was judged, shows that round ran slow:
    a disturbed round faster than the clean ones is not set aside, and a clean round slower
    than an earlier disturbed one does not overrule it; the point stays disturbed. Measured on
    the 2-vCPU VM: a clean round read with the reference at 1.24x (the line is 1.25x) held an
    all-core point at 1.52x its time in the run before.

    A clean round that overrules a disturbed one has no clean round to be compared with: its
    point rests on that one round, as every point of a one-round run does."""
    samples = kept.samples
    median = float(np.median(samples)) if samples else math.inf
    earlier = pool.fastest if pool.fastest is not None else math.inf
    if kept.disturbed:
        faster = ran_faster(median, kept.parts, pool, protocol)
        fastest = min(median, earlier) if samples else pool.fastest
        if pool.settled and samples and not (kept.earlier_slow or faster):
            return [median], SET_ASIDE, replace(pool, size=pool.size + 1, fastest=fastest)
        size = pool.size + len(samples)
        return samples, "", replace(pool, size=size, disturbed=True, fastest=fastest)
    if pool.disturbed:
        slower = median > earlier * (1 + protocol.round_tolerance)
        if not slower:
            raw = outweigh(samples, measure_once, 3 * pool.size + 1, keep_fast, protocol)
            samples = kept_samples(raw, keep_fast, protocol)
            median = float(np.median(samples))
        if slower or len(samples) <= 3 * pool.size:
            size = pool.size + len(samples)
            fastest = min(median, earlier)
            clean = pool.clean + len(samples)
            return samples, "", flags.Pool(median, clean, size, True, fastest, kept.parts)
    size = pool.size + len(samples)
    fastest = min(median, earlier)
    if pool.disturbed or kept.outweighed is not None:
        return (
            samples,
            OVERRULES,
            flags.Pool(median, len(samples), size, False, fastest, kept.parts),
        )
    clean = pool.clean + len(samples)
    return samples, "", flags.Pool(median, clean, size, False, fastest, kept.parts)


def ran_faster(
    median: float, parts: dict[str, float] | None, pool: flags.Pool, protocol: Protocol
) -> bool:
    """Whether a round ran more than `round_tolerance` faster than the clean round that holds
    its point, which shows that one ran slow: its median, or, for a value made of step times
    (``parts``, a paired ratio's two sides), any of them. A lower ratio alone says nothing of
    which round ran slow: a slow state that slows numpy's side more lowers it, and such a
    round beside a clean one is set aside like any other."""
    if parts and pool.parts:
        return any(
            value * (1 + protocol.round_tolerance) < pool.parts[name]
            for name, value in parts.items()
            if pool.parts.get(name)
        )
    return pool.median is not None and median * (1 + protocol.round_tolerance) < pool.median


def round_disagreement(
    median: float, earlier: float | None, protocol: Protocol
) -> tuple[str, bool]:
    """(why, the earlier round was the slow one) when this round's median and the point's
    earlier round in this run differ by more than `round_tolerance`; ("", False) otherwise.

    The last check of a point: a slow state mild enough to pass the reference (which moves less
    than some points: measured here, points 15-30% slow for a minute while the reference read
    1.1x) still shows as two rounds that disagree. A slower round is measured again; a faster
    one means the earlier round was slow, which cannot be redone (see `outweigh`)."""
    if not earlier:
        return "", False
    ratio = median / earlier
    if ratio > 1 + protocol.round_tolerance:
        return f"this round ran {ratio:.2f}x the point's earlier round", False
    if ratio * (1 + protocol.round_tolerance) < 1:
        return f"the point's earlier round ran {1 / ratio:.2f}x this one", True
    return "", False


def parts_disagreement(
    parts: dict[str, float], earlier: dict[str, float], protocol: Protocol
) -> tuple[str, bool]:
    """`round_disagreement` for each step time a value is made of: (why, the earlier round was
    the slow one) when one of them differs from the point's earlier round by more than
    `part_tolerance`; ("", False) otherwise. A slower part makes this round the disturbed one,
    even beside a faster one.

    For a paired ratio: the machine's mild slow states (under the reference's line) do not slow
    both sides alike, so they move the ratio that pairing was to hold still. Measured on the
    2-vCPU VM, custom-fn-cpu against numpy at 4x1000x100x10, one thread, in 0.3 s windows of
    one process: windows with numpy at 64-68 us (its best) read custom-fn-cpu at 178-214 us and
    the ratio at 2.75-3.19; in back-to-back main jobs the paired ratio read 3.44 and 2.76 where
    the two runs' step times gave 2.86 and 2.79. Each side's own time shows which round ran
    slow; the ratio alone does not (a slower numpy lowers it)."""
    ratios = {name: parts[name] / earlier[name] for name in parts if earlier.get(name)}
    slower = {n: r for n, r in ratios.items() if r > 1 + protocol.part_tolerance}
    if slower:
        name, ratio = max(slower.items(), key=lambda item: item[1])
        return f"{name}'s side ran {ratio:.2f}x the point's earlier round", False
    faster = {n: r for n, r in ratios.items() if r * (1 + protocol.part_tolerance) < 1}
    if faster:
        name, ratio = min(faster.items(), key=lambda item: item[1])
        return f"the point's earlier round ran {name}'s side {1 / ratio:.2f}x this one", True
    return "", False


def value_held(samples: list[float], earlier: float | None, protocol: Protocol) -> bool:
    """Whether a value made of step times (a paired ratio) is within `part_tolerance` of the
    point's earlier round, however far its parts moved (`parts_disagreement`).

    A slow state that slowed both sides alike left the ratio where it was, which is what
    measuring the two side by side is for; the parts show a slow state that moved it. Judged
    by the parts alone, a later round that merely ran in another state than the earlier one is
    measured again or has to outweigh the whole pool, and that does not scale with the rounds:
    measured on one 2-vCPU host (AMD EPYC family 26), at three rounds a run 4 and 10 of 20
    paired points were left flagged (5 and 16 of their rounds for a side that moved past 5%),
    while every paired ratio left unflagged agreed with the other run within 5%."""
    if not samples or not earlier:
        return False
    ratio = float(np.median(samples)) / earlier
    return 1 / (1 + protocol.part_tolerance) <= ratio <= 1 + protocol.part_tolerance


class Stopwatch:
    """Seconds spent in the calls it wraps, summed."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def timed(self, call: Callable[[], list[float]]) -> Callable[[], list[float]]:
        def timed_call() -> list[float]:
            start = time.perf_counter()
            try:
                return call()
            finally:
                self.seconds += time.perf_counter() - start

        return timed_call


def agreeing(
    measure_once: Callable[[], list[float]],
    parts: Callable[[], dict[str, float]] | None,
    made_of: dict[str, float] | None,
    protocol: Protocol,
) -> Callable[[], list[float]]:
    """``measure_once`` for more samples of a round whose value is made of ``made_of``: a
    measurement whose parts disagree with them (`parts_disagreement`) gives none.

    `outweigh` pools further measurements with a round judged by its first; a paired ratio's
    samples are each measurement's own fast-state blocks, so one taken in a mild slow state
    would enter the pool unseen. Measured on the 2-vCPU VM: torch-cpu's paired ratio at batch 4
    read 1.27 in the first measurement of a round that outweighed a slow one (1.38), and the
    run stored 1.42 once it had, where the calm pair before read 1.25 and 1.26."""
    if parts is None or not made_of:
        return measure_once

    def more() -> list[float]:
        samples = measure_once()
        return [] if parts_disagreement(parts(), made_of, protocol)[0] else samples

    return more


def outweigh(
    raw: list[float],
    measure_once: Callable[[], list[float]],
    needed: int,
    keep_fast: bool,
    protocol: Protocol,
) -> list[float]:
    """``raw`` and more of this round's samples, until ``needed`` of them are kept (fast-state
    blocks where ``keep_fast``), for at most `outweigh_seconds`.

    asv pools a point's samples over its rounds and reports their median and quartiles. When an
    earlier round ran in a slow state that only `round_disagreement` caught, it cannot be
    redone; a round that keeps more than three times as many samples makes up more than three
    quarters of the pool, so the point's median and both quartiles are its own."""
    deadline = time.perf_counter() + protocol.outweigh_seconds
    while time.perf_counter() < deadline and len(kept_samples(raw, keep_fast, protocol)) < needed:
        raw = raw + measure_once()
    return raw


def wait_for_fast(
    cores: list[int | None], protocol: Protocol, seconds: float, choose: bool = False
) -> tuple[float, list[int | None]]:
    """Read the reference on ``cores`` every `poll_seconds` until none is slow (`slow_state`), for
    at most ``seconds``; the last reading's `slowness` and the cores the point runs on. With
    ``choose``, ``cores`` are those a one-thread point may take (`core_choice`): it waits until
    one of them is fast and moves there (`choose_core`). The VM's slow moments last a second or
    more and come in clusters with fast windows between them (measured here: runs of points
    1.5-2.5x slow for ~20 s, with single points at 1.05-1.1x among them): a point started in
    such a window is measured clean. On another host of the same VM type the fast windows were
    as short as 50 ms, one core at a time: `poll_seconds` is short enough not to miss them (a
    reading takes ~4 ms a core)."""
    deadline = time.perf_counter() + seconds
    while True:
        readings = reference_by_core(cores)
        if choose:
            slow, chosen = choose_core(readings)
        else:
            slow, chosen = slowness(readings), cores
        if slow <= protocol.slow_state or time.perf_counter() >= deadline:
            return slow, chosen
        time.sleep(protocol.poll_seconds)


def choose_core(readings: dict[int | None, float]) -> tuple[float, list[int | None]]:
    """Move this thread to the core whose reading ran nearest its best; (its `slowness`, [it]).

    The VM slows one core at a time and each on its own (measured on one 2-vCPU host: the
    correlation of the two cores' 100 ms medians of numpy's step was -0.22, each fast 10-40%
    of the time), so a one-thread point free to take either core finds one fast more often
    than it finds its own. One thread moves alone: a one-thread point's BLAS and torch work
    runs on it."""
    by_core = slowness_by_core(readings)
    core = min(by_core, key=by_core.__getitem__)
    if core is not None:
        os.sched_setaffinity(0, {core})
    return by_core[core], [core]


def timing_result(samples: list[float], number: int) -> dict:
    """What asv takes as a timing result from any benchmark: it computes the median and the
    interval from these samples and pools them across rounds."""
    return {"samples": samples, "number": number}
