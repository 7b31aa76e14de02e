"""Training configuration: one typed dataclass, passed explicitly; recipes are named presets of it."""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Any

from simplecnn.errors import CodedError


class ConfigProblem(enum.StrEnum):
    INVALID = "config.invalid"


class ConfigError(CodedError, ValueError):
    """A training setting out of its range. params: field (the TrainConfig field's name)."""

    code = ConfigProblem.INVALID


class Schedule(enum.StrEnum):
    """How the learning rate moves: StepLR once per epoch (the tutorial's) or one-cycle per batch."""

    STEP = "step"
    ONECYCLE = "onecycle"


class Architecture(enum.StrEnum):
    """Which network a run trains: the tutorial's SimpleCNN, or the LeNet-5 of its part 2 (simplecnn.model)."""

    SIMPLECNN = "simplecnn"
    LENET5 = "lenet5"


@dataclass
class TrainConfig:
    """Defaults are the tutorial's recipe."""

    recipe: str = field(default="tutorial", metadata={"help": "name of the preset this config came from"})
    # A str-typed flag like schedule (below); __post_init__ makes it the enum.
    model: Architecture = field(default=Architecture.SIMPLECNN, metadata={"help": "network: simplecnn or lenet5"})
    epochs: int = field(default=15, metadata={"help": "number of epochs"})
    batch_size: int = field(default=128, metadata={"help": "training batch size"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate (peak LR for onecycle)"})
    weight_decay: float = field(default=0.0, metadata={"help": "Adam weight decay (L2)"})
    # The CLI builds a str-typed flag from this field ("Schedule" is not a CLI type); __post_init__ turns the text
    # into the enum, so `--schedule step|onecycle` keeps working.
    schedule: Schedule = field(
        default=Schedule.STEP, metadata={"help": "LR schedule: step (StepLR per epoch) or onecycle (per batch)"}
    )
    step_size: int = field(default=5, metadata={"help": "StepLR: epochs between LR drops"})
    gamma: float = field(default=0.5, metadata={"help": "StepLR: LR factor at each drop"})
    pct_start: float = field(default=0.25, metadata={"help": "onecycle: fraction of steps spent warming up"})
    label_smoothing: float = field(default=0.0, metadata={"help": "cross-entropy label smoothing"})
    patience: int = field(default=10, metadata={"help": "early stopping: epochs without a new best test accuracy"})
    seed: int = field(default=42, metadata={"help": "random seed"})
    augment: bool = field(default=False, metadata={"help": "random rotation/shift/scale of training batches"})
    limit_train: int = field(default=0, metadata={"help": "use only the first N training images (0 = all 60,000)"})
    limit_test: int = field(default=0, metadata={"help": "use only the first N test images (0 = all 10,000)"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or mps"})
    precision: str = field(default="auto", metadata={"help": "auto (bf16 where the hardware has it), fp32 or bf16"})
    channels_last: bool = field(default=True, metadata={"help": "channels_last memory format"})
    report_every: int = field(default=10, metadata={"help": "batches between progress reports"})
    budget: float = field(
        default=0.0,
        metadata={
            "help": "time budget in seconds for the whole run, final evaluation included (0 = off): one-cycle LR "
            "over the wall clock; epochs then counts evaluations"
        },
    )

    def __post_init__(self) -> None:
        # Text from a flag, a form or a saved checkpoint becomes the enum; a bad value is left for validate().
        if not isinstance(self.schedule, Schedule) and self.schedule in Schedule._value2member_map_:
            self.schedule = Schedule(self.schedule)
        if not isinstance(self.model, Architecture) and self.model in Architecture._value2member_map_:
            self.model = Architecture(self.model)

    def validate(self) -> TrainConfig:
        checks = [
            (self.model in Architecture._value2member_map_, "model", "model must be 'simplecnn' or 'lenet5'"),
            (self.epochs >= 1, "epochs", "epochs must be at least 1"),
            (self.batch_size >= 1, "batch_size", "batch_size must be at least 1"),
            (self.lr > 0, "lr", "lr must be positive"),
            (self.weight_decay >= 0, "weight_decay", "weight_decay must be ≥ 0"),
            (self.schedule in Schedule._value2member_map_, "schedule", "schedule must be 'step' or 'onecycle'"),
            (self.step_size >= 1, "step_size", "step_size must be at least 1"),
            (0 < self.gamma <= 1, "gamma", "gamma must be in (0, 1]"),
            (0 < self.pct_start < 1, "pct_start", "pct_start must be in (0, 1)"),
            (0 <= self.label_smoothing < 1, "label_smoothing", "label_smoothing must be in [0, 1)"),
            (self.patience >= 1, "patience", "patience must be at least 1"),
            (self.limit_train >= 0, "limit_train", "limits must be ≥ 0 (0 = all)"),
            (self.limit_test >= 0, "limit_test", "limits must be ≥ 0 (0 = all)"),
            (
                self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"),
                "device",
                "device must be auto, cpu, cuda or mps",
            ),
            (self.precision in ("auto", "fp32", "bf16"), "precision", "precision must be auto, fp32 or bf16"),
            (self.report_every >= 1, "report_every", "report_every must be at least 1"),
            (self.budget >= 0 and math.isfinite(self.budget), "budget", "budget must be ≥ 0 seconds (0 = off)"),
        ]
        for ok, name, message in checks:
            if not ok:
                raise ConfigError(message, field=name)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (enums as their text): checkpoints load with weights_only=True and go to JSON."""
        return {k: v.value if isinstance(v, enum.Enum) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The inverse of to_dict (e.g. a config sent to a Ray worker); unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def budgeted(self) -> bool:
        return self.budget > 0

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


RECIPES: dict[str, TrainConfig] = {
    "tutorial": TrainConfig(),
    # Tuned for time-to-accuracy: one epoch, one-cycle LR (docs/performance.md).
    "fast": TrainConfig(
        recipe="fast",
        epochs=1,
        batch_size=64,
        lr=4e-3,
        schedule=Schedule.ONECYCLE,
        pct_start=0.25,
        label_smoothing=0.1,
        patience=1,
    ),
    # The app's "Quick · 30 s": as many images as fit in 30 s on this machine, one-cycle over the clock, one
    # evaluation at the end inside the budget (training.budget.run_budget). lr and pct_start were tuned by images
    # seen (docs/performance.md). Its evaluation uses all 10,000 test images, like Evaluate's: one number for the
    # run wherever it shows (Train, Evaluate, the board, the CSV), at the cost of a few seconds of training
    # (docs/numbers.md).
    "quick": TrainConfig(
        recipe="quick",
        epochs=1,
        batch_size=64,
        lr=6e-3,
        schedule=Schedule.ONECYCLE,
        pct_start=0.2,
        label_smoothing=0.1,
        patience=1,
        budget=30.0,
    ),
}


# Where a recipe's settings differ for LeNet-5: a higher peak learning rate suits the small network, and its
# evaluation is cheap enough for a budget run to score the full test set (the sweep: docs/lessons.md).
ARCHITECTURE_TUNING: dict[tuple[str, str], dict[str, Any]] = {
    ("lenet5", "fast"): {"lr": 1e-2},
    ("lenet5", "quick"): {"lr": 1e-2, "limit_test": 0},
}


def for_architecture(config: TrainConfig, model: str) -> TrainConfig:
    """`config` (a recipe) for the network `model`, with the recipe's settings re-tuned where that network needs it."""
    return config.replace(model=model, **ARCHITECTURE_TUNING.get((str(model), config.recipe), {}))


def recipe(name: str, **overrides: Any) -> TrainConfig:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    base = RECIPES[name]
    if "model" in overrides:
        base = for_architecture(base, overrides["model"])
    return base.replace(**overrides)
