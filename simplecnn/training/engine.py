"""`train()`: one training run as a stream of events, the one entry point for the CLI, the UI and Ray."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from simplecnn.data import MNISTTensors, load_mnist, normalize
from simplecnn.device import describe_device, resolve_device
from simplecnn.errors import CodedError
from simplecnn.model import count_parameters
from simplecnn.training.budget import run_budget
from simplecnn.training.config import TrainConfig
from simplecnn.training.events import (
    BudgetTooShort,
    Event,
    NonFiniteLoss,
    RunEnded,
    RunStarted,
    RunStatus,
)
from simplecnn.training.loop import Mix, RunRecord, build_context, run_epochs


def end_event(
    record: RunRecord,
    status: RunStatus,
    message: str,
    started: float,
    failure: CodedError | None = None,
    images: int = 0,
) -> RunEnded:
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
        str(failure.code) if failure is not None and failure.code is not None else "",
        dict(failure.params) if failure is not None else {},
        images=images,
    )


def train(
    config: TrainConfig,
    data: MNISTTensors | None = None,
    cancel: threading.Event | None = None,
    out_path: str | Path | None = None,
    probe: torch.Tensor | None = None,
    start: dict[str, torch.Tensor] | None = None,
    mix: Mix | None = None,
) -> Iterator[Event]:
    """Run the recipe in `config`, yielding events; keeps the best model (by test accuracy) in `out_path`.

    With config.budget > 0 the whole run, from the first next() to RunEnded (final evaluation and save
    included), takes config.budget seconds (see run_budget).
    `probe`: a normalised 1x1x28x28 digit that is re-scored at every progress report (BatchEnd.probe), so a
    page can show how the model being trained reads it over time.
    `start` and `mix`: a fine-tune (simplecnn.personal.finetune) begins from these weights and puts these
    examples into every batch.

    `cancel` set (Stop): the batch in flight finishes, the weights are evaluated like an epoch's and kept if
    best, and the run ends STOPPED with its checkpoint; nothing learned is thrown away."""
    started = time.perf_counter()
    config.validate()
    device = resolve_device(config.device)
    if data is None:
        data = load_mnist(device=device)
    data = data.subset(config.limit_train, config.limit_test)
    if mix is not None and not 0 < mix.per_batch < config.batch_size:
        raise ValueError(f"{mix.per_batch} mixed-in examples per batch do not fit a batch of {config.batch_size}")
    ctx = build_context(config, data, device, started, cancel, probe, start, mix)
    test = (normalize(data.test_pixels.to(device)), data.test_y.to(device))
    yield RunStarted(
        describe_device(device),
        ctx.bf16,
        len(ctx.y),
        len(test[1]),
        ctx.batches_per_epoch,
        count_parameters(ctx.model),
    )
    record = RunRecord(config, Path(out_path) if out_path else None)
    loop = run_budget if config.budgeted else run_epochs
    failure: CodedError | None = None
    try:
        status, message = yield from loop(ctx, record, test)
    except (NonFiniteLoss, BudgetTooShort) as exc:
        status, message, failure = RunStatus.FAILED, str(exc), exc
    record.calibrate()  # the kept weights' temperature, from their own evaluation
    record.save()
    yield end_event(record, status, message, started, failure, ctx.seen)
