"""Adam and the LR schedules the engine uses, without torch.optim on the CPU/CUDA path.

Why: torch.optim's Optimizer.add_param_group is wrapped in torch._disable_dynamo, whose first call imports
torch._dynamo (about 1 s of a 2-core machine's start-up, 4 s under load) for a run that never compiles anything.
`FusedAdam` calls the same fused kernel torch.optim.Adam(fused=True) calls (aten::_fused_adam_), with the same
state and step counting, so the update is the same; the schedules reproduce StepLR and OneCycleLR's formulas
(cosine annealing, div_factor 25, final_div_factor 1e4, Adam beta1 cycled 0.95 → 0.85 → 0.95).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any, Protocol

import torch


class Optimizer(Protocol):
    """What the training loop needs of an optimizer (FusedAdam, or torch.optim.Adam elsewhere)."""

    param_groups: list[dict[str, Any]]

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def step(self) -> Any: ...


class FusedAdam:
    """torch.optim.Adam(fused=True) for one parameter group, calling its fused kernel directly."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.param_groups: list[dict[str, Any]] = [{"lr": lr, "betas": betas, "weight_decay": weight_decay, "eps": eps}]
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        # float32 step counters on the parameters' device, as torch's fused Adam keeps them.
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        grads: list[torch.Tensor] = []
        for p in self.params:
            if p.grad is None:
                raise RuntimeError("FusedAdam.step() needs a gradient for every parameter; call backward() first")
            grads.append(p.grad)
        torch._foreach_add_(self.steps, 1)
        beta1, beta2 = group["betas"]
        torch._fused_adam_(
            list(self.params),
            grads,
            self.exp_avgs,
            self.exp_avg_sqs,
            [],
            self.steps,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            weight_decay=float(group["weight_decay"]),
            eps=float(group["eps"]),
            amsgrad=False,
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )


def adam(params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, device: torch.device) -> Optimizer:
    """FusedAdam where the fused kernel exists (CPU, CUDA); torch's foreach Adam elsewhere (MPS)."""
    if device.type in ("cpu", "cuda"):
        return FusedAdam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)


def _set(optimizer: Optimizer, lr: float, beta1: float | None = None) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
        if beta1 is not None:
            group["betas"] = (beta1, group["betas"][1])


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


def one_cycle_phase(phase: int, pct: float, max_lr: float) -> tuple[float, float]:
    """(LR, Adam beta1) at `pct` of phase 0 (warm-up) or 1 (anneal), as torch's OneCycleLR computes them."""
    initial = max_lr / 25
    if phase == 0:
        return _cos(initial, max_lr, pct), _cos(0.95, 0.85, pct)
    return _cos(max_lr, initial / 1e4, pct), _cos(0.85, 0.95, pct)


def one_cycle(fraction: float, max_lr: float, pct_start: float) -> tuple[float, float]:
    """(LR, beta1) at `fraction` of a one-cycle run (0 = start, 1 = end)."""
    if fraction < pct_start:
        return one_cycle_phase(0, fraction / pct_start, max_lr)
    return one_cycle_phase(1, min(1.0, (fraction - pct_start) / (1 - pct_start)), max_lr)


class StepDecay:
    """torch's StepLR: LR × gamma every `step_size` epochs (stepped once per epoch)."""

    per_batch = False

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float) -> None:
        self.optimizer, self.step_size, self.gamma, self.epochs = optimizer, step_size, gamma, 0

    def step(self) -> None:
        self.epochs += 1
        if self.epochs % self.step_size == 0:  # multiplied in place, as StepLR does (same rounding)
            _set(self.optimizer, self.optimizer.param_groups[0]["lr"] * self.gamma)


class StepOneCycle:
    """torch's OneCycleLR over `total_steps` batches (stepped once per batch), momentum cycled."""

    per_batch = True

    def __init__(self, optimizer: Optimizer, max_lr: float, total_steps: int, pct_start: float) -> None:
        self.optimizer, self.max_lr, self.total = optimizer, max_lr, total_steps
        self.warm_end = float(pct_start * total_steps) - 1
        self.steps = 0
        _set(optimizer, *one_cycle_phase(0, 0.0, max_lr))

    def step(self) -> None:
        self.steps += 1
        if self.steps <= self.warm_end:
            lr_beta = one_cycle_phase(0, self.steps / self.warm_end, self.max_lr)
        else:
            lr_beta = one_cycle_phase(1, (self.steps - self.warm_end) / (self.total - 1 - self.warm_end), self.max_lr)
        _set(self.optimizer, *lr_beta)


class ClockOneCycle:
    """One-cycle over wall-clock time, not steps: the run's fraction done is the fraction of its training time
    used, so a budget run ends on time with its LR annealed even when the machine slows down mid-run."""

    per_batch = True

    def __init__(self, optimizer: Optimizer, max_lr: float, pct_start: float) -> None:
        self.optimizer, self.max_lr, self.pct_start = optimizer, max_lr, pct_start
        self.start, self.end = time.perf_counter(), math.inf
        _set(optimizer, *one_cycle(0.0, max_lr, pct_start))

    def plan(self, start: float, end: float) -> None:
        """Train from `start` to `end` (perf_counter seconds)."""
        self.start, self.end = start, end
        _set(self.optimizer, *one_cycle(0.0, self.max_lr, self.pct_start))

    def fraction(self) -> float:
        return min(1.0, (time.perf_counter() - self.start) / max(self.end - self.start, 1e-9))

    def planned_steps(self, steps_done: int) -> int:
        """Steps the whole run will take at the pace so far (a progress bar's total)."""
        return max(steps_done, round(steps_done / max(self.fraction(), 1e-9)))

    def step(self) -> None:
        _set(self.optimizer, *one_cycle(self.fraction(), self.max_lr, self.pct_start))
