"""Lesson 5's facts: the tutorial's "loss doesn't go down" checklist, each mistake made for real once."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from simplecnn.data import NUM_CLASSES


def accumulated_gradients(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, passes: int = 3, zero_grad: bool = False, seed: int = 0
) -> tuple[float, ...]:
    """conv1.weight.grad[0, 0, 0, 0] after each of `passes` identical forward + backward passes (the same batch,
    the same dropout masks), with or without zero_grad() before each: the tutorial's 0.015 → 0.030 → 0.045."""
    model = copy.deepcopy(model).train()
    model.zero_grad(set_to_none=True)
    criterion = nn.CrossEntropyLoss()
    values = []
    with torch.random.fork_rng():
        for _ in range(passes):
            torch.manual_seed(seed)  # identical dropout masks: each pass computes the very same gradient
            if zero_grad:
                model.zero_grad()
            criterion(model(x), y).backward()
            grad = model.get_parameter("conv1.weight").grad
            assert grad is not None
            values.append(grad[0, 0, 0, 0].item())
    return tuple(values)


@dataclass(frozen=True)
class OneHotOutcome:
    index_loss: float  # CrossEntropyLoss with class indices (N,): the tutorial's ✅
    float_one_hot_loss: float  # with one-hot rows as float probabilities (N, 10)
    long_one_hot_error: str  # with F.one_hot(y) as it comes (int64): PyTorch's own refusal


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def one_hot_outcome(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> OneHotOutcome:
    """What CrossEntropyLoss does with each kind of label on the same logits."""
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        logits = model(x)
    criterion = nn.CrossEntropyLoss()
    one_hot = F.one_hot(y, NUM_CLASSES)
    try:
        criterion(logits, one_hot)
        error = ""
    except RuntimeError as exc:
        error = _first_line(exc)
    return OneHotOutcome(criterion(logits, y).item(), criterion(logits, one_hot.float()).item(), error)


@dataclass(frozen=True)
class DeviceMismatch:
    model_device: str
    data_device: str
    gpu: bool  # True: the model really sat on a GPU; False: on PyTorch's "meta" device, this machine has no GPU
    error: str  # PyTorch's own message


def other_device(data_device: torch.device) -> torch.device:
    """A device the data is not on: the GPU where there is one, else "meta" (tensors with shapes but no data),
    which trips the same device check a GPU would."""
    if data_device.type == "cpu" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu") if data_device.type != "cpu" else torch.device("meta")


def device_mismatch(model: nn.Module, x: torch.Tensor) -> DeviceMismatch:
    """The tutorial's ❌: model = model.to('cuda'); output = model(data) with data still on the CPU."""
    device = other_device(x.device)
    model = copy.deepcopy(model).to(device).eval()
    try:
        with torch.no_grad():
            model(x)
        error = ""
    except (RuntimeError, NotImplementedError) as exc:
        error = _first_line(exc)
    return DeviceMismatch(str(device), str(x.device), device.type == "cuda", error)
