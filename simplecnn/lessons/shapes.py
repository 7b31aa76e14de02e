"""Lesson 1: every layer's output shape and parameter count from a real forward pass; the padding formula."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from simplecnn.data import IMAGE_SIZE


@dataclass(frozen=True)
class LayerRow:
    name: str  # the attribute name, as in the tutorial's code ("conv1"), or "flatten"
    kind: str  # the module's class name ("Conv2d")
    output_shape: tuple[int, ...]  # batch dimension included
    parameters: int


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)


def layer_table(model: nn.Module, batch: int = 1) -> list[LayerRow]:
    """One row per layer in the order the forward pass calls them, with the shape each one really produced.
    The functional steps (ReLU, tanh, flatten) have no module; flatten gets a row of its own, read from the input
    of the first Linear layer after a 4-D output, because the tutorial comments its shape."""
    rows: list[LayerRow] = []

    def record(name: str, module: nn.Module):
        def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if isinstance(module, nn.Linear) and rows and len(rows[-1].output_shape) == 4:
                rows.append(LayerRow("flatten", "flatten", tuple(inputs[0].shape), 0))
            rows.append(LayerRow(name, type(module).__name__, tuple(output.shape), _params(module)))

        return hook

    # A private copy carries the hooks: the model passed in may be serving other sessions' forward passes.
    model = copy.deepcopy(model).eval()
    for name, module in model.named_children():
        module.register_forward_hook(record(name, module))
    with torch.no_grad():
        model(torch.zeros(batch, 1, IMAGE_SIZE, IMAGE_SIZE, device=next(model.parameters()).device))
    return rows


def conv_output_size(size: int, kernel: int, padding: int = 0, stride: int = 1) -> int:
    """The tutorial's formula, (in − k + 2p) / s + 1, rounded down as PyTorch does when s does not divide."""
    return (size - kernel + 2 * padding) // stride + 1


@dataclass(frozen=True)
class ConvCheck:
    size: int
    kernel: int
    padding: int
    stride: int
    formula: int  # conv_output_size(...)
    exact: float  # (in − k + 2p) / s + 1 before rounding down
    real: int | None  # what a real nn.Conv2d produced (None: it refused)
    error: str | None  # its one-line refusal


def check_conv(size: int, kernel: int, padding: int = 0, stride: int = 1) -> ConvCheck:
    """The formula against a real nn.Conv2d on a size×size image."""
    exact = (size - kernel + 2 * padding) / stride + 1
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding)
    try:
        with torch.no_grad():
            real, error = int(conv(torch.zeros(1, 1, size, size)).shape[-1]), None
    except RuntimeError as exc:
        real, error = None, str(exc).strip().splitlines()[0]
    return ConvCheck(size, kernel, padding, stride, conv_output_size(size, kernel, padding, stride), exact, real, error)
