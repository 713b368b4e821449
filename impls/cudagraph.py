"""`cudagraph-cuda`: the whole step captured once in a CUDA graph, then replayed by `step()`.

The step of `impls.torch_autograd` launches some 18-20 kernels (matrix products, activation,
cost, backward, update), each with a few microseconds of CPU-side launch cost: at the tutorial's
sizes the GPU mostly waits for launches. Here the constructor records one step into a
``torch.cuda.CUDAGraph`` and `step()` replays it with one launch. What differs from
`impls.torch_autograd`:
- the step is recorded, not run: warmed up first for a few steps on a side stream (as torch's
  CUDA-graph guide asks, so that lazy initialisation is not captured), then captured under
  ``torch.cuda.graph``; the weights are then put back to what they were before the warm-up;
- static buffers: x, y, w1 and w2 are tensors that never move (`set_weights` copies into them),
  the gradients live in the graph's private memory pool, and the loss is the captured step's own
  output tensor, which each replay overwrites; `loss()` reads it;
- the learning rate is baked into the graph: setting ``learning_rate`` captures again (set-up
  only; capturing synchronises the device);
- `step()` is ``graph.replay()``: no sync, no host copy, no Python-side maths.
CUDA only: a CUDA graph has no CPU counterpart.
"""

from __future__ import annotations

import torch

from impls.problem import Problem
from impls.torch_autograd import train_step  # the very step it records
from impls.torch_device import TorchTrainer

#: Eager steps on a side stream before capture (torch's guide uses a few).
WARMUP_STEPS = 3


class CudaGraphTrainer(TorchTrainer):
    def __init__(self, problem: Problem, device: str = "cuda") -> None:
        if device != "cuda":
            raise ValueError(f"device={device!r} is invalid for a CUDA graph: expected 'cuda'")
        super().__init__(problem, device)
        self.x, self.y, self.w1, self.w2 = self.tensors(problem.initial_arrays())
        self.w1.requires_grad_(True)
        self.w2.requires_grad_(True)
        self.capture()

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:  # baked into the graph: capture it again
        self._learning_rate = value
        if hasattr(self, "_graph"):  # not yet while Trainer.__init__ sets it
            self.capture()

    def _record_step(self) -> None:
        p = self.problem
        self._loss = train_step(
            self.x, self.y, self.w1, self.w2, self._learning_rate, p.loss, p.activation
        )

    def capture(self) -> None:
        """Warm up on a side stream, record one step into a new graph, restore the weights."""
        device = self.torch_device
        w1_before, w2_before = self.w1.detach().clone(), self.w2.detach().clone()
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                self._record_step()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._record_step()  # recorded, not run: self._loss is now the graph's output
        with torch.no_grad():
            self.w1.copy_(w1_before)
            self.w2.copy_(w2_before)
        self._graph = graph

    def step(self) -> None:
        # Forward, loss, backward and update: one replay of the captured step
        self._graph.replay()
        self.steps_taken += 1
