"""Lesson 7: LeNet-5 beside SimpleCNN, each trained by the real engine for the same time budget on this machine,
next to the tutorial's comparison table."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from simplecnn.data import MNISTTensors
from simplecnn.training.config import Architecture, recipe
from simplecnn.training.engine import train
from simplecnn.training.events import EpochEnd, Event, RunEnded, RunStarted

BUDGET_SECONDS = 25.0  # each network's; both runs together stay inside a lesson's minute


@dataclass(frozen=True)
class ArchitectureRow:
    model: str  # "lenet5" or "simplecnn"
    parameters: int
    accuracy: float  # best test accuracy, on all 10,000 test images (or data's test subset)
    seconds: float  # the whole run, its evaluation included
    images: int  # training images seen
    status: str  # the run's RunStatus value


@dataclass(frozen=True)
class ArchitectureEvent:
    """One engine event of one network's run, for a live curve."""

    model: str
    event: Event


def comparison_runs(
    budget: float = BUDGET_SECONDS,
    data: MNISTTensors | None = None,
    cancel: threading.Event | None = None,
    models: tuple[str, ...] = (Architecture.LENET5, Architecture.SIMPLECNN),
    limit_train: int = 0,
) -> Iterator[ArchitectureEvent | list[ArchitectureRow]]:
    """Train each network with the app's time-budgeted Quick recipe as tuned for it, one after the other (so each
    has the machine to itself), all test images scored for both; yields every engine event, then the table."""
    rows = []
    for model in models:
        config = recipe("quick", model=model, budget=budget, limit_test=0, limit_train=limit_train)
        parameters, images = 0, 0
        for event in train(config, data=data, cancel=cancel):
            yield ArchitectureEvent(str(model), event)
            if isinstance(event, RunStarted):
                parameters = event.parameters
            elif isinstance(event, EpochEnd):
                images += event.images
            elif isinstance(event, RunEnded):
                rows.append(
                    ArchitectureRow(str(model), parameters, event.best_accuracy, event.elapsed, images, event.status)
                )
        if cancel is not None and cancel.is_set():
            break
    yield rows
