"""The optimizer and learning-rate schedules, as the tutorial writes them: torch.optim's Adam, StepLR and
OneCycleLR; plus a one-cycle that follows the wall clock for time-budgeted runs.

`Adam(fused=True)` is torch's single-kernel update on the CPU and on CUDA. Its first construction in a process
imports torch's compiler stack once (seconds; docs/performance.md): the server pays it in its warm-up and the
CLI before a budget run's clock starts (`warm_up_optimizer`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch.optim import Adam, Optimizer
from torch.optim.lr_scheduler import LRScheduler, OneCycleLR, StepLR

from simplecnn.training.config import Schedule, TrainConfig


def adam(params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, device: torch.device) -> Adam:
    """torch.optim.Adam, fused where torch has the fused kernel (CPU, CUDA), foreach elsewhere (MPS)."""
    fused = device.type in ("cpu", "cuda")
    return Adam(params, lr=lr, weight_decay=weight_decay, fused=fused, foreach=None if fused else True)


def warm_up_optimizer() -> None:
    """Build and step a fused Adam once, so the one-time imports it triggers are paid before a run's clock."""
    weight = torch.zeros(1, requires_grad=True)
    optimizer = Adam([weight], fused=True)
    weight.grad = torch.zeros(1)
    optimizer.step()


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


def one_cycle(fraction: float, max_lr: float, pct_start: float) -> tuple[float, float]:
    """(LR, Adam beta1) at `fraction` of a one-cycle run (0 = start, 1 = end), with OneCycleLR's defaults:
    cosine phases, div_factor 25, final_div_factor 1e4, beta1 cycled 0.95 → 0.85 → 0.95."""
    initial = max_lr / 25
    if fraction < pct_start:
        pct = fraction / pct_start
        return _cos(initial, max_lr, pct), _cos(0.95, 0.85, pct)
    pct = min(1.0, (fraction - pct_start) / (1 - pct_start))
    return _cos(max_lr, initial / 1e4, pct), _cos(0.85, 0.95, pct)


class ClockOneCycle:
    """One-cycle over wall-clock time, not steps: the run's fraction done is the fraction of its training time
    used, so a budget run ends on time with its LR annealed even when the machine slows down mid-run."""

    def __init__(self, optimizer: Optimizer, max_lr: float, pct_start: float) -> None:
        self.optimizer, self.max_lr, self.pct_start = optimizer, max_lr, pct_start
        self.start, self.end = time.perf_counter(), math.inf
        self._set(0.0)

    def plan(self, start: float, end: float) -> None:
        """Train from `start` to `end` (perf_counter seconds)."""
        self.start, self.end = start, end
        self._set(0.0)

    def fraction(self) -> float:
        return min(1.0, (time.perf_counter() - self.start) / max(self.end - self.start, 1e-9))

    def planned_steps(self, steps_done: int) -> int:
        """Steps the whole run will take at the pace so far (a progress bar's total)."""
        return max(steps_done, round(steps_done / max(self.fraction(), 1e-9)))

    def step(self) -> None:
        self._set(self.fraction())

    def _set(self, fraction: float) -> None:
        lr, beta1 = one_cycle(fraction, self.max_lr, self.pct_start)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
            group["betas"] = (beta1, group["betas"][1])


@dataclass
class LRSchedule:
    """The run's LR schedule and when the engine steps it: after every batch, or after every epoch."""

    scheduler: LRScheduler | ClockOneCycle
    per_batch: bool

    def step(self) -> None:
        self.scheduler.step()


def build_schedule(optimizer: Optimizer, config: TrainConfig, steps_per_epoch: int) -> LRSchedule:
    """Over the clock for a budget run, else OneCycleLR per batch or the tutorial's StepLR per epoch."""
    if config.budgeted:
        return LRSchedule(ClockOneCycle(optimizer, config.lr, config.pct_start), per_batch=True)
    if config.schedule == Schedule.ONECYCLE:
        total = config.epochs * steps_per_epoch
        return LRSchedule(OneCycleLR(optimizer, config.lr, total_steps=total, pct_start=config.pct_start), True)
    return LRSchedule(StepLR(optimizer, step_size=config.step_size, gamma=config.gamma), per_batch=False)
