"""Teach the model your handwriting: fine-tune a checkpoint on MNIST plus your labelled drawings.

The training engine does the work (the same events, live curve, Stop, time budget and best-checkpoint file as any
run): it starts from the checkpoint's weights and puts DRAWINGS_PER_BATCH of your drawings into every batch of
MNIST images (simplecnn.training.loop.Mix), so a few dozen drawings matter while MNIST keeps what the model knew.
Some of your drawings are held out (store.held_out) and never trained on; just before its RunEnded a fine-tune
yields a BeforeAfter event: the model before and after on those drawings, on all of MNIST's test set (where
forgetting shows), and the drawings whose answer changed.
"""

from __future__ import annotations

import enum
import io
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from simplecnn.checkpoint import load_checkpoint, validate_state_dict
from simplecnn.data import IMAGE_SIZE, MNISTTensors, load_mnist, normalize
from simplecnn.device import resolve_device
from simplecnn.errors import CodedError
from simplecnn.evaluate import evaluate_cached
from simplecnn.files import digest_file
from simplecnn.model import SimpleCNN
from simplecnn.personal.store import DrawingSet, split
from simplecnn.training.config import Schedule, TrainConfig
from simplecnn.training.engine import train
from simplecnn.training.events import BeforeAfter, Event, RunEnded
from simplecnn.training.loop import Mix

HOLD_OUT = 0.5  # share of your drawings kept out of the fine-tune, to measure it on
# Of each batch of 128: 30x their share of the data for 60 drawings. Tuned on the benchmark's writing style
# (docs/personal.md): 8 learnt the drawings as well but cost MNIST's 7s and 9s more in short runs.
DRAWINGS_PER_BATCH = 4

# Quick's shape (a time budget, one-cycle over the clock, one evaluation at the end on the first 2,000 test
# images) at a fine-tune's learning rate: a lower peak than Quick's 6e-3, since the weights are good already.
FINETUNE = TrainConfig(
    recipe="finetune",
    epochs=1,
    batch_size=128,
    lr=3e-4,
    schedule=Schedule.ONECYCLE,
    pct_start=0.2,
    label_smoothing=0.0,
    patience=1,
    augment=True,
    limit_test=2000,
    budget=30.0,
)


class FinetuneProblem(enum.StrEnum):
    NOTHING_TO_LEARN = "personal.nothing_to_learn"
    BAD_SETTING = "personal.bad_setting"


class FinetuneError(CodedError, ValueError):
    """A fine-tune that cannot start; the message is one line for the user."""


@dataclass(frozen=True)
class FinetuneInputs:
    """What a fine-tune needs besides its config, as plain bytes and numbers: it travels to a Ray worker as is."""

    start: bytes  # torch.save'd state_dict of the model it starts from
    base_digest: str  # SHA-256 of the starting checkpoint's file: its MNIST evaluation is kept under it
    base_label: str  # the starting model, for people
    train_pixels: bytes  # uint8 (n, 28, 28)
    train_labels: tuple[int, ...]
    held_pixels: bytes
    held_labels: tuple[int, ...]
    held_names: tuple[str, ...]
    per_batch: int = DRAWINGS_PER_BATCH
    mnist_limit: int = 0  # test images the before/after scores (0 = all 10,000; tests use fewer)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinetuneInputs:
        plain: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**plain)

    def train_set(self) -> DrawingSet:
        return _set(self.train_pixels, self.train_labels, tuple(f"train-{i}" for i in range(len(self.train_labels))))

    def held_set(self) -> DrawingSet:
        return _set(self.held_pixels, self.held_labels, self.held_names)

    def start_state(self) -> dict[str, torch.Tensor]:
        return validate_state_dict(torch.load(io.BytesIO(self.start), map_location="cpu", weights_only=True))

    def mix(self) -> Mix:
        drawings = self.train_set()
        return Mix(
            torch.from_numpy(drawings.pixels).unsqueeze(1).contiguous(),
            torch.from_numpy(drawings.labels).long(),
            self.per_batch,
        )


def _set(pixels: bytes, labels: tuple[int, ...], names: tuple[str, ...]) -> DrawingSet:
    array = np.frombuffer(pixels, dtype=np.uint8).reshape(len(labels), IMAGE_SIZE, IMAGE_SIZE).copy()
    return DrawingSet(array, np.array(labels, dtype=np.int64), names)


def prepare(
    start: dict[str, torch.Tensor],
    base_digest: str,
    base_label: str,
    drawings: DrawingSet,
    hold_out: float = HOLD_OUT,
    per_batch: int = DRAWINGS_PER_BATCH,
    mnist_limit: int = 0,
) -> FinetuneInputs:
    """Split the drawings (the held-out ones by their content, see store.held_out) and pack what the run needs.
    Raises FinetuneError when no drawing is left to learn from."""
    if not 0 <= hold_out < 1:
        raise FinetuneError("the held-out share must be at least 0 and below 1", FinetuneProblem.BAD_SETTING)
    if not 0 < per_batch < FINETUNE.batch_size:
        raise FinetuneError(f"drawings per batch must be 1-{FINETUNE.batch_size - 1}", FinetuneProblem.BAD_SETTING)
    learn, held = split(drawings, hold_out)
    if not len(learn):
        raise FinetuneError(
            f"no drawing to learn from: {len(drawings)} labelled, {len(held)} of them held out to measure the "
            "result; label a few more",
            FinetuneProblem.NOTHING_TO_LEARN,
            labelled=len(drawings),
            held_out=len(held),
        )
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().float().contiguous() for k, v in start.items()}, buffer)
    return FinetuneInputs(
        buffer.getvalue(),
        base_digest,
        base_label,
        np.ascontiguousarray(learn.pixels).tobytes(),
        tuple(int(v) for v in learn.labels),
        np.ascontiguousarray(held.pixels).tobytes(),
        tuple(int(v) for v in held.labels),
        held.names,
        per_batch,
        mnist_limit,
    )


def run_finetune(
    config: TrainConfig,
    inputs: FinetuneInputs,
    data: MNISTTensors | None = None,
    cancel: threading.Event | None = None,
    out_path: str | Path | None = None,
    probe: torch.Tensor | None = None,
) -> Iterator[Event]:
    """The engine's events for this fine-tune, with a BeforeAfter just before the RunEnded (when the run kept a
    model). The "before" figures are taken first, outside the run's time budget."""
    device = resolve_device(config.device)
    if data is None:
        data = load_mnist(device=device)
    scored = data.subset(len(data.train_y), inputs.mnist_limit)  # the test images the before/after scores
    start = inputs.start_state()
    held = inputs.held_set()
    before = _model(start)
    before_answers = answers(before, held)
    mnist_before = _mnist_accuracy(before, inputs.base_digest, scored)
    for event in train(config, data, cancel=cancel, out_path=out_path, probe=probe, start=start, mix=inputs.mix()):
        if isinstance(event, RunEnded) and event.checkpoint is not None:
            after = load_checkpoint(event.checkpoint).model()
            mnist_after = _mnist_accuracy(after, digest_file(event.checkpoint), scored)
            yield compare(held, before_answers, answers(after, held), mnist_before, mnist_after, len(scored.test_y))
        yield event


def _model(state: dict[str, torch.Tensor]) -> SimpleCNN:
    model = SimpleCNN()
    model.load_state_dict(state)
    return model.eval()


def _mnist_accuracy(model: nn.Module, digest: str, data: MNISTTensors) -> float:
    """Accuracy on every test image, kept on disk under the checkpoint's digest (Evaluate then finds it)."""
    return evaluate_cached(model, digest, normalize(data.test_pixels.cpu()), data.test_y.cpu()).accuracy


@torch.no_grad()
def answers(model: nn.Module, drawings: DrawingSet) -> np.ndarray:
    """The model's digit for each drawing."""
    if not len(drawings):
        return np.zeros(0, np.int64)
    model.eval()
    device = next(model.parameters()).device
    x = normalize(torch.from_numpy(drawings.pixels).unsqueeze(1).to(device))
    return model(x).argmax(1).cpu().numpy()


def compare(
    held: DrawingSet,
    before: np.ndarray,
    after: np.ndarray,
    mnist_before: float | None,
    mnist_after: float | None,
    mnist_images: int,
) -> BeforeAfter:
    """The BeforeAfter of two sets of answers on the held-out drawings."""
    n = len(held)
    changed = tuple(
        (held.names[i], int(held.labels[i]), int(before[i]), int(after[i])) for i in np.flatnonzero(before != after)
    )
    return BeforeAfter(
        n,
        float((before == held.labels).mean()) if n else None,
        float((after == held.labels).mean()) if n else None,
        mnist_before,
        mnist_after,
        mnist_images,
        changed,
    )
