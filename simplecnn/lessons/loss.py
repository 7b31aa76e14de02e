"""Lesson 4: CrossEntropyLoss = LogSoftmax + NLLLoss on real logits, so forward must return logits."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class LossParts:
    target: int
    logits: tuple[float, ...]  # what forward returns
    log_probs: tuple[float, ...]  # LogSoftmax(logits)
    probs: tuple[float, ...]  # softmax(logits): what prediction shows
    nll: float  # NLLLoss(log_probs, target) = −log_probs[target]
    cross_entropy: float  # CrossEntropyLoss(logits, target)
    difference: float  # |cross_entropy − nll|


def loss_parts(model: nn.Module, image: torch.Tensor, target: int) -> LossParts:
    """Follow one normalised image (1×1×28×28) through the loss, step by step, in eval mode."""
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        logits = model(image.reshape(1, 1, 28, 28))
    y = torch.tensor([target])
    log_probs = nn.LogSoftmax(dim=1)(logits)
    nll = nn.NLLLoss()(log_probs, y).item()
    ce = nn.CrossEntropyLoss()(logits, y).item()
    return LossParts(
        target,
        tuple(logits[0].tolist()),
        tuple(log_probs[0].tolist()),
        tuple(F.softmax(logits, dim=1)[0].tolist()),
        nll,
        ce,
        abs(ce - nll),
    )


def batch_loss_gap(logits: torch.Tensor, target: torch.Tensor) -> float:
    """max |CrossEntropyLoss − NLLLoss(LogSoftmax)| over a batch, per image (reduction='none')."""
    ce = nn.CrossEntropyLoss(reduction="none")(logits, target)
    nll = nn.NLLLoss(reduction="none")(nn.LogSoftmax(dim=1)(logits), target)
    return (ce - nll).abs().max().item()
