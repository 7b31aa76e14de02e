"""Time-budgeted runs: as many training images as fit in `config.budget` seconds, evaluations included.

The one-cycle LR follows the wall clock (simplecnn.training.schedules.ClockOneCycle), and `BudgetPace` re-plans
where training must end after every batch, so the run ends on time even when the machine slows down mid-run.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from simplecnn.evaluate import predict_logits
from simplecnn.training.events import BudgetTooShort, RunStatus
from simplecnn.training.loop import (
    Position,
    RunOutcome,
    RunRecord,
    StepContext,
    endless_batches,
    finish_epoch,
    stopped_message,
    train_batches,
)
from simplecnn.training.schedules import ClockOneCycle

# A budget run sets aside this much per evaluation for writing best.pt (fsync included) on top of the
# evaluation's measured time, and needs at least MIN_TRAIN_SECONDS of training to be worth running.
SAVE_SECONDS = 0.1
MIN_TRAIN_SECONDS = 1.0
# An evaluation's time is measured on 256 images; on a heavily loaded machine that sample can read many times
# too slow, so the reserve is capped at this share of the budget (the run may then end late, never fail on noise).
MAX_EVAL_SHARE = 0.3


def time_evaluation(model: nn.Module, test_x: torch.Tensor, bf16: bool, sample: int = 256) -> float:
    """Seconds one evaluation of `test_x` will take, measured on a slice (after a first call that builds the
    inference kernels, so the real evaluation later finds them ready), with a 15% margin."""
    part = test_x[:sample]
    predict_logits(model, part, bf16=bf16)
    start = time.perf_counter()
    predict_logits(model, part, bf16=bf16)
    if part.device.type == "cuda":
        torch.cuda.synchronize(part.device)  # kernels run asynchronously: wait for them before reading the clock
    return (time.perf_counter() - start) * len(test_x) / max(len(part), 1) * 1.15


@dataclass
class BudgetPace:
    """Keeps a budget run's training end where the evaluations still left fit before the deadline, re-planned
    after every batch from the pace: when batches get slower than they were once warm (the machine got busy),
    the evaluations will be slower too, so training ends earlier and the one-cycle (which follows the clock)
    anneals sooner; a faster machine gets the time back."""

    clock: ClockOneCycle
    deadline: float
    eval_seconds: float  # one evaluation, measured before training
    evaluations_left: int
    last: float = field(default_factory=time.perf_counter)
    batches: int = 0
    pace: float = 0.0  # smoothed seconds per batch
    warm_pace: float = 0.0  # the pace once the first kernels are built (batches 4-10)

    def reached(self, fraction: float) -> bool:
        """Called after every batch: update the plan, then say whether training has reached `fraction`."""
        now = time.perf_counter()
        seconds, self.last, self.batches = now - self.last, now, self.batches + 1
        if self.batches > 3:  # the first batches build kernels: not the pace
            self.pace = seconds if not self.pace else 0.9 * self.pace + 0.1 * seconds
            if self.batches == 10:
                self.warm_pace = self.pace
        slowdown = min(10.0, max(0.5, self.pace / self.warm_pace)) if self.warm_pace else 1.0
        self.clock.end = max(now, self.deadline - self.evaluations_left * self.eval_seconds * slowdown)
        return self.clock.fraction() >= fraction


def run_budget(ctx: StepContext, record: RunRecord, test: tuple[torch.Tensor, torch.Tensor]) -> RunOutcome:
    """Train for config.budget seconds of wall time from the start of train(), the `epochs` evaluations
    included: measure an evaluation, give the rest to training with a one-cycle LR over the clock (BudgetPace
    keeps the plan honest as the pace changes), and split the training time into `epochs` stretches each
    ending with an evaluation (best model kept)."""
    config = ctx.config
    eval_seconds = min(
        time_evaluation(ctx.model, test[0], ctx.bf16) + SAVE_SECONDS, MAX_EVAL_SHARE * config.budget / config.epochs
    )
    now = time.perf_counter()
    if config.budget - config.epochs * eval_seconds < MIN_TRAIN_SECONDS:  # the budget cannot hold its evaluations
        raise BudgetTooShort(
            f"a budget of {config.budget:g} s leaves no time to train: {config.epochs} evaluation(s) of "
            f"{len(test[1]):,} test images take {eval_seconds:.1f} s each here; raise the budget or lower "
            f"epochs / limit_test",
            budget=config.budget,
        )
    # A busy machine can spend most of a short budget before the first batch (loading, building, queued behind
    # pages): the run then trains a little and ends late, rather than failing for what the machine did.
    deadline = max(ctx.started + config.budget, now + config.epochs * eval_seconds + MIN_TRAIN_SECONDS)
    clock = ctx.schedule.scheduler
    assert isinstance(clock, ClockOneCycle)
    clock.plan(now, deadline - config.epochs * eval_seconds)
    pace = BudgetPace(clock, deadline, eval_seconds, config.epochs)
    stream, step0 = endless_batches(ctx), 0
    for epoch in range(1, config.epochs + 1):
        stretch_start = time.perf_counter()
        stop = functools.partial(pace.reached, epoch / config.epochs)
        stretch = yield from train_batches(ctx, stream, Position(epoch, 0, step0, 0), stop)
        step0 += stretch.batches
        if stretch.images:
            yield finish_epoch(ctx, record, test, epoch, stretch, time.perf_counter() - stretch_start)
        if stretch.stopped:
            return RunStatus.STOPPED, stopped_message(record)
        pace.evaluations_left -= 1
        pace.last = time.perf_counter()  # the evaluation is not a batch
    return (
        RunStatus.COMPLETED,
        f"best test accuracy {record.best_accuracy:.2%} after {record.images:,} training "
        f"images in a {config.budget:g} s budget",
    )
