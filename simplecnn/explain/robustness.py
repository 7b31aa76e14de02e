"""Where the model breaks: the robustness lab (move, turn, thicken, noise) and the adversarial nudge."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simplecnn.data import IMAGE_SIZE, denormalize, normalize
from simplecnn.explain.activations import ExplainError, _check_input

PGD_STEPS = 40
PGD_STEP_FRACTION = 0.1  # each PGD step moves eps/10: 40 steps can cross the eps-ball twice
PGD_CONFIDENT = 0.5  # stop once another digit wins with this probability: the smallest convincing change


# ---------------------------------------------------------------- robustness


@dataclass(frozen=True)
class Transform:
    """One robustness-lab setting; the default changes nothing."""

    shift_x: float = 0.0  # pixels, right positive
    shift_y: float = 0.0  # pixels, down positive
    rotation: float = 0.0  # degrees, counter-clockwise positive
    scale: float = 1.0  # 1 = unchanged, around the image centre
    thickness: int = 0  # +n dilates the strokes n times (3×3), −n erodes them
    noise: float = 0.0  # std of Gaussian pixel noise (0–1 pixel units), clipped to [0, 1]
    seed: int = 0  # the noise pattern: the same setting gives the same picture


def _affine(pixels: torch.Tensor, t: Transform) -> torch.Tensor:
    angle = math.radians(t.rotation)
    cos, sin = math.cos(angle) / t.scale, math.sin(angle) / t.scale
    # affine_grid maps output → input coordinates in [-1, 1]; hence the inverse rotation/scale and minus shift.
    half = IMAGE_SIZE / 2
    theta = torch.tensor(
        [
            [
                [cos, -sin, -t.shift_x / half * cos + t.shift_y / half * sin],
                [sin, cos, -t.shift_x / half * sin - t.shift_y / half * cos],
            ]
        ],
        dtype=torch.float32,
    )
    grid = F.affine_grid(theta, [1, 1, IMAGE_SIZE, IMAGE_SIZE], align_corners=False)
    return F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def transform_pixels(pixels: np.ndarray, t: Transform) -> np.ndarray:
    """A 28×28 [0, 1] digit (white on black) moved, turned, scaled, thickened/thinned and noised."""
    if t.scale <= 0:
        raise ExplainError(f"scale must be positive, not {t.scale}")
    p = torch.as_tensor(np.asarray(pixels, np.float32)).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE)
    if (t.shift_x, t.shift_y, t.rotation, t.scale) != (0.0, 0.0, 0.0, 1.0):
        p = _affine(p, t)
    for _ in range(abs(t.thickness)):
        p = F.max_pool2d(p, 3, 1, 1) if t.thickness > 0 else -F.max_pool2d(-p, 3, 1, 1)
    if t.noise > 0:
        gen = torch.Generator().manual_seed(t.seed)
        p = p + t.noise * torch.randn(p.shape, generator=gen)
    return p.clamp(0, 1)[0, 0].numpy()


def pixels_of(x: torch.Tensor) -> np.ndarray:
    """The model's normalised input → 28×28 [0, 1] pixels."""
    return denormalize(_check_input(x).clone())[0, 0].numpy()


def input_of(pixels: np.ndarray) -> torch.Tensor:
    """28×28 [0, 1] pixels → the model's normalised 1×1×28×28 input."""
    return normalize(torch.as_tensor(np.asarray(pixels, np.float32)).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE))


@dataclass(frozen=True)
class Scored:
    pixels: np.ndarray  # 28×28 [0, 1]
    digit: int
    probabilities: np.ndarray  # 10

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])


@torch.no_grad()
def score(model: nn.Module, pixels: np.ndarray) -> Scored:
    model.eval()
    probs = torch.softmax(model(input_of(pixels)).float()[0], 0).numpy()
    return Scored(np.asarray(pixels, np.float32), int(probs.argmax()), probs)


def robustness(model: nn.Module, x: torch.Tensor, t: Transform) -> Scored:
    """The digit under one robustness-lab setting, and what the model now reads."""
    return score(model, transform_pixels(pixels_of(x), t))


# ---------------------------------------------------------------- adversarial nudge


@dataclass(frozen=True)
class Adversarial:
    x: torch.Tensor  # perturbed input, normalised like the input (1×1×28×28)
    digit: int  # the model's prediction on .x
    probabilities: np.ndarray  # 10, on .x
    original_digit: int  # the prediction on the unperturbed input
    eps: float  # L∞ bound in 0–1 pixel units
    perturbation: np.ndarray  # 28×28 pixel change (.x − x in 0–1 units), each within ±eps

    @property
    def flipped(self) -> bool:
        return self.digit != self.original_digit

    @property
    def pixels(self) -> np.ndarray:
        return pixels_of(self.x)


def adversarial(model: nn.Module, x: torch.Tensor, eps: float, steps: int = PGD_STEPS) -> Adversarial:
    """Untargeted PGD (L∞) in the model's 0–1 pixel space: push the loss of the current prediction up.

    Steps of eps/10 along the gradient's sign, projected back into the eps-ball and [0, 1]. It stops at the first
    iterate that another digit wins with ≥ 50% (the smallest convincing change); otherwise it returns the flipped
    iterate with the most wrong-class probability, or, if nothing flipped, the last one. `.digit`/.probabilities
    are always re-scored on the returned `.x`.
    """
    if not 0 <= eps <= 1:
        raise ExplainError(f"eps must be between 0 and 1 (pixel units), not {eps}")
    model.eval()
    start = torch.as_tensor(pixels_of(x)).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE)
    with torch.no_grad():
        original = int(model(normalize(start)).argmax(1)[0])
    target = torch.tensor([original])
    adv, best, best_score = start.clone(), start.clone(), -1.0
    step = max(eps * PGD_STEP_FRACTION, 1e-4)
    for _ in range(steps if eps > 0 else 0):
        adv.requires_grad_(True)
        logits = model(normalize(adv))
        loss = F.cross_entropy(logits, target)
        (grad,) = torch.autograd.grad(loss, adv)
        with torch.no_grad():
            probs = torch.softmax(logits[0], 0)
            wrong = float(1 - probs[original])
            if int(probs.argmax()) != original and wrong > best_score:
                best, best_score = adv.detach().clone(), wrong
                if float(probs.max()) >= PGD_CONFIDENT:
                    break  # a confident flip: more steps would only spend the rest of the eps budget
            adv = torch.min(torch.max(adv + step * grad.sign(), start - eps), start + eps).clamp(0, 1)
    final, probs = _rescore(model, adv.detach() if best_score < 0 else best)
    return Adversarial(
        normalize(final), int(probs.argmax()), probs.numpy(), original, float(eps), (final - start)[0, 0].numpy()
    )


@torch.no_grad()
def _rescore(model: nn.Module, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return pixels, torch.softmax(model(normalize(pixels)).float()[0], 0)
