"""SimpleCNN's eval-mode forward pass, keeping every stage: for the inside view and the digit check."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from simplecnn.model import SimpleCNN


def forward_stages(model: SimpleCNN, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every stage of the forward pass in eval mode (dropout is the identity there). Explicit calls, not forward
    hooks: one model object serves every session, and hooks registered on it by two threads at once would read
    each other's layers."""
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
