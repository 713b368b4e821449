"""The training step in steady state, at every point of the grid asv sees (`benchmarks.grids`).

Each class takes one parameter, the point label (`impls.point`), and lists only the points where
its measurement is taken:

- ``Step.track_time``: wall seconds per step (synchronised on CUDA inside every timed call),
  measured by `benchmarks.protocol` in `grids.ROUNDS` processes spread across the run; asv
  takes the returned blocks as timing samples and reports their median and interval;
- ``Memory.peakmem_step`` (CPU): the process's peak resident memory through a step;
- ``Device.track_device_time`` (CUDA): the step's device time from CUDA events (median of
  `DEVICE_TIME_STEPS`), and ``Device.track_gpu_peak_memory``: torch's peak bytes through a step.

Set-up (in asv's ``setup``, never timed): the learning rate comes from the one shared
``setup_cache``; the trainer is made, warmed up and put back to its initial weights. After the
measurement ``teardown`` checks the loss and weights, so NaN arithmetic fails the point (asv
"failed") instead of being reported as a time.
"""

from __future__ import annotations

import statistics
from typing import ClassVar

from . import common, grids, protocol
from .points import GRID, CountedStepBenchmark, StepBenchmark, busy_threads, without_empty

#: CUDA-event-timed steps per `track_device_time` value (their median).
DEVICE_TIME_STEPS = 25


class Step(StepBenchmark):
    version = "4"
    params: ClassVar[list] = [GRID.labels(grids.TIME)]

    def track_time(self, rates, label):
        trainer = self.trainer

        def call():
            trainer.step()
            trainer.sync()

        if grids.device_of(self.point.impl) == "cuda":
            protocol.warm_up(call, protocol.PROTOCOL.gpu_warmup_seconds)
        number = protocol.calibrate(call, protocol.PROTOCOL.block_seconds)

        def measure_once():
            return protocol.blocked_times(call, number, protocol.PROTOCOL)

        samples = protocol.measure(measure_once, busy_threads(self.point),
                                   "bench_step.Step.track_time", label)  # fmt: skip
        return protocol.timing_result(samples, number)

    track_time.unit = "seconds"


class Memory(CountedStepBenchmark):
    version = "2"
    params: ClassVar[list] = [GRID.labels(grids.PEAKMEM)]

    def peakmem_step(self, rates, label):
        self.trainer.step()
        self.trainer.sync()


class Device(CountedStepBenchmark):
    version = "2"
    params: ClassVar[list] = [GRID.labels(grids.DEVICE_TIME)]

    def track_device_time(self, rates, label):
        torch = common.torch
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        seconds = []
        trainer = self.trainer
        # Synchronised, so the warm-up is 0.25 s of GPU work, not a queue of steps still to run.
        protocol.warm_up(lambda: (trainer.step(), trainer.sync()),
                         protocol.PROTOCOL.gpu_warmup_seconds)  # fmt: skip
        for _ in range(DEVICE_TIME_STEPS):
            common.restore(self.trainer, self.point.problem)
            start.record()
            self.trainer.step()
            end.record()
            end.synchronize()
            seconds.append(start.elapsed_time(end) / 1e3)
        return statistics.median(seconds)

    track_device_time.unit = "seconds"


class DeviceMemory(CountedStepBenchmark):
    version = "2"
    params: ClassVar[list] = [GRID.labels(grids.GPU_MEMORY)]

    def track_gpu_peak_memory(self, rates, label):
        torch = common.torch
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        self.trainer.step()
        self.trainer.sync()
        return torch.cuda.max_memory_allocated()

    track_gpu_peak_memory.unit = "bytes"


without_empty(globals(), "Step", "Memory", "Device", "DeviceMemory")
