"""The training engine: `train()`, a generator of events that the CLI prints, the UI plots and Ray forwards.

Data flows one way: MNIST (uint8, whole, on the device) → the tutorial's model → optimizer steps → an evaluation
after each epoch (or budget stretch) → the best weights in a self-describing checkpoint.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Optimizer

from simplecnn.calibration import calibrate
from simplecnn.checkpoint import portable_state_dict, save_checkpoint
from simplecnn.data import IMAGE_SIZE, MNISTTensors, normalize
from simplecnn.device import autocast, use_bf16
from simplecnn.evaluate import MIN_CALIBRATION_IMAGES, EvalResult, evaluate
from simplecnn.model import ARCHITECTURES, SimpleCNN
from simplecnn.perf import kernels
from simplecnn.perf.layers import training_forward
from simplecnn.training.augment import random_affine
from simplecnn.training.config import TrainConfig
from simplecnn.training.events import (
    BatchEnd,
    EpochEnd,
    Event,
    NonFiniteLoss,
    RunStatus,
)
from simplecnn.training.schedules import ClockOneCycle, LRSchedule, adam, build_schedule


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


@dataclass(frozen=True)
class Mix:
    """Extra labelled examples (a person's drawings) put into every training batch: `per_batch` of each batch
    are drawn from them at random (with replacement), the rest are MNIST in a shuffled pass. So a few dozen
    drawings weigh as much as the run needs, whatever the size of the training set (simplecnn.personal)."""

    pixels: torch.Tensor  # uint8 (n, 1, 28, 28)
    labels: torch.Tensor  # int64 (n,)
    per_batch: int


@dataclass
class StepContext:
    """Everything a training step needs, built once per run."""

    model: nn.Module  # the tutorial's model: its weights are what gets saved and evaluated
    net: nn.Module  # what a training step calls: the model, or its faster training forward (simplecnn.perf)
    optimizer: Optimizer
    schedule: LRSchedule
    x: torch.Tensor  # uint8 pixels (N, 1, 28, 28), normalised per batch
    y: torch.Tensor
    config: TrainConfig
    generator: torch.Generator
    bf16: bool
    started: float  # perf_counter() when the run began
    cancel: threading.Event | None = None
    probe: torch.Tensor | None = None  # normalised 1x1x28x28, re-scored at every report
    seen: int = 0  # training images seen in the run so far
    mixed: int = 0  # the last `mixed` rows of x and y are a Mix's examples, `mix_per_batch` of them per batch
    mix_per_batch: int = 0

    @property
    def batches_per_epoch(self) -> int:
        return batches_per_epoch(len(self.y) - self.mixed, self.config.batch_size, self.mix_per_batch)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def stopping(self) -> bool:
        """Stop was asked for: the stretch ends after the batch in flight, and what was learned is evaluated."""
        return self.cancel is not None and self.cancel.is_set()

    def progress(self, step: int, total_steps: int) -> float:
        """How far the run is, 0-1: by batches, or by the clock for a budget run (whose batch count is not known
        until its end)."""
        clock = self.schedule.scheduler
        if isinstance(clock, ClockOneCycle):
            return clock.fraction()
        return min(1.0, step / max(1, total_steps))


@dataclass(frozen=True)
class Position:
    """Where a stretch of batches sits in the run; total_steps 0 = follow the clock (budget runs)."""

    epoch: int
    batches: int  # batches in this epoch (0 when the clock decides)
    step0: int
    total_steps: int


@dataclass(frozen=True)
class Stretch:
    """What train_batches returns: the mean loss and accuracy over its batches, images and batches done, and
    whether it ended because Stop was asked for."""

    loss: float
    accuracy: float
    images: int
    batches: int
    stopped: bool = False


def batches_per_epoch(images: int, batch_size: int, mixed_per_batch: int = 0) -> int:
    """Batches in one pass over `images` training images, each batch also holding `mixed_per_batch` of a Mix."""
    return math.ceil(images / (batch_size - mixed_per_batch))


def shuffled_batches(ctx: StepContext) -> list[torch.Tensor]:
    """One pass over the training images in a fresh random order, as index batches (each with its share of a
    Mix's examples, see Mix)."""
    device = ctx.generator.device
    n = len(ctx.y) - ctx.mixed
    perm = torch.randperm(n, generator=ctx.generator, device=device)
    if not ctx.mixed:
        return list(perm.to(ctx.x.device).split(ctx.config.batch_size))
    parts = perm.split(ctx.config.batch_size - ctx.mix_per_batch)
    extra = torch.randint(n, n + ctx.mixed, (len(parts), ctx.mix_per_batch), generator=ctx.generator, device=device)
    return [torch.cat([part, more]).to(ctx.x.device) for part, more in zip(parts, extra, strict=True)]


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
        logits = ctx.net(xb)
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
            f"try a lower learning rate (now {ctx.config.lr:g})",
            loss=mean_loss,
            epoch=pos.epoch,
            batch=batch,
            lr=ctx.config.lr,
        )
    step = pos.step0 + batch
    # A budget run's batch count follows the clock (total 0 = unknown); its "batches per epoch" are those of one
    # pass over the training images, a number that does not move while it trains.
    batches = pos.batches or math.ceil(len(ctx.y) / ctx.config.batch_size)
    probe = score_probe(ctx.model, ctx.probe, ctx.bf16) if ctx.probe is not None else None
    return BatchEnd(
        pos.epoch,
        batch,
        batches,
        step,
        pos.total_steps,
        mean_loss,
        accuracy,
        ctx.lr,
        time.perf_counter() - ctx.started,
        probe,
        ctx.seen,
        ctx.progress(step, pos.total_steps),
    )


def train_batches(
    ctx: StepContext, batches: Iterable[torch.Tensor], pos: Position, stop: Callable[[], bool] | None = None
) -> Generator[BatchEnd, None, Stretch]:
    """Train on `batches` (until `stop()` says so, or Stop is asked for), yielding a BatchEnd every
    `report_every` batches and after the last one."""
    ctx.net.train()
    device = ctx.x.device
    total, window = Meter.on(device), Meter.on(device)
    done = 0
    for idx in batches:
        if ctx.stopping:
            break
        stats = train_step(ctx, idx)
        done += 1
        ctx.seen += stats[2]
        total.add(*stats)
        window.add(*stats)
        last = done == pos.batches or ctx.stopping or (stop is not None and stop())
        if done % ctx.config.report_every == 0 or last:
            yield report(ctx, pos, done, window)
            window = Meter.on(device)
        if last:
            break
    loss, accuracy = total.read() if total.n else (math.nan, math.nan)
    return Stretch(loss, accuracy, total.n, done, ctx.stopping)


@dataclass
class RunRecord:
    """The run's history and its best model so far (by test accuracy), saved to `out` after every evaluation."""

    config: TrainConfig
    out: Path | None
    history: dict[str, list] = field(
        default_factory=lambda: {
            k: []
            for k in ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "time", "images")
        }
    )
    best_accuracy: float = -1.0
    best_epoch: int = 0
    no_improve: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    best_metrics: dict = field(default_factory=dict)
    best_result: EvalResult | None = None  # the kept weights' evaluation (its logits calibrate them at the end)
    images: int = 0  # training images seen so far

    def update(self, model: nn.Module, result: EvalResult, epoch: int, stopped: bool = False) -> bool:
        """Keep the model if it is the best so far; True if it is. `stopped`: evaluated when Stop was asked for,
        in the middle of `epoch`."""
        if result.accuracy <= self.best_accuracy:
            self.no_improve += 1
            return False
        self.best_accuracy, self.best_epoch, self.no_improve = result.accuracy, epoch, 0
        self.best_state, self.best_result = portable_state_dict(model), result
        self.best_metrics = {
            "test_accuracy": result.accuracy,
            "test_loss": result.loss,
            "epoch": epoch,
            "n_test": result.n,
            "train_images": self.images,
            "stopped": stopped,
            "per_class_accuracy": [float(v) for v in result.per_class_accuracy],
        }
        return True

    def calibrate(self) -> None:
        """Fit the kept weights' temperature on their own evaluation (simplecnn.calibration), once, at the end."""
        kept = self.best_result
        if kept is not None and kept.logits is not None and kept.n >= MIN_CALIBRATION_IMAGES:
            self.best_metrics["calibration"] = calibrate(kept.logits, kept.targets).to_dict()

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
    """Evaluate, step a per-epoch LR schedule, keep the best model and write it; the epoch's event. A stretch that
    ended on Stop is evaluated the same way: a stopped run keeps what it learned."""
    config = ctx.config
    record.images += stretch.images
    result = evaluate(ctx.model, *test, bf16=ctx.bf16, calibrated=False)
    if not ctx.schedule.per_batch and not stretch.stopped:
        ctx.schedule.step()
    is_best = record.update(ctx.model, result, epoch, stretch.stopped)
    elapsed = time.perf_counter() - ctx.started
    for key, value in zip(
        record.history,
        (epoch, stretch.loss, stretch.accuracy, result.loss, result.accuracy, ctx.lr, elapsed, record.images),
        strict=True,
    ):
        record.history[key].append(value)
    record.save()
    # A budget run's LR schedule must reach its end: no early stop.
    early = (
        not config.budgeted and not stretch.stopped and record.no_improve >= config.patience and epoch < config.epochs
    )
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
        stretch.stopped,
    )


RunOutcome = Generator[Event, None, tuple[RunStatus, str]]


def run_epochs(ctx: StepContext, record: RunRecord, test: tuple[torch.Tensor, torch.Tensor]) -> RunOutcome:
    """The tutorial's shape: `epochs` passes over the training set, an evaluation after each, early stopping."""
    config = ctx.config
    batches = ctx.batches_per_epoch
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        pos = Position(epoch, batches, (epoch - 1) * batches, batches * config.epochs)
        stretch = yield from train_batches(ctx, shuffled_batches(ctx), pos)
        early = False
        if stretch.images:
            end = finish_epoch(ctx, record, test, epoch, stretch, time.perf_counter() - epoch_start)
            early = end.early_stop
            yield end
        if stretch.stopped:
            return RunStatus.STOPPED, stopped_message(record)
        if early:
            return RunStatus.EARLY_STOPPED, f"early stopping: {config.patience} epochs without a better test accuracy"
    return RunStatus.COMPLETED, ""


def stopped_message(record: RunRecord) -> str:
    if record.best_state is None:
        return "stopped before it had trained"
    return f"stopped after {record.images:,} training images; kept {record.best_accuracy:.2%}"


def build_context(
    config: TrainConfig,
    data: MNISTTensors,
    device: torch.device,
    started: float,
    cancel: threading.Event | None,
    probe: torch.Tensor | None,
    start: dict[str, torch.Tensor] | None = None,
    mix: Mix | None = None,
) -> StepContext:
    """`start`: weights to begin from (a fine-tune) instead of a fresh initialisation; `mix`: see Mix."""
    torch.manual_seed(config.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels once
    generator = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(config.seed)
    model = ARCHITECTURES[config.model]()
    if start is not None:
        model.load_state_dict(start)
    model = model.to(device)
    if device.type == "cpu" and isinstance(model, SimpleCNN):  # the speed layers are SimpleCNN's (simplecnn.perf)
        kernels.prepare()  # build/load the AVX2 kernels now, not inside the first (timed) step
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = adam(model.parameters(), config.lr, config.weight_decay, device)
    per_batch = mix.per_batch if mix is not None else 0
    schedule = build_schedule(optimizer, config, batches_per_epoch(len(data.train_y), config.batch_size, per_batch))
    probe_x = probe.to(device).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE).float() if probe is not None else None
    x, y = data.train_pixels, data.train_y
    if mix is not None:  # one copy of the training set with the examples at its end, once per fine-tune
        x, y = torch.cat([x, mix.pixels.to(x.device)]), torch.cat([y, mix.labels.to(y.device)])
    return StepContext(
        model,
        training_forward(model),
        optimizer,
        schedule,
        x.to(device),
        y.to(device),
        config,
        generator,
        use_bf16(device, config.precision),
        started,
        cancel,
        probe_x,
        mixed=len(mix.labels) if mix is not None else 0,
        mix_per_batch=mix.per_batch if mix is not None else 0,
    )
