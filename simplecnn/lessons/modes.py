"""Lesson 2: model.train() vs model.eval() — the same weights, the same images, dropout on or off."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from torch import nn

IMAGES = 1000  # test images the lesson page answers (5 train-mode passes: a few seconds on 2 cores)
PASSES = 5


@dataclass(frozen=True)
class ModesResult:
    images: int
    passes: int  # train-mode passes (at least 2)
    eval_accuracy: float
    eval_repeatable: bool  # two eval-mode passes gave bit-identical logits
    train_repeatable: bool  # two train-mode passes gave bit-identical logits (False with dropout)
    train_accuracies: tuple[float, ...]  # one per train-mode pass
    changed_fraction: float  # images whose answer was not the same in every train-mode pass
    differs_from_eval: float  # train-mode answers (all passes) that differ from the eval-mode answer
    seconds: float


def _answers(model: nn.Module, x: torch.Tensor, batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        logits = torch.cat([model(part) for part in x.split(batch)])
    return logits, logits.argmax(1)


def train_vs_eval(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, passes: int = PASSES, seed: int = 0
) -> ModesResult:
    """Answer the images `x` (normalised) twice in eval mode and `passes` (≥ 2) times in train mode."""
    start, passes = time.perf_counter(), max(2, passes)
    model = copy.deepcopy(model)  # switching modes must not touch a model other sessions are using
    model.eval()
    logits_a, eval_pred = _answers(model, x)
    logits_b, _ = _answers(model, x)
    model.train()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        train = [_answers(model, x) for _ in range(passes)]
    train_preds = torch.stack([pred for _, pred in train])
    return ModesResult(
        images=len(y),
        passes=passes,
        eval_accuracy=(eval_pred == y).float().mean().item(),
        eval_repeatable=torch.equal(logits_a, logits_b),
        train_repeatable=torch.equal(train[0][0], train[1][0]),
        train_accuracies=tuple((p == y).float().mean().item() for p in train_preds),
        changed_fraction=(train_preds != train_preds[0]).any(0).float().mean().item(),
        differs_from_eval=(train_preds != eval_pred).float().mean().item(),
        seconds=time.perf_counter() - start,
    )
