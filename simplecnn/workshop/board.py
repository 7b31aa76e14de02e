"""The class board: a row per run (live), the leaderboard, the CSV, and what two runs differ in."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simplecnn.checkpoint import CheckpointError, load_checkpoint
from simplecnn.training.config import TrainConfig
from simplecnn.training.events import RunStatus
from simplecnn.workshop.room import Room
from simplecnn.workshop.scheduler import Run, TrainingScheduler


@dataclass(frozen=True)
class BoardRow:
    run_id: str
    name: str
    preset: str
    status: RunStatus
    queue_position: int | None
    progress: float
    best_accuracy: float | None  # the kept weights' test accuracy, on `test_images` test images
    seconds: float
    epochs: int  # evaluations done (a stopped run's last one counts: it was evaluated too)
    train_images: int  # training images the run has seen (not the size of the training set)
    test_images: int | None = None
    owner: str = ""  # the participant's public id (a page marks its own rows)
    model: str = "simplecnn"  # the network: simplecnn or lenet5

    def as_csv(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "participant": self.name,
            "preset": self.preset,
            "model": self.model,
            "status": self.status.value,
            "queue_position": self.queue_position or "",
            "progress": round(self.progress, 4),
            "best_test_accuracy": "" if self.best_accuracy is None else round(self.best_accuracy, 6),
            "test_images": self.test_images or "",
            "seconds": round(self.seconds, 1),
            "epochs": self.epochs,
            "training_images": self.train_images,
        }


CSV_FIELDS = (
    "run",
    "participant",
    "preset",
    "model",
    "status",
    "queue_position",
    "progress",
    "best_test_accuracy",
    "test_images",
    "seconds",
    "epochs",
    "training_images",
)


def best_accuracy(run: Run) -> float | None:
    return max((e.test_accuracy for e in run.epochs), default=None)


def board_rows(scheduler: TrainingScheduler, room: Room) -> list[BoardRow]:
    """Every run the board shows, oldest first (a stable order, so selections do not jump)."""
    names = room.names()
    rows = []
    for run in scheduler.runs():
        if not run.active and (run.finished or 0) < room.cleared_at:
            continue
        rows.append(
            BoardRow(
                run.id,
                names.get(run.session) or run.owner_name,  # "" when nobody named it: a page says so in its words
                run.config.recipe,
                run.status,
                scheduler.queue_position(run.id),
                run.progress,
                best_accuracy(run),
                run.elapsed,
                len(run.epochs),
                run.images,
                run.test_images,
                run.session,
                model=str(run.config.model),
            )
        )
    return rows


def leaderboard(rows: Iterable[BoardRow], top: int = 10) -> list[BoardRow]:
    """Runs with a test accuracy, best first (ties: the quicker run first)."""
    scored = [r for r in rows if r.best_accuracy is not None]
    return sorted(scored, key=lambda r: (-(r.best_accuracy or 0.0), r.seconds))[:top]


def board_csv(rows: Iterable[BoardRow]) -> str:
    """The board as CSV, one row per run. Every text cell is in double quotes (a spreadsheet whose list separator
    is ';' then keeps `x;=cmd…` as one cell), and a cell that a spreadsheet would run as a formula starts with '."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _safe_cell(v) for k, v in row.as_csv().items()})
    return out.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip(" ")[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def settings_diff(
    a: TrainConfig, b: TrainConfig, ignore: tuple[str, ...] = ("report_every",)
) -> list[tuple[str, Any, Any]]:
    """(field, a's value, b's value) for each training setting that differs between two runs."""
    return [
        (f.name, getattr(a, f.name), getattr(b, f.name))
        for f in dataclasses.fields(a)
        if f.name not in ignore and getattr(a, f.name) != getattr(b, f.name)
    ]


def per_digit_accuracy(run: Run) -> list[float] | None:
    """Test accuracy per digit of the run's kept (best) checkpoint, or None before it has one."""
    path = run.checkpoint or run.out_path
    if path is None or not Path(path).is_file():
        return None
    try:
        return _per_digit(str(path), Path(path).stat().st_mtime)
    except (CheckpointError, OSError):
        return None


@functools.lru_cache(maxsize=64)
def _per_digit(path: str, _mtime: float) -> list[float] | None:
    """Cached per file version: a board refreshing every few seconds must not reload checkpoints each time."""
    values = load_checkpoint(path).metrics.get("per_class_accuracy")
    return [float(v) for v in values] if values else None


def shared_run(scheduler: TrainingScheduler, room: Room, share: str | None) -> Run | None:
    """The finished run a read-only link (`?run=<key>`) shows, or None: no such key, the run was deleted, it has
    not finished, or the host cleared the board after it finished (the link stops working then)."""
    run = scheduler.shared(share or "")
    if run is None or (run.finished or 0.0) < room.cleared_at:
        return None
    return run
