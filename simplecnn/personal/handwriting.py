"""A made-up person's handwriting that the shipped model misreads: 1s with a long flag (read as 7), 4s with a
closed, rounded top (read as 9), and the crossed 7s and round 9s that go with them. Drawn like the Draw canvas
(white strokes on black, random hand and stroke width), for tests and the fine-tune benchmark."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from simplecnn.inference.synthetic import jitter, render_strokes

Stroke = list[tuple[float, float]]


def _loop(cx: float, cy: float, r: float, n: int = 40) -> Stroke:
    """A circle drawn from its right side, counter-clockwise on screen (as a hand draws a 9's head)."""
    return [(cx + r * math.cos(-2 * math.pi * t / n), cy + r * math.sin(-2 * math.pi * t / n)) for t in range(n + 1)]


STYLE: dict[int, list[Stroke]] = {
    1: [[(0.2, 0.45), (0.6, 0.12), (0.6, 0.88)]],
    4: [[(0.6, 0.88), (0.6, 0.55), (0.4, 0.55), (0.34, 0.38), (0.45, 0.2), (0.6, 0.2), (0.6, 0.55), (0.67, 0.55)]],
    7: [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.88)], [(0.35, 0.52), (0.68, 0.52)]],
    9: [_loop(0.5, 0.33, 0.15) + [(0.63, 0.6), (0.6, 0.85)]],
}
DIGITS = tuple(STYLE)


def styled_digit(digit: int, rng: np.random.Generator, size: int = 280) -> np.ndarray:
    """One digit in this hand (white on black uint8, size×size)."""
    width = float(rng.uniform(14, 30)) * size / 280
    return render_strokes(jitter(STYLE[digit], rng, scale=(0.6, 1.0), rotate_deg=8.0), width, size)


def styled_digits(seed: int, size: int = 280) -> Iterator[tuple[np.ndarray, int]]:
    """An endless stream of (picture, label), the style's digits in turn."""
    rng = np.random.default_rng(seed)
    for i in range(10**9):
        digit = DIGITS[i % len(DIGITS)]
        yield styled_digit(digit, rng, size), digit
