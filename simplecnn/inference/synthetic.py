"""Synthetic 'canvas drawings' made from MNIST test digits: off-centre, small or large, in the three
encodings a browser or an upload gives. Used to measure our preprocessing against a plain resize."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

ENCODINGS = ("light_on_dark", "dark_on_light", "alpha")


def make_drawing(
    pixels28: np.ndarray, rng: np.random.Generator, size: int = 280, encoding: str = "light_on_dark"
) -> np.ndarray:
    """Scale a 28×28 [0,1] digit to a random height (15–90% of the canvas) at a random place."""
    ys, xs = np.nonzero(pixels28 > 0.05)
    digit = pixels28[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    height = int(rng.uniform(0.15, 0.9) * size)
    width = max(1, int(round(digit.shape[1] * height / digit.shape[0])))
    width = min(width, size)
    big = (
        F.interpolate(
            torch.from_numpy(np.ascontiguousarray(digit, dtype=np.float32))[None, None],
            size=(height, width),
            mode="bilinear",
            align_corners=False,
        )[0, 0]
        .clamp(0, 1)
        .numpy()
    )
    canvas = np.zeros((size, size), np.float32)
    top, left = rng.integers(0, size - height + 1), rng.integers(0, size - width + 1)
    canvas[top : top + height, left : left + width] = big
    return encode((canvas * 255).round().astype(np.uint8), encoding)


def encode(u8: np.ndarray, encoding: str) -> np.ndarray:
    """A white-on-black uint8 drawing in one of ENCODINGS: grey, black-on-white RGB, or ink only in alpha."""
    if encoding == "light_on_dark":
        return u8
    if encoding == "dark_on_light":
        return np.stack([255 - u8] * 3, axis=-1)
    rgba = np.zeros(u8.shape + (4,), np.uint8)
    rgba[..., 3] = u8
    return rgba


Stroke = list[tuple[float, float]]


def _circle(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, turns: float = 1.0, n: int = 40) -> Stroke:
    return [
        (
            cx + rx * math.sin(start + t * 2 * math.pi * turns / n),
            cy - ry * math.cos(start + t * 2 * math.pi * turns / n),
        )
        for t in range(n + 1)
    ]


def digit_strokes(digit: int) -> list[Stroke]:
    """One person's way of drawing each digit (the e2e tests' 1, 7 and 0 among them)."""
    if digit == 8:
        return [[(0.5 + 0.16 * math.sin(t * math.pi / 10), 0.5 - 0.32 * math.cos(t * math.pi / 20)) for t in range(42)]]
    if digit == 9:
        return [_circle(0.5, 0.33, 0.15, 0.15, math.pi / 2, 1.0) + [(0.63, 0.6), (0.6, 0.85)]]
    return DIGIT_STROKES[digit]


DIGIT_STROKES: dict[int, list[Stroke]] = {
    0: [_circle(0.5, 0.5, 0.24, 0.34, 0.0, 42 / 40)],
    1: [[(0.52, 0.15), (0.5, 0.5), (0.48, 0.85)]],
    2: [[(0.3, 0.3), (0.4, 0.2), (0.55, 0.18), (0.67, 0.25), (0.68, 0.38), (0.6, 0.5), (0.3, 0.8), (0.72, 0.8)]],
    3: [
        [
            (0.3, 0.22),
            (0.5, 0.17),
            (0.66, 0.25),
            (0.64, 0.38),
            (0.48, 0.47),
            (0.66, 0.56),
            (0.68, 0.7),
            (0.52, 0.82),
            (0.3, 0.78),
        ]
    ],
    4: [[(0.55, 0.15), (0.28, 0.6), (0.75, 0.6)], [(0.62, 0.35), (0.62, 0.85)]],
    5: [
        [
            (0.68, 0.18),
            (0.35, 0.18),
            (0.33, 0.45),
            (0.5, 0.42),
            (0.65, 0.5),
            (0.68, 0.65),
            (0.58, 0.8),
            (0.42, 0.82),
            (0.3, 0.76),
        ]
    ],
    6: [
        [
            (0.62, 0.15),
            (0.45, 0.3),
            (0.35, 0.5),
            (0.34, 0.68),
            (0.45, 0.8),
            (0.6, 0.78),
            (0.66, 0.65),
            (0.6, 0.52),
            (0.45, 0.5),
            (0.35, 0.6),
        ]
    ],
    7: [[(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.62, 0.5), (0.5, 0.85)]],
}

LETTER_STROKES: dict[str, list[Stroke]] = {
    "A": [[(0.25, 0.85), (0.5, 0.15), (0.75, 0.85)], [(0.35, 0.6), (0.65, 0.6)]],
    "K": [[(0.3, 0.15), (0.3, 0.85)], [(0.72, 0.15), (0.3, 0.55)], [(0.42, 0.45), (0.72, 0.85)]],
    "M": [[(0.2, 0.85), (0.25, 0.15), (0.5, 0.6), (0.75, 0.15), (0.8, 0.85)]],
    "W": [[(0.15, 0.2), (0.3, 0.82), (0.5, 0.35), (0.7, 0.82), (0.85, 0.2)]],
    "X": [[(0.25, 0.2), (0.75, 0.8)], [(0.75, 0.2), (0.25, 0.8)]],
    "#": [
        [(0.4, 0.15), (0.35, 0.85)],
        [(0.65, 0.15), (0.6, 0.85)],
        [(0.2, 0.38), (0.8, 0.38)],
        [(0.2, 0.62), (0.8, 0.62)],
    ],
}
LETTERS = tuple(LETTER_STROKES)


def render_strokes(strokes: list[Stroke], width: float, size: int = 280) -> np.ndarray:
    """White strokes with round caps and joins on a black size×size canvas (uint8), like the Draw page's."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(image)
    r = width / 2
    for stroke in strokes:
        points = [(x * size, y * size) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=255, width=max(1, round(width)))
        for x, y in points:
            pen.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(image)


def _densify(stroke: Stroke, step: float = 0.02) -> Stroke:
    """Points every `step` along the stroke, so jitter bends lines the way a hand does."""
    out = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
    return out


def jitter(
    strokes: list[Stroke], rng: np.random.Generator, scale: tuple[float, float] = (0.5, 1.1), rotate_deg: float = 10.0
) -> list[Stroke]:
    """A random hand: scale, small rotation and shear, a shift that keeps it on the canvas, wobbly lines."""
    s = rng.uniform(*scale)
    angle = math.radians(rng.uniform(-rotate_deg, rotate_deg))
    shear = rng.uniform(-0.15, 0.15)
    a, b = s * math.cos(angle), -s * math.sin(angle) + shear * s
    c, d = s * math.sin(angle), s * math.cos(angle)
    moved = [
        [(a * (x - 0.5) + b * (y - 0.5), c * (x - 0.5) + d * (y - 0.5)) for x, y in _densify(stroke)]
        for stroke in strokes
    ]
    xs = [x for st in moved for x, _ in st]
    ys = [y for st in moved for _, y in st]
    dx = rng.uniform(0.06 - min(xs), 0.94 - max(xs)) if max(xs) - min(xs) < 0.88 else 0.5 - (min(xs) + max(xs)) / 2
    dy = rng.uniform(0.06 - min(ys), 0.94 - max(ys)) if max(ys) - min(ys) < 0.88 else 0.5 - (min(ys) + max(ys)) / 2
    wobble = rng.normal(0, 0.006, size=2)
    return [
        [(x + dx + wobble[0] * math.sin(7 * y), y + dy + wobble[1] * math.sin(7 * x)) for x, y in st] for st in moved
    ]


def stroke_width(rng: np.random.Generator, size: int = 280) -> float:
    """The Draw page's stroke slider spans 6-40 px on 280 px; people mostly keep the default 20."""
    return float(rng.uniform(10, 36)) * size / 280


def drawn_digit(digit: int, rng: np.random.Generator, size: int = 280) -> np.ndarray:
    """One digit drawn with a random hand and stroke width (white on black uint8)."""
    return render_strokes(jitter(digit_strokes(digit), rng), stroke_width(rng, size), size)


def stroke_digit_set(n: int, seed: int, size: int = 280) -> tuple[list[np.ndarray], list[int]]:
    """n stroke-drawn digits (0-9 in turn) in the three encodings in turn, and their labels."""
    rng = np.random.default_rng(seed)
    labels = [i % 10 for i in range(n)]
    return [encode(drawn_digit(d, rng, size), ENCODINGS[i % 3]) for i, d in enumerate(labels)], labels


def mnist_drawing_set(pixels: np.ndarray, seed: int, size: int = 280) -> list[np.ndarray]:
    """make_drawing over each 28x28 [0,1] digit, the three encodings in turn."""
    rng = np.random.default_rng(seed)
    return [make_drawing(p, rng, size, ENCODINGS[i % 3]) for i, p in enumerate(pixels)]


# What people draw that is not one digit. A vertical line is left out on purpose: it is a 1.
NON_DIGIT_KINDS = (
    "dot",
    "line",
    "zigzag",
    "scribble",
    "letter",
    "font_letter",
    "seven_over_zero",
    "digit_over_digit",
    "mnist_pair",
)


def _dot(rng: np.random.Generator) -> list[Stroke]:
    x, y = rng.uniform(0.1, 0.9, size=2)
    return [[(float(x), float(y))]]


def _line(rng: np.random.Generator) -> list[Stroke]:
    """A straight stroke at least 35° away from vertical (steeper ones are read as 1s, rightly)."""
    angle = math.radians(rng.uniform(-55, 55))
    half = rng.uniform(0.15, 0.4)
    dx, dy = half * math.cos(angle), half * math.sin(angle)
    return [[(0.5 - dx, 0.5 - dy), (0.5 + dx, 0.5 + dy)]]


def _zigzag(rng: np.random.Generator) -> list[Stroke]:
    n = int(rng.integers(5, 10))
    amp, y0 = rng.uniform(0.1, 0.3), rng.uniform(0.35, 0.65)
    return [[(0.1 + 0.8 * k / (n - 1), y0 + (amp if k % 2 else -amp)) for k in range(n)]]


def _scribble(rng: np.random.Generator) -> list[Stroke]:
    n = int(rng.integers(6, 14))
    return [[(float(x), float(y)) for x, y in rng.uniform(0.15, 0.85, size=(n, 2))]]


def _pair(rng: np.random.Generator) -> list[Stroke]:
    a, b = rng.choice(10, size=2, replace=False)
    return digit_strokes(int(a)) + digit_strokes(int(b))


def _font_letter(rng: np.random.Generator, size: int) -> np.ndarray:
    """A letter typeset with Pillow's built-in font (no system fonts needed), thick strokes, at canvas size."""
    from PIL import Image, ImageDraw, ImageFont

    letter = str(rng.choice(LETTERS))
    font = ImageFont.load_default(size=int(size * rng.uniform(0.4, 0.8)))
    image = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(image)
    box = pen.textbbox((0, 0), letter, font=font, stroke_width=int(size * 0.03))
    x = rng.uniform(0, max(1.0, size - (box[2] - box[0]))) - box[0]
    y = rng.uniform(0, max(1.0, size - (box[3] - box[1]))) - box[1]
    pen.text((x, y), letter, fill=255, font=font, stroke_width=int(size * rng.uniform(0.01, 0.04)), stroke_fill=255)
    return np.asarray(image)


def _mnist_pair(rng: np.random.Generator, pixels: np.ndarray, labels: np.ndarray, size: int) -> np.ndarray:
    """Two MNIST digits of different classes superimposed (one shifted a little), drawn on the canvas."""
    i = int(rng.integers(len(pixels)))
    j = int(rng.choice(np.flatnonzero(labels != labels[i])))
    shifted = np.roll(pixels[j], tuple(int(v) for v in rng.integers(-3, 4, size=2)), axis=(0, 1))
    return make_drawing(np.maximum(pixels[i], shifted), rng, size)


STROKED = {
    "dot": _dot,
    "line": _line,
    "zigzag": _zigzag,
    "scribble": _scribble,
    "digit_over_digit": _pair,
    "letter": lambda rng: LETTER_STROKES[str(rng.choice(LETTERS))],
    "seven_over_zero": lambda rng: digit_strokes(7) + digit_strokes(0),
}


def non_digit(kind: str, rng: np.random.Generator, size: int = 280, mnist: tuple | None = None) -> np.ndarray:
    """One white-on-black uint8 picture of `kind` (NON_DIGIT_KINDS); mnist_pair needs (pixels, labels)."""
    if kind == "font_letter":
        return _font_letter(rng, size)
    if kind == "mnist_pair":
        if mnist is None:
            raise ValueError("mnist_pair needs MNIST pixels and labels")
        return _mnist_pair(rng, mnist[0], mnist[1], size)
    strokes = STROKED[kind](rng)
    if kind == "dot":
        return render_strokes(strokes, rng.uniform(6, 60) * size / 280, size)
    return render_strokes(jitter(strokes, rng), stroke_width(rng, size), size)


def non_digit_set(
    n_per_kind: int, seed: int, size: int = 280, mnist: tuple | None = None, kinds: tuple[str, ...] = NON_DIGIT_KINDS
) -> tuple[list[np.ndarray], list[str]]:
    """n_per_kind pictures of each kind (mnist_pair only when MNIST is given), encodings in turn."""
    rng = np.random.default_rng(seed)
    images, names = [], []
    for kind in kinds:
        if kind == "mnist_pair" and mnist is None:
            continue
        for i in range(n_per_kind):
            images.append(encode(non_digit(kind, rng, size, mnist), ENCODINGS[i % 3]))
            names.append(kind)
    return images, names
