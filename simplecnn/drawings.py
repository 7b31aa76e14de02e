"""Synthetic 'canvas drawings' made from MNIST test digits: off-centre, small or large, in the three
encodings a browser or an upload gives. Used to measure our preprocessing against a plain resize."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

ENCODINGS = ("light_on_dark", "dark_on_light", "alpha")


def make_drawing(pixels28: np.ndarray, rng: np.random.Generator, size: int = 280,
                 encoding: str = "light_on_dark") -> np.ndarray:
    """Scale a 28×28 [0,1] digit to a random height (15–90% of the canvas) at a random place."""
    ys, xs = np.nonzero(pixels28 > 0.05)
    digit = pixels28[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    height = int(rng.uniform(0.15, 0.9) * size)
    width = max(1, int(round(digit.shape[1] * height / digit.shape[0])))
    width = min(width, size)
    big = F.interpolate(torch.from_numpy(np.ascontiguousarray(digit, dtype=np.float32))[None, None],
                        size=(height, width), mode="bilinear", align_corners=False)[0, 0].clamp(0, 1).numpy()
    canvas = np.zeros((size, size), np.float32)
    top, left = rng.integers(0, size - height + 1), rng.integers(0, size - width + 1)
    canvas[top:top + height, left:left + width] = big
    u8 = (canvas * 255).round().astype(np.uint8)
    if encoding == "light_on_dark":
        return u8
    if encoding == "dark_on_light":
        return np.stack([255 - u8] * 3, axis=-1)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., 3] = u8
    return rgba


def naive_input(image: np.ndarray) -> torch.Tensor:
    """The baseline: resize the whole canvas to 28×28 (as the light-on-dark grey image), then normalize."""
    from .data import normalize

    arr = image if image.ndim == 2 else image[..., 3] if image.shape[2] == 4 else 255 - image[..., 0]
    t = torch.from_numpy(arr.astype(np.float32) / 255)[None, None]
    return normalize(F.interpolate(t, size=(28, 28), mode="area"))
