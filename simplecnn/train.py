"""The training engine: a generator of events that the CLI prints and the UI plots."""

from __future__ import annotations

import enum
import functools
import math
import platform
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import fastconv
from .augment import random_affine
from .checkpoint import portable_state_dict, save_checkpoint
from .config import Schedule, TrainConfig
from .data import IMAGE_SIZE, MNISTTensors, load_mnist, normalize
from .device import autocast, describe_device, resolve_device, use_bf16
from .evaluate import EvalResult, evaluate, predict_logits
from .model import SimpleCNN, count_parameters
from .optim import ClockOneCycle, Optimizer, StepDecay, StepOneCycle, adam


class RunStatus(enum.StrEnum):
    """Where a training run is. The one vocabulary for the engine, the scheduler, the CLI and the pages."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in (RunStatus.QUEUED, RunStatus.RUNNING)

    @property
    def succeeded(self) -> bool:
        """Finished as planned: all epochs, or early stopping."""
        return self in (RunStatus.COMPLETED, RunStatus.EARLY_STOPPED)

    @property
    def label(self) -> str:
        """For people: 'early stopped', not 'early_stopped'."""
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class RunStarted:
    device: str
    bf16: bool
    n_train: int
    n_test: int
    batches_per_epoch: int
    parameters: int
    node: str = field(default_factory=platform.node)  # the machine that trains (a Ray node, or this host)


@dataclass(frozen=True)
class BatchEnd:
    epoch: int
    batch: int  # batches done in this epoch
    batches_per_epoch: int
    step: int  # batches done in the run
    total_steps: int
    loss: float  # mean over the batches since the last report
    accuracy: float
    lr: float
    elapsed: float
    probe: tuple[float, ...] | None = None  # the probe digit's 10 probabilities now (see train(probe=...))


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    lr: float  # after the scheduler step, as the tutorial prints it
    is_best: bool
    epochs_without_improvement: int
    early_stop: bool
    elapsed: float
    train_seconds: float  # time in training batches this epoch (no evaluation)
    images: int = 0  # training images seen this epoch (a budget run's segment may cover more or less
    # than the training set)


@dataclass(frozen=True)
class RunEnded:
    status: RunStatus  # COMPLETED | EARLY_STOPPED | CANCELLED | FAILED
    message: str
    best_accuracy: float
    best_epoch: int
    elapsed: float
    checkpoint: Path | None
    history: dict = field(default_factory=dict)


Event = RunStarted | BatchEnd | EpochEnd | RunEnded


class Cancelled(Exception):
    pass


class NonFiniteLoss(Exception):
    pass


class BudgetTooShort(Exception):
    """The time budget leaves no time to train once the evaluations it must hold are set aside."""


# A budget run sets aside this much per evaluation for writing best.pt (fsync included) on top of the
# evaluation's measured time, and needs at least MIN_TRAIN_SECONDS of training to be worth running.
SAVE_SECONDS = 0.1
MIN_TRAIN_SECONDS = 1.0
# An evaluation's time is measured on 256 images; on a heavily loaded machine that sample can read many times
# too slow, so the reserve is capped at this share of the budget (the run may then end late, never fail on noise).
MAX_EVAL_SHARE = 0.3


@dataclass
class Meter:
    """Sums of loss and correct answers kept on the device: only reading them synchronises with the host."""

    loss: torch.Tensor
    correct: torch.Tensor
    n: int = 0

    @classmethod
    def on(cls, device: torch.device) -> Meter:
        return cls(torch.zeros((), device=device), torch.zeros((), dtype=torch.long, device=device))

    def add(self, loss_sum: torch.Tensor, correct: torch.Tensor, n: int) -> None:
        self.loss += loss_sum
        self.correct += correct
        self.n += n

    def read(self) -> tuple[float, float]:
        n = max(self.n, 1)
        return self.loss.item() / n, self.correct.item() / n


Schedule_ = StepDecay | StepOneCycle | ClockOneCycle


def build_schedule(optimizer: Optimizer, config: TrainConfig, steps_per_epoch: int) -> Schedule_:
    """The LR schedule: over the clock for a budget run, else one-cycle per batch or StepLR per epoch."""
    if config.budgeted:
        return ClockOneCycle(optimizer, config.lr, config.pct_start)
    if config.schedule == Schedule.ONECYCLE:
        return StepOneCycle(optimizer, config.lr, config.epochs * steps_per_epoch, config.pct_start)
    return StepDecay(optimizer, config.step_size, config.gamma)


@dataclass
class StepContext:
    """Everything a training step needs, built once per run."""

    model: nn.Module
    optimizer: Optimizer
    schedule: Schedule_
    x: torch.Tensor  # uint8 pixels (N, 1, 28, 28), normalised per batch
    y: torch.Tensor
    config: TrainConfig
    generator: torch.Generator
    bf16: bool
    started: float  # perf_counter() when the run began
    cancel: threading.Event | None = None
    probe: torch.Tensor | None = None  # normalised 1x1x28x28, re-scored at every report

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])


@dataclass(frozen=True)
class Position:
    """Where a stretch of batches sits in the run; total_steps 0 = follow the clock (budget runs)."""

    epoch: int
    batches: int  # batches in this epoch (0 when the clock decides)
    step0: int
    total_steps: int


@dataclass(frozen=True)
class Stretch:
    """What train_batches returns: the mean loss and accuracy over its batches, images and batches done."""

    loss: float
    accuracy: float
    images: int
    batches: int


def shuffled_batches(ctx: StepContext) -> list[torch.Tensor]:
    """One pass over the training images in a fresh random order, as index batches."""
    perm = torch.randperm(len(ctx.y), generator=ctx.generator, device=ctx.generator.device).to(ctx.x.device)
    return list(perm.split(ctx.config.batch_size))


def endless_batches(ctx: StepContext) -> Iterator[torch.Tensor]:
    while True:
        yield from shuffled_batches(ctx)


def train_step(ctx: StepContext, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One optimizer step on the images at `idx`; returns (loss sum, correct count) on the device, and the count."""
    config = ctx.config
    xb, yb = normalize(ctx.x[idx]), ctx.y[idx]
    if config.augment:
        xb = random_affine(xb, ctx.generator)
    if config.channels_last:
        xb = xb.contiguous(memory_format=torch.channels_last)
    with autocast(xb.device, ctx.bf16):
        logits = ctx.model(xb)
        loss = F.cross_entropy(logits.float(), yb, label_smoothing=config.label_smoothing)
    ctx.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    ctx.optimizer.step()
    if ctx.schedule.per_batch:
        ctx.schedule.step()
    return loss.detach() * len(yb), (logits.detach().argmax(1) == yb).sum(), len(yb)


def score_probe(model: nn.Module, probe: torch.Tensor, bf16: bool) -> tuple[float, ...]:
    """The model's 10 probabilities for one digit, mid-training (dropout off for this one forward pass)."""
    was_training = model.training
    model.eval()
    with torch.no_grad(), autocast(probe.device, bf16):
        probs = model(probe).float().softmax(1)[0]
    model.train(was_training)
    return tuple(float(v) for v in probs.cpu())


def report(ctx: StepContext, pos: Position, batch: int, window: Meter) -> BatchEnd:
    mean_loss, accuracy = window.read()
    if not math.isfinite(mean_loss):
        raise NonFiniteLoss(
            f"training loss became {mean_loss} in epoch {pos.epoch}, batch {batch}; "
            f"try a lower learning rate (now {ctx.config.lr:g})"
        )
    step = pos.step0 + batch
    total, batches = pos.total_steps, pos.batches
    if not total and isinstance(ctx.schedule, ClockOneCycle):
        total = ctx.schedule.planned_steps(step)
        batches = max(batch, math.ceil(total / ctx.config.epochs))
    probe = score_probe(ctx.model, ctx.probe, ctx.bf16) if ctx.probe is not None else None
    return BatchEnd(
        pos.epoch, batch, batches, step, total, mean_loss, accuracy, ctx.lr, time.perf_counter() - ctx.started, probe
    )


def train_batches(
    ctx: StepContext, batches: Iterable[torch.Tensor], pos: Position, stop: Callable[[], bool] | None = None
) -> Generator[BatchEnd, None, Stretch]:
    """Train on `batches` (until `stop()` says so), yielding a BatchEnd every `report_every` batches."""
    ctx.model.train()
    device = ctx.x.device
    total, window = Meter.on(device), Meter.on(device)
    done = 0
    for done, idx in enumerate(batches, 1):
        if ctx.cancel is not None and ctx.cancel.is_set():
            raise Cancelled()
        stats = train_step(ctx, idx)
        total.add(*stats)
        window.add(*stats)
        last = done == pos.batches or (stop is not None and stop())
        if done % ctx.config.report_every == 0 or last:
            yield report(ctx, pos, done, window)
            window = Meter.on(device)
        if last:
            break
    loss, accuracy = total.read()
    return Stretch(loss, accuracy, total.n, done)


@dataclass
class RunRecord:
    """The run's history and its best model so far (by test accuracy), saved to `out` after every evaluation."""

    config: TrainConfig
    out: Path | None
    history: dict[str, list] = field(
        default_factory=lambda: {
            k: [] for k in ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "time")
        }
    )
    best_accuracy: float = -1.0
    best_epoch: int = 0
    no_improve: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    best_metrics: dict = field(default_factory=dict)
    images: int = 0  # training images seen so far

    def update(self, model: nn.Module, result: EvalResult, epoch: int) -> bool:
        """Keep the model if it is the best so far; True if it is."""
        if result.accuracy <= self.best_accuracy:
            self.no_improve += 1
            return False
        self.best_accuracy, self.best_epoch, self.no_improve = result.accuracy, epoch, 0
        self.best_state = portable_state_dict(model)
        self.best_metrics = {
            "test_accuracy": result.accuracy,
            "test_loss": result.loss,
            "epoch": epoch,
            "n_test": result.n,
            "train_images": self.images,
            "per_class_accuracy": [float(v) for v in result.per_class_accuracy],
        }
        return True

    def save(self) -> None:
        if self.out is not None and self.best_state is not None:
            save_checkpoint(self.out, self.best_state, self.config.to_dict(), self.best_metrics, self.history)


def finish_epoch(
    ctx: StepContext,
    record: RunRecord,
    test: tuple[torch.Tensor, torch.Tensor],
    epoch: int,
    stretch: Stretch,
    train_seconds: float,
) -> EpochEnd:
    """Evaluate, step a per-epoch LR schedule, keep the best model and write it; the epoch's event."""
    config = ctx.config
    record.images += stretch.images
    result = evaluate(ctx.model, *test, bf16=ctx.bf16)
    if not ctx.schedule.per_batch:
        ctx.schedule.step()
    is_best = record.update(ctx.model, result, epoch)
    elapsed = time.perf_counter() - ctx.started
    for key, value in zip(
        record.history,
        (epoch, stretch.loss, stretch.accuracy, result.loss, result.accuracy, ctx.lr, elapsed),
        strict=True,
    ):
        record.history[key].append(value)
    record.save()
    # A budget run's LR schedule must reach its end: no early stop.
    early = not config.budgeted and record.no_improve >= config.patience and epoch < config.epochs
    return EpochEnd(
        epoch,
        config.epochs,
        stretch.loss,
        stretch.accuracy,
        result.loss,
        result.accuracy,
        ctx.lr,
        is_best,
        record.no_improve,
        early,
        time.perf_counter() - ctx.started,
        train_seconds,
        stretch.images,
    )


RunOutcome = Generator[Event, None, tuple[RunStatus, str]]


def run_epochs(ctx: StepContext, record: RunRecord, test: tuple[torch.Tensor, torch.Tensor]) -> RunOutcome:
    """The tutorial's shape: `epochs` passes over the training set, an evaluation after each, early stopping."""
    config = ctx.config
    batches = math.ceil(len(ctx.y) / config.batch_size)
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        pos = Position(epoch, batches, (epoch - 1) * batches, batches * config.epochs)
        stretch = yield from train_batches(ctx, shuffled_batches(ctx), pos)
        end = finish_epoch(ctx, record, test, epoch, stretch, time.perf_counter() - epoch_start)
        yield end
        if end.early_stop:
            return RunStatus.EARLY_STOPPED, f"early stopping: {config.patience} epochs without a better test accuracy"
    return RunStatus.COMPLETED, ""


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
    deadline = ctx.started + config.budget
    if deadline - config.epochs * eval_seconds - now < MIN_TRAIN_SECONDS:
        raise BudgetTooShort(
            f"a budget of {config.budget:g} s leaves no time to train: {config.epochs} evaluation(s) of "
            f"{len(test[1]):,} test images take {eval_seconds:.1f} s each here; raise the budget or lower "
            f"epochs / limit_test"
        )
    clock = ctx.schedule
    assert isinstance(clock, ClockOneCycle)
    clock.plan(now, deadline - config.epochs * eval_seconds)
    pace = BudgetPace(clock, deadline, eval_seconds, config.epochs)
    stream, step0 = endless_batches(ctx), 0
    for epoch in range(1, config.epochs + 1):
        stretch_start = time.perf_counter()
        stop = functools.partial(pace.reached, epoch / config.epochs)
        stretch = yield from train_batches(ctx, stream, Position(epoch, 0, step0, 0), stop)
        step0 += stretch.batches
        yield finish_epoch(ctx, record, test, epoch, stretch, time.perf_counter() - stretch_start)
        pace.evaluations_left -= 1
        pace.last = time.perf_counter()  # the evaluation is not a batch
    return (
        RunStatus.COMPLETED,
        f"best test accuracy {record.best_accuracy:.2%} after {record.images:,} training "
        f"images in a {config.budget:g} s budget",
    )


def build_context(
    config: TrainConfig,
    data: MNISTTensors,
    device: torch.device,
    started: float,
    cancel: threading.Event | None,
    probe: torch.Tensor | None,
) -> StepContext:
    torch.manual_seed(config.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels once
    generator = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(config.seed)
    model = SimpleCNN().to(device)
    if device.type == "cpu":
        fastconv.prepare()  # build/load the AVX2 weight-gradient kernel now, not inside the first (timed) step
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = adam(model.parameters(), config.lr, config.weight_decay, device)
    schedule = build_schedule(optimizer, config, math.ceil(len(data.train_y) / config.batch_size))
    probe_x = probe.to(device).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE).float() if probe is not None else None
    return StepContext(
        model,
        optimizer,
        schedule,
        data.train_pixels.to(device),
        data.train_y.to(device),
        config,
        generator,
        use_bf16(device, config.precision),
        started,
        cancel,
        probe_x,
    )


def end_event(record: RunRecord, status: RunStatus, message: str, started: float) -> RunEnded:
    if not message and status == RunStatus.COMPLETED:
        message = f"best test accuracy {record.best_accuracy:.2%} at epoch {record.best_epoch}"
    saved = record.out if record.out is not None and record.best_state is not None else None
    return RunEnded(
        status,
        message,
        max(record.best_accuracy, 0.0),
        record.best_epoch,
        time.perf_counter() - started,
        saved,
        record.history,
    )


def train(
    config: TrainConfig,
    data: MNISTTensors | None = None,
    cancel: threading.Event | None = None,
    out_path: str | Path | None = None,
    probe: torch.Tensor | None = None,
) -> Iterator[Event]:
    """Run the recipe in `config`, yielding events; keeps the best model (by test accuracy) in `out_path`.

    With config.budget > 0 the whole run, from the first next() to RunEnded (final evaluation and save
    included), takes config.budget seconds (see run_budget).
    `probe`: a normalised 1x1x28x28 digit that is re-scored at every progress report (BatchEnd.probe), so a
    page can show how the model being trained reads it over time."""
    started = time.perf_counter()
    config.validate()
    device = resolve_device(config.device)
    if data is None:
        data = load_mnist(device=device)
    data = data.subset(config.limit_train, config.limit_test)
    ctx = build_context(config, data, device, started, cancel, probe)
    test = (normalize(data.test_pixels.to(device)), data.test_y.to(device))
    yield RunStarted(
        describe_device(device),
        ctx.bf16,
        len(ctx.y),
        len(test[1]),
        math.ceil(len(ctx.y) / config.batch_size),
        count_parameters(ctx.model),
    )
    record = RunRecord(config, Path(out_path) if out_path else None)
    loop = run_budget if config.budgeted else run_epochs
    try:
        status, message = yield from loop(ctx, record, test)
    except Cancelled:
        status, message = RunStatus.CANCELLED, "stopped by request"
    except (NonFiniteLoss, BudgetTooShort) as exc:
        status, message = RunStatus.FAILED, str(exc)
    yield end_event(record, status, message, started)
