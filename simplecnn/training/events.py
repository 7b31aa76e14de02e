"""What a training run reports as it goes: its status vocabulary and its events (torch-free).

The engine (simplecnn.training.loop) yields these; the CLI prints them, the UI plots them, the Ray bridge forwards
them as plain dicts, so this module imports no torch.
"""

from __future__ import annotations

import enum
import platform
from dataclasses import dataclass, field
from pathlib import Path

from simplecnn.errors import CodedError


class RunStatus(enum.StrEnum):
    """Where a training run is. The one vocabulary for the engine, the scheduler, the CLI and the pages."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"
    STOPPED = "stopped"  # stopped while training: what it had learned is evaluated and kept
    CANCELLED = "cancelled"  # taken out of the queue before it started: nothing was trained
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in (RunStatus.QUEUED, RunStatus.RUNNING)

    @property
    def succeeded(self) -> bool:
        """Finished as planned: all epochs, or early stopping."""
        return self in (RunStatus.COMPLETED, RunStatus.EARLY_STOPPED)

    @property
    def ended(self) -> bool:
        """Trained and came to an end, planned or stopped (its checkpoint holds what it learned)."""
        return self.succeeded or self == RunStatus.STOPPED

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
    images: int = 0  # training images seen in the run so far
    progress: float = 0.0  # of the run, 0-1: batches for an epoch run, the clock for a budget run


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
    stopped: bool = False  # the evaluation of a run stopped mid-epoch: `epoch` was not finished


@dataclass(frozen=True)
class RunEnded:
    status: RunStatus  # COMPLETED | EARLY_STOPPED | STOPPED | CANCELLED | FAILED
    message: str
    best_accuracy: float
    best_epoch: int
    elapsed: float
    checkpoint: Path | None
    history: dict = field(default_factory=dict)
    failure: str = ""  # a FAILED run's RunFailure value (a UI's catalog key), beside the English message
    failure_params: dict = field(default_factory=dict)
    images: int = 0  # training images seen in the whole run


@dataclass(frozen=True)
class BeforeAfter:
    """A fine-tune's result, just before its RunEnded: the model before and after, on the drawings held out of
    the fine-tune and on MNIST's test set (where forgetting shows). Accuracies are None when not measured."""

    held_out: int  # drawings measured
    held_before: float | None
    held_after: float | None
    mnist_before: float | None
    mnist_after: float | None
    mnist_images: int  # test images behind the MNIST figures
    changed: tuple[tuple[str, int, int, int], ...] = ()  # (drawing, label, answer before, answer after)


Event = RunStarted | BatchEnd | EpochEnd | BeforeAfter | RunEnded


class RunFailure(enum.StrEnum):
    """Why a run failed, for a UI's own words (values are catalog keys under errors.); the message stays."""

    NON_FINITE_LOSS = "train.non_finite_loss"
    BUDGET_TOO_SHORT = "train.budget_too_short"
    OUT_OF_MEMORY = "train.out_of_memory"
    ERROR = "unexpected"


class NonFiniteLoss(CodedError):
    """The training loss became NaN or infinite. params: loss, epoch, batch, lr."""

    code = RunFailure.NON_FINITE_LOSS


class BudgetTooShort(CodedError):
    """The time budget leaves no time to train once the evaluations it must hold are set aside. params: budget."""

    code = RunFailure.BUDGET_TOO_SHORT
