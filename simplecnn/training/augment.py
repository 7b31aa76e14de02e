"""Batch-wise random affine augmentation on normalized tensors (no per-sample Python)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from simplecnn.data import BACKGROUND


def random_affine(
    x: torch.Tensor,
    generator: torch.Generator,
    degrees: float = 10.0,
    translate: float = 2.0 / 28,
    scale: tuple[float, float] = (0.9, 1.1),
) -> torch.Tensor:
    """Rotate ±degrees, shift ±translate (fraction of the image), scale within `scale`, per image."""
    n = x.shape[0]

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=generator, device=generator.device).to(x.device) * (hi - lo) + lo

    angle = uniform(-degrees, degrees) * (math.pi / 180)
    inv_scale = 1.0 / uniform(*scale)
    tx, ty = uniform(-2 * translate, 2 * translate), uniform(-2 * translate, 2 * translate)
    cos, sin = torch.cos(angle) * inv_scale, torch.sin(angle) * inv_scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    # grid_sample pads with 0, which is not the normalized background: shift so background is 0.
    out = F.grid_sample(x - BACKGROUND, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out + BACKGROUND
