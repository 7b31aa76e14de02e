"""The training engine: a generator of events that the CLI prints and the UI plots."""
from __future__ import annotations

import dataclasses
import enum
import math
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from .augment import random_affine
from .checkpoint import portable_state_dict, save_checkpoint
from .config import TrainConfig
from .data import MNISTTensors, load_mnist
from .device import autocast, describe_device, resolve_device, use_bf16
from .evaluate import evaluate
from .model import SimpleCNN, count_parameters


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
    total_batches: int
    parameters: int
    node: str = field(default_factory=platform.node)  # the machine that trains (a Ray node, or this host)


@dataclass(frozen=True)
class BatchEnd:
    epoch: int
    batch: int               # batches done in this epoch
    batches_per_epoch: int
    step: int                # batches done in the run
    total_steps: int
    loss: float              # mean over the batches since the last report
    accuracy: float
    lr: float
    elapsed: float
    probe: Optional[tuple[float, ...]] = None  # the probe digit's 10 probabilities now (see train(probe=...))


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    lr: float                # after the scheduler step, as the tutorial prints it
    is_best: bool
    epochs_without_improvement: int
    early_stop: bool
    elapsed: float
    train_seconds: float     # time in training batches this epoch (no evaluation)


@dataclass(frozen=True)
class RunEnded:
    status: RunStatus        # COMPLETED | EARLY_STOPPED | CANCELLED | FAILED
    message: str
    best_accuracy: float
    best_epoch: int
    elapsed: float
    checkpoint: Optional[Path]
    history: dict = field(default_factory=dict)


Event = Union[RunStarted, BatchEnd, EpochEnd, RunEnded]


class Cancelled(Exception):
    pass


class NonFiniteLoss(Exception):
    pass


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=config.pct_start)
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)


def train_one_epoch(model: nn.Module, optimizer, scheduler, x: torch.Tensor, y: torch.Tensor, config: TrainConfig,
                    generator: torch.Generator, bf16: bool, epoch: int, step0: int, total_steps: int,
                    started: float, cancel: Optional[threading.Event]) -> Iterator[BatchEnd | tuple[float, float]]:
    """Yields a BatchEnd every `report_every` batches, then (mean loss, accuracy) for the epoch."""
    model.train()
    n, bs = len(y), config.batch_size
    batches = math.ceil(n / bs)
    perm = torch.randperm(n, generator=generator, device=generator.device).to(x.device)
    # Sums stay on the device; only reports synchronise with the host.
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    window_loss, window_correct, window_n, seen = loss_sum.clone(), correct.clone(), 0, 0
    for b in range(batches):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        idx = perm[b * bs:(b + 1) * bs]
        xb, yb = x[idx], y[idx]
        if config.augment:
            xb = random_affine(xb, generator)
        if config.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(x.device, bf16):
            logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if config.schedule == "onecycle":
            scheduler.step()
        batch_loss = loss.detach() * len(yb)
        batch_correct = (logits.detach().argmax(1) == yb).sum()
        loss_sum += batch_loss
        correct += batch_correct
        window_loss += batch_loss
        window_correct += batch_correct
        window_n += len(yb)
        seen += len(yb)
        if (b + 1) % config.report_every == 0 or b + 1 == batches:
            mean_loss = window_loss.item() / window_n
            if not math.isfinite(mean_loss):
                raise NonFiniteLoss(f"training loss became {mean_loss} in epoch {epoch}, batch {b + 1}; "
                                    f"try a lower learning rate (now {config.lr:g})")
            yield BatchEnd(epoch, b + 1, batches, step0 + b + 1, total_steps, mean_loss,
                           window_correct.item() / window_n, optimizer.param_groups[0]["lr"],
                           time.perf_counter() - started)
            window_loss.zero_()
            window_correct.zero_()
            window_n = 0
    yield loss_sum.item() / seen, correct.item() / seen


def score_probe(model: nn.Module, probe: torch.Tensor, bf16: bool) -> tuple[float, ...]:
    """The model's 10 probabilities for one digit, mid-training (dropout off for this one forward pass)."""
    was_training = model.training
    model.eval()
    with torch.no_grad(), autocast(probe.device, bf16):
        probs = model(probe).float().softmax(1)[0]
    model.train(was_training)
    return tuple(float(v) for v in probs.cpu())


def train(config: TrainConfig, data: Optional[MNISTTensors] = None, cancel: Optional[threading.Event] = None,
          out_path: Optional[str | Path] = None, probe: Optional[torch.Tensor] = None) -> Iterator[Event]:
    """Run the recipe in `config`, yielding events; keeps the best model (by test accuracy) in `out_path`.

    `probe`: a normalised 1x1x28x28 digit that is re-scored at every progress report (BatchEnd.probe), so a
    page can show how the model being trained reads it over time."""
    config.validate()
    device = resolve_device(config.device)
    if data is None:
        data = load_mnist(device=device)
    data = data.subset(config.limit_train, config.limit_test)
    x, y, tx, ty = (t.to(device) for t in (data.train_x, data.train_y, data.test_x, data.test_y))
    probe_x = probe.to(device).reshape(1, 1, 28, 28).float() if probe is not None else None
    torch.manual_seed(config.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels once
    generator = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(config.seed)
    model = SimpleCNN().to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    bf16 = use_bf16(device, config.precision)
    # Fused Adam: one pass per parameter instead of ~10 foreach ops (CPU optimizer step ~2.5x faster; same
    # update up to float rounding).
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                 **({"fused": True} if device.type in ("cuda", "cpu") else {"foreach": True}))
    batches = math.ceil(len(y) / config.batch_size)
    scheduler = build_scheduler(optimizer, config, batches)
    total = batches * config.epochs
    yield RunStarted(describe_device(device), bf16, len(y), len(ty), batches, total, count_parameters(model))

    history: dict[str, list] = {k: [] for k in ("epoch", "train_loss", "train_accuracy", "test_loss",
                                                "test_accuracy", "lr", "time")}
    best_acc, best_epoch, no_improve, best_metrics, best_state = -1.0, 0, 0, {}, None
    out = Path(out_path) if out_path else None
    started = time.perf_counter()
    status, message = RunStatus.COMPLETED, ""
    try:
        for epoch in range(1, config.epochs + 1):
            epoch_start = time.perf_counter()
            for item in train_one_epoch(model, optimizer, scheduler, x, y, config, generator, bf16, epoch,
                                        (epoch - 1) * batches, total, started, cancel):
                if isinstance(item, BatchEnd):
                    if probe is not None:
                        item = dataclasses.replace(item, probe=score_probe(model, probe_x, bf16))
                    yield item
                else:
                    train_loss, train_acc = item
            train_seconds = time.perf_counter() - epoch_start
            result = evaluate(model, tx, ty, bf16=bf16)
            if config.schedule == "step":
                scheduler.step()
            lr = optimizer.param_groups[0]["lr"]
            is_best = result.accuracy > best_acc
            if is_best:
                best_acc, best_epoch, no_improve = result.accuracy, epoch, 0
                best_state = portable_state_dict(model)
                best_metrics = {"test_accuracy": result.accuracy, "test_loss": result.loss, "epoch": epoch,
                                "n_test": result.n,
                                "per_class_accuracy": [float(v) for v in result.per_class_accuracy]}
            else:
                no_improve += 1
            for key, value in zip(history, (epoch, train_loss, train_acc, result.loss, result.accuracy, lr,
                                            time.perf_counter() - started)):
                history[key].append(value)
            if out is not None and best_state is not None:
                save_checkpoint(out, best_state, config.to_dict(), best_metrics, history)
            early = no_improve >= config.patience and epoch < config.epochs
            yield EpochEnd(epoch, config.epochs, train_loss, train_acc, result.loss, result.accuracy, lr, is_best,
                           no_improve, early, time.perf_counter() - started, train_seconds)
            if early:
                status = RunStatus.EARLY_STOPPED
                message = f"early stopping: {config.patience} epochs without a better test accuracy"
                break
    except Cancelled:
        status, message = RunStatus.CANCELLED, "stopped by request"
    except NonFiniteLoss as exc:
        status, message = RunStatus.FAILED, str(exc)
    if not message and status == RunStatus.COMPLETED:
        message = f"best test accuracy {best_acc:.2%} at epoch {best_epoch}"
    saved = out if out is not None and best_state is not None else None
    yield RunEnded(status, message, max(best_acc, 0.0), best_epoch, time.perf_counter() - started, saved, history)
