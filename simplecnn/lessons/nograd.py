"""Lesson 3: what torch.no_grad() saves — memory held by tensors and time, measured on a real evaluation."""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass

import torch
from torch import nn

IMAGES = 1000  # test images the lesson page evaluates each way
BATCH_SIZE = 128  # the tutorial's test_loader batch


@dataclass(frozen=True)
class GradModeCost:
    no_grad: bool
    seconds: float  # the whole evaluation
    peak_bytes: int  # the most tensor memory one batch held at once: activations + what autograd kept
    saved_bytes: int  # of which autograd kept for a backward pass that evaluation never runs
    images: int
    batch_size: int


def _nbytes(t: torch.Tensor) -> int:
    # The tensor's own bytes, not its storage's: a batch sliced from the test set shares the whole set's storage.
    return t.numel() * t.element_size()


class TensorMeter:
    """Counts, per batch, the tensors autograd saves (saved_tensors_hooks) and the layer inputs and outputs alive
    (forward hooks on a private copy of the model); the peak is their sum at the fullest moment."""

    def __init__(self, params: set[int]) -> None:
        self.params = params
        self.saved: dict[int, int] = {}
        self.peak = self.saved_peak = 0

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        ptr = t.data_ptr()
        if ptr not in self.params:  # weights exist anyway; only activations are the graph's cost
            self.saved[ptr] = _nbytes(t)
        return t

    def layer_done(self, _m: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        live = dict(self.saved)
        for t in (*inputs, output):
            live[t.data_ptr()] = _nbytes(t)
        self.peak = max(self.peak, sum(live.values()))
        self.saved_peak = max(self.saved_peak, sum(self.saved.values()))


def evaluation_cost(model: nn.Module, x: torch.Tensor, no_grad: bool, batch_size: int = BATCH_SIZE) -> GradModeCost:
    """The tutorial's evaluate() loop over `x` in batches, with or without torch.no_grad()."""
    model = copy.deepcopy(model).eval()
    meter = TensorMeter({p.data_ptr() for p in model.parameters()})
    for module in model.children():
        module.register_forward_hook(meter.layer_done)
    grad_mode = torch.no_grad() if no_grad else contextlib.nullcontext()
    start = time.perf_counter()
    with grad_mode, torch.autograd.graph.saved_tensors_hooks(meter.pack, lambda t: t):
        for part in x.split(batch_size):
            meter.saved.clear()
            output = model(part)
            del output  # the graph (and what it saved) goes with the output, as in the tutorial's loop
    seconds = time.perf_counter() - start
    return GradModeCost(no_grad, seconds, meter.peak, meter.saved_peak, len(x), batch_size)


def no_grad_costs(model: nn.Module, x: torch.Tensor, batch_size: int = BATCH_SIZE) -> tuple[GradModeCost, GradModeCost]:
    """(with gradients, with torch.no_grad()), measured one after the other on the same images."""
    return evaluation_cost(model, x, False, batch_size), evaluation_cost(model, x, True, batch_size)
