"""Each network's eval-mode forward pass, keeping every stage: for the inside view and the digit check."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from simplecnn.model import LeNet5, SimpleCNN


def forward_stages(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every stage of `model`'s forward pass in eval mode, named alike across networks where they play the same
    part: pool1 and pool2 end the two convolution blocks, fc1 is the first linear layer before its activation,
    logits the answer. Explicit calls, not forward hooks: one model object serves every session, and hooks
    registered on it by two threads at once would read each other's layers."""
    if isinstance(model, LeNet5):
        return lenet5_stages(model, x)
    return simplecnn_stages(model, x)  # type: ignore[arg-type]


def simplecnn_stages(model: SimpleCNN, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """SimpleCNN's stages (dropout is the identity in eval mode)."""
    a1 = F.relu(model.conv1(x))
    a2 = F.relu(model.conv2(a1))
    p1 = model.pool1(a2)
    a3 = F.relu(model.conv3(p1))
    a4 = F.relu(model.conv4(a3))
    p2 = model.pool2(a4)
    fc1 = model.fc1(torch.flatten(p2, 1))
    relu_fc1 = F.relu(fc1)
    return {
        "conv1": a1,
        "conv2": a2,
        "pool1": p1,
        "conv3": a3,
        "conv4": a4,
        "pool2": p2,
        "fc1": fc1,  # before its ReLU
        "fc128": relu_fc1,  # ReLU(fc1): the 128-number embedding
        "logits": model.fc2(relu_fc1),
    }


def lenet5_stages(model: LeNet5, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """LeNet-5's stages: convK is tanh(convK(its input)), as its forward pass hands it to the pool."""
    a1 = torch.tanh(model.conv1(x))
    p1 = model.pool1(a1)
    a2 = torch.tanh(model.conv2(p1))
    p2 = model.pool2(a2)
    fc1 = model.fc1(torch.flatten(p2, 1))
    fc2 = torch.tanh(model.fc2(torch.tanh(fc1)))
    return {
        "conv1": a1,
        "pool1": p1,
        "conv2": a2,
        "pool2": p2,
        "fc1": fc1,  # before its tanh
        "fc84": fc2,  # tanh(fc2): the 84-number embedding
        "logits": model.fc3(fc2),
    }


def conv_stages(model: nn.Module) -> tuple[str, ...]:
    """The names of `model`'s convolution stages in forward_stages, in order."""
    return ("conv1", "conv2") if isinstance(model, LeNet5) else ("conv1", "conv2", "conv3", "conv4")


def embedding_stage(model: nn.Module) -> str:
    """The name of `model`'s last hidden layer in forward_stages: the digit's embedding (neighbours, map)."""
    return "fc84" if isinstance(model, LeNet5) else "fc128"
