"""Lessons 4 and 5: the tutorial's training loop run twice side by side — as written, and with one mistake —
on the same batches from the same starting weights, reporting both loss curves as they grow."""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from simplecnn.data import NUM_CLASSES, MNISTTensors, normalize
from simplecnn.lessons.mistakes import other_device
from simplecnn.model import ARCHITECTURES
from simplecnn.training.schedules import adam


class Mistake(enum.StrEnum):
    NONE = "none"  # the tutorial's loop as written
    NO_ZERO_GRAD = "no_zero_grad"
    TINY_LR = "tiny_lr"
    NO_NORMALIZATION = "no_normalization"  # raw 0-255 pixels
    ONE_HOT_TARGETS = "one_hot_targets"  # F.one_hot(y) handed to CrossEntropyLoss
    SOFTMAX_AT_END = "softmax_at_end"  # forward returns softmax(logits)
    WRONG_DEVICE = "wrong_device"  # model moved, data not


LR = 1e-3  # the tutorial's Adam learning rate
TINY_LR = 1e-6
BATCH_SIZE = 128  # the tutorial's
BUDGET_SECONDS = 20.0  # both runs together
TEST_IMAGES = 1000  # each run is scored on this many test images at the end


class SoftmaxAtEnd(nn.Module):
    """The tutorial's ❌ forward: `return F.softmax(x, dim=1)`; CrossEntropyLoss then applies its own on top."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.model(x), dim=1)


@dataclass
class Side:
    """One of the two runs."""

    mistake: Mistake
    model: nn.Module
    optimizer: torch.optim.Optimizer
    error: str = ""  # PyTorch's message, or why the run stopped
    window: list[float] = field(default_factory=list)  # losses since the last report
    rng: torch.Tensor = field(default_factory=torch.get_rng_state)  # this side's own dropout draws

    def inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.float() if self.mistake is Mistake.NO_NORMALIZATION else normalize(pixels)

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, NUM_CLASSES) if self.mistake is Mistake.ONE_HOT_TARGETS else y

    def step(self, pixels: torch.Tensor, y: torch.Tensor) -> None:
        """The tutorial's five steps, minus the one the mistake forgets."""
        if self.error:
            return
        torch.set_rng_state(self.rng)  # each side draws its own dropout masks: the correct run is always the same
        try:
            data, target = self.inputs(pixels), self.targets(y)
            if self.mistake is not Mistake.NO_ZERO_GRAD:
                self.optimizer.zero_grad()  # 1.
            output = self.model(data)  # 2.
            loss = nn.CrossEntropyLoss()(output, target)  # 3.
            loss.backward()  # 4.
            self.optimizer.step()  # 5.
        except (RuntimeError, NotImplementedError) as exc:
            self.error = str(exc).strip().splitlines()[0]
            return
        finally:
            self.rng = torch.get_rng_state()
        value = loss.item()
        if not math.isfinite(value):
            self.error = f"the loss became {value}"
        self.window.append(value)


def build_side(mistake: Mistake, architecture: str, seed: int) -> Side:
    torch.manual_seed(seed)  # both sides start from the same weights
    model: nn.Module = ARCHITECTURES[architecture]()
    if mistake is Mistake.SOFTMAX_AT_END:
        model = SoftmaxAtEnd(model)
    if mistake is Mistake.WRONG_DEVICE:
        model = model.to(other_device(torch.device("cpu")))
    lr = TINY_LR if mistake is Mistake.TINY_LR else LR
    return Side(mistake, model, adam(model.parameters(), lr, 0.0, next(model.parameters()).device))


@dataclass(frozen=True)
class RacePoint:
    step: int
    seconds: float
    losses: dict[str, float]  # Mistake value → mean training loss since the last point (nan once it failed)


@dataclass(frozen=True)
class RaceResult:
    steps: int
    seconds: float
    images: int  # training images each side saw
    curves: dict[str, list[float]]
    curve_steps: list[int]
    test_accuracy: dict[str, float | None]  # None: the run failed
    errors: dict[str, str]


def test_accuracy(side: Side, data: MNISTTensors, images: int) -> float | None:
    if side.error:
        return None
    side.model.eval()
    pixels, labels = data.test_pixels[:images], data.test_y[:images]
    with torch.no_grad():
        logits = torch.cat([side.model(side.inputs(part)) for part in pixels.split(500)])
    return (logits.argmax(1) == labels).float().mean().item()


def race(
    mistake: Mistake,
    data: MNISTTensors,
    architecture: str = "simplecnn",
    budget: float = BUDGET_SECONDS,
    max_steps: int = 0,
    report_every: int = 5,
    seed: int = 42,
    test_images: int = TEST_IMAGES,
) -> Iterator[RacePoint | RaceResult]:
    """Train the correct loop and the `mistake` loop on the same batches until `budget` seconds (or `max_steps`),
    yielding a RacePoint every `report_every` steps and a RaceResult (test accuracy on data's test images) last."""
    with torch.random.fork_rng():  # the sides' seeding leaves the caller's random state alone
        sides = [build_side(Mistake.NONE, architecture, seed), build_side(mistake, architecture, seed)]
    generator = torch.Generator().manual_seed(seed)
    curves: dict[str, list[float]] = {s.mistake.value: [] for s in sides}
    steps_at: list[int] = []
    start, step = time.perf_counter(), 0
    while not (max_steps and step >= max_steps) and time.perf_counter() - start < budget:
        for idx in torch.randperm(len(data.train_y), generator=generator).split(BATCH_SIZE):
            for side in sides:
                side.step(data.train_pixels[idx], data.train_y[idx])
            step += 1
            done = (max_steps and step >= max_steps) or time.perf_counter() - start >= budget
            if step % report_every == 0 or done:
                losses = {s.mistake.value: (sum(s.window) / len(s.window) if s.window else math.nan) for s in sides}
                for s in sides:
                    curves[s.mistake.value].append(losses[s.mistake.value])
                    s.window.clear()
                steps_at.append(step)
                yield RacePoint(step, time.perf_counter() - start, losses)
            if done:
                break
    yield RaceResult(
        step,
        time.perf_counter() - start,
        step * BATCH_SIZE,
        curves,
        steps_at,
        {s.mistake.value: test_accuracy(s, data, test_images) for s in sides},
        {s.mistake.value: s.error for s in sides if s.error},
    )
