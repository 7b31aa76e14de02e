"""Lesson 6: overfitting on a small training set, and the tutorial's remedies (dropout, augmentation, early
stopping, weight decay) trained side by side with a run that has none, epoch by epoch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from simplecnn.data import MNISTTensors, normalize
from simplecnn.model import SimpleCNN
from simplecnn.training.augment import random_affine
from simplecnn.training.schedules import adam

LR = 1e-3
BATCH_SIZE = 32  # smaller than the tutorial's 128: a few hundred images still make several steps per epoch
TRAIN_IMAGES = 256  # few enough that SimpleCNN learns them by heart within a few epochs
TEST_IMAGES = 500
EPOCHS = 20
BUDGET_SECONDS = 45.0  # both runs together


@dataclass(frozen=True)
class Remedies:
    conv_dropout: float = 0.0  # dropout1 and dropout2 (the tutorial: 0.25; its remedy: 0.3-0.4)
    fc_dropout: float = 0.0  # dropout3 (the tutorial: 0.5)
    augment: bool = False  # random rotation / shift / scale of each training batch
    weight_decay: float = 0.0  # Adam's L2 term (the tutorial's remedy: 1e-4)
    patience: int = 0  # early stopping: stop after this many epochs without a lower test loss (0 = off)


NO_REMEDY = Remedies()
TUTORIAL = Remedies(conv_dropout=0.25, fc_dropout=0.5)


@dataclass(frozen=True)
class EpochPoint:
    side: str  # "baseline" or "remedies"
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    stopped: bool  # early stopping ended this side here


@dataclass
class Run:
    name: str
    remedies: Remedies
    model: nn.Module
    optimizer: torch.optim.Optimizer
    rng: torch.Tensor = field(default_factory=torch.get_rng_state)
    generator: torch.Generator = field(default_factory=lambda: torch.Generator().manual_seed(0))
    best_loss: float = float("inf")
    no_improve: int = 0
    stopped: bool = False


def build_run(name: str, remedies: Remedies, seed: int) -> Run:
    torch.manual_seed(seed)  # both runs start from the same weights
    model = SimpleCNN()
    for module_name, p in (
        ("dropout1", remedies.conv_dropout),
        ("dropout2", remedies.conv_dropout),
        ("dropout3", remedies.fc_dropout),
    ):
        getattr(model, module_name).p = p
    optimizer = adam(model.parameters(), LR, remedies.weight_decay, torch.device("cpu"))
    return Run(name, remedies, model, optimizer, generator=torch.Generator().manual_seed(seed))


def train_one_epoch(run: Run, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """The tutorial's train_one_epoch on the small training set (its own random order and dropout draws)."""
    torch.set_rng_state(run.rng)
    run.model.train()
    criterion = nn.CrossEntropyLoss()
    loss_sum, correct = 0.0, 0
    for idx in torch.randperm(len(y), generator=run.generator).split(BATCH_SIZE):
        data = normalize(x[idx])
        if run.remedies.augment:
            data = random_affine(data, run.generator)
        run.optimizer.zero_grad()
        output = run.model(data)
        loss = criterion(output, y[idx])
        loss.backward()
        run.optimizer.step()
        loss_sum += loss.item() * len(idx)
        correct += (output.argmax(1) == y[idx]).sum().item()
    run.rng = torch.get_rng_state()
    return loss_sum / len(y), correct / len(y)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(normalize(part)) for part in x.split(500)])
    return nn.CrossEntropyLoss()(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def epoch(run: Run, data: MNISTTensors, number: int) -> EpochPoint:
    train_loss, train_acc = train_one_epoch(run, data.train_pixels, data.train_y)
    test_loss, test_acc = evaluate(run.model, data.test_pixels, data.test_y)
    if test_loss < run.best_loss:
        run.best_loss, run.no_improve = test_loss, 0
    else:
        run.no_improve += 1
    run.stopped = bool(run.remedies.patience) and run.no_improve >= run.remedies.patience
    return EpochPoint(run.name, number, train_loss, train_acc, test_loss, test_acc, run.stopped)


def compare_remedies(
    remedies: Remedies,
    data: MNISTTensors,
    epochs: int = EPOCHS,
    budget: float = BUDGET_SECONDS,
    seed: int = 42,
) -> Iterator[EpochPoint]:
    """A run without remedies and one with `remedies`, alternating epochs on the same small training set
    (data's first images: subset it), until `epochs` or `budget` seconds; early stopping ends its side only."""
    with torch.random.fork_rng():
        runs = [build_run("baseline", NO_REMEDY, seed), build_run("remedies", remedies, seed)]
    start = time.perf_counter()
    for number in range(1, epochs + 1):
        for run in runs:
            if not run.stopped:
                yield epoch(run, data, number)
        if time.perf_counter() - start >= budget or all(r.stopped for r in runs):
            return
