"""Batch-wise augmentation on normalized tensors (no per-sample Python): random affine, and how people write."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from simplecnn.data import BACKGROUND, denormalize, normalize


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


# --- how people write: stroke thickness, blur, small scans, slant, wobble (the shipped checkpoint's fine-tune) ----
def _uniform(n: int, lo: float, hi: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=generator.device).to(device) * (hi - lo) + lo


def _chosen(n: int, prob: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, generator=generator, device=generator.device) < prob).to(device)


def _brightest_to_one(p: torch.Tensor) -> torch.Tensor:
    """As preprocessing does: the strongest ink of each image is 1."""
    return (p / p.amax((2, 3), keepdim=True).clamp(min=1e-3)).clamp(0, 1)


def gaussian_blur(p: torch.Tensor, sigma: float) -> torch.Tensor:
    """One Gaussian (separable) for the whole batch, zero padding (pixels are ink, 0 = paper)."""
    r = max(1, math.ceil(2.5 * sigma))
    t = torch.arange(-r, r + 1, device=p.device, dtype=p.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(p, (r, r, 0, 0)), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r)), k.view(1, 1, -1, 1))


def thickness(p: torch.Tensor, generator: torch.Generator, prob: float) -> torch.Tensor:
    """Thicker or thinner strokes (ink pixels in [0, 1]): blur, then a per-image ink level (low: thicker)."""
    chosen = _chosen(p.shape[0], prob, generator, p.device)
    if not chosen.any():
        return p
    sub = p[chosen]
    n = sub.shape[0]
    soft = _brightest_to_one(gaussian_blur(sub, 0.9))
    thicker = _chosen(n, 0.55, generator, p.device)
    lo = torch.where(thicker, _uniform(n, 0.0, 0.12, generator, p.device), _uniform(n, 0.35, 0.55, generator, p.device))
    hi = torch.where(thicker, _uniform(n, 0.3, 0.5, generator, p.device), _uniform(n, 0.75, 0.95, generator, p.device))
    out = ((soft - lo.view(-1, 1, 1, 1)) / (hi - lo).view(-1, 1, 1, 1)).clamp(0, 1)
    faded = out.amax((2, 3), keepdim=True) < 0.5  # thinned away: keep the original
    p = p.clone()
    p[chosen] = torch.where(faded, sub, out)
    return p


def soften(p: torch.Tensor, generator: torch.Generator, prob: float, sigmas=(0.6, 0.9, 1.2, 1.5)) -> torch.Tensor:
    """Out of focus: a blur of one of a few widths, the strongest ink back to 1."""
    n = p.shape[0]
    chosen = _chosen(n, prob, generator, p.device)
    which = torch.randint(0, len(sigmas), (n,), generator=generator, device=generator.device).to(p.device)
    out = p.clone()
    for k, sigma in enumerate(sigmas):
        sel = chosen & (which == k)
        if sel.any():
            out[sel] = _brightest_to_one(gaussian_blur(p[sel], sigma))
    return out


def small_scan(
    p: torch.Tensor, generator: torch.Generator, prob: float, sides=(8, 9, 10, 11, 12, 14, 16)
) -> torch.Tensor:
    """Scanned at a few pixels (area) and enlarged back (bilinear or bicubic)."""
    n = p.shape[0]
    chosen = _chosen(n, prob, generator, p.device)
    side = torch.randint(0, len(sides), (n,), generator=generator, device=generator.device).to(p.device)
    out = p.clone()
    for k, s in enumerate(sides):
        sel = chosen & (side == k)
        if sel.any():
            small = F.interpolate(p[sel], size=(s, s), mode="area")
            mode = "bicubic" if k % 2 else "bilinear"
            out[sel] = _brightest_to_one(F.interpolate(small, size=p.shape[2:], mode=mode, align_corners=False))
    return out


def warp(
    p: torch.Tensor,
    generator: torch.Generator,
    degrees: float = 12.0,
    shear: float = 0.3,
    scale: tuple[float, float] = (0.85, 1.1),
    shift: float = 2.0 / 28,
    elastic: float = 0.04,
) -> torch.Tensor:
    """Rotation, slant, scale, squash, shift and a smooth elastic wobble, in one grid_sample (ink pixels)."""
    n, dev, g = p.shape[0], p.device, generator
    a = _uniform(n, -degrees, degrees, g, dev) * math.pi / 180
    sh = _uniform(n, -shear, shear, g, dev)
    s = 1.0 / _uniform(n, *scale, g, dev)
    sx = s * _uniform(n, 0.9, 1.1, g, dev)
    tx, ty = _uniform(n, -2 * shift, 2 * shift, g, dev), _uniform(n, -2 * shift, 2 * shift, g, dev)
    c, si = torch.cos(a), torch.sin(a)
    theta = torch.stack(
        [torch.stack([c * sx, (-si + sh * c) * s, tx], 1), torch.stack([si * sx, (c + sh * si) * s, ty], 1)], 1
    )
    grid = F.affine_grid(theta.to(p.dtype), list(p.shape), align_corners=False)
    if elastic > 0:
        field = torch.randn(n, 2, 3, 3, generator=g, device=g.device).to(dev) * elastic
        grid = grid + F.interpolate(field, size=p.shape[2:], mode="bilinear", align_corners=True).permute(0, 2, 3, 1)
    return F.grid_sample(p, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def style_augment(x: torch.Tensor, generator: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Normalized batch → normalized batch written as people write: 40% thicker or thinner strokes, 20% blurred,
    12% small scans enlarged (times `strength`), then every image rotated, slanted, scaled, shifted, wobbled."""
    p = denormalize(x)
    p = thickness(p, generator, 0.4 * strength)
    p = soften(p, generator, 0.2 * strength)
    p = small_scan(p, generator, 0.12 * strength)
    return normalize(warp(p, generator))
