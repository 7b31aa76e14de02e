"""Held-out sets made apart from `simplecnn.inference.styles`: other typefaces, real handwriting (MNIST test
digits) on a canvas, as a marker, as a small scan enlarged, and non-digits from other generators. Neither the
model's fine-tune nor the digit check's fit saw any of them; benchmarks/digit_styles.py measures them in its
second table (docs/digit-check.md).

Typefaces (Debian packages; a missing one is left out): handwriting — fonts-havana, fonts-lobster,
fonts-ecolier-court, fonts-kiloji, fonts-leckerli-one, fonts-rufscript, fonts-seto, TeX Gyre Chorus
(fonts-texgyre); print — TeX Gyre Adventor/Bonum/Cursor/Heros/Pagella/Schola/Termes, fonts-sil-charis,
fonts-gnutypewriter, fonts-monoid, fonts-opendyslexic, Roboto Condensed (fonts-roboto-unhinted).

Real handwriting of 43 other people: the UCI "optical recognition of handwritten digits" set (1,797 digits, 8×8
pictures of 17 grey levels, Alpaydin & Kaynak 1998, CC BY 4.0), enlarged to the canvas; it is read from the copy
scikit-learn ships (`pip install scikit-learn`; without it the row is left out).
"""

from __future__ import annotations

import glob
import math
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

S = 280
_F = "/usr/share/fonts"
_GYRE = "/usr/share/texmf/fonts/opentype/public/tex-gyre"
HAND_FACES = [
    f"{_F}/opentype/havana/Havana-Regular.otf", f"{_F}/opentype/lobster/lobster.otf",
    f"{_F}/truetype/ecolier-court/Ecolier-court.ttf", *sorted(glob.glob(f"{_F}/truetype/kiloji/*.ttf")),
    f"{_F}/truetype/leckerli-one/LeckerliOne-Regular.ttf", f"{_F}/truetype/rufscript/Rufscript010.ttf",
    f"{_F}/truetype/seto/setofont.ttf", f"{_GYRE}/texgyrechorus-mediumitalic.otf",
]  # fmt: skip
PRINT_FACES = [
    *sorted(glob.glob(f"{_GYRE}/texgyre[abchpst]*-*.otf")), *sorted(glob.glob(f"{_F}/truetype/charis/*.ttf")),
    f"{_F}/truetype/gnutypewriter/GNUTypewriter.ttf", *sorted(glob.glob(f"{_F}/truetype/monoid/Monoid-*.ttf")),
    *sorted(glob.glob(f"{_F}/opentype/opendyslexic/OpenDyslexic-*.otf")),
    *sorted(glob.glob(f"{_F}/truetype/roboto/unhinted/RobotoCondensed-*.ttf")),
]  # fmt: skip
LETTERS = "ACEFHKMNPRUVWXYacefhkmnprtuvwx"  # letters no hand mistakes for a digit (no O, I, l, S, Z, B, g, q...)
SYMBOLS = "#@%&*+=?!$€§~<>^×÷πΩ"
UCI_N = 1797  # all of them: the row is cheap and the set is small
NON_DIGIT_KINDS = ("dot", "line", "scribble", "letter", "symbol", "two_digits", "overdrawn")


def faces(files: list[str]) -> list[str]:
    return [f for f in files if os.path.exists(f) and "math" not in f]


def text_ink(text: str, face: str, rng: np.random.Generator, height: float, bold: float = 0.0) -> np.ndarray | None:
    """`text` in `face`, its ink `height` of the canvas high, anywhere on it, turned up to 8°."""
    bb = ImageFont.truetype(face, 100).getbbox(text)
    if bb is None or bb[3] - bb[1] < 5:
        return None
    px = max(8, int(100 * height * S / (bb[3] - bb[1])))
    font = ImageFont.truetype(face, px)
    box = font.getbbox(text, stroke_width=int(bold * px))
    if box[2] - box[0] > 0.95 * S:
        px = int(px * 0.9 * S / (box[2] - box[0]))
        font = ImageFont.truetype(face, px)
        box = font.getbbox(text, stroke_width=int(bold * px))
    w, h = box[2] - box[0], box[3] - box[1]
    image = Image.new("L", (S, S), 0)
    x, y = rng.uniform(0, max(1, S - w)) - box[0], rng.uniform(0, max(1, S - h)) - box[1]
    ImageDraw.Draw(image).text((x, y), text, font=font, fill=255, stroke_width=int(bold * px), stroke_fill=255)
    centre = (x + box[0] + w / 2, y + box[1] + h / 2)
    ink = np.asarray(image.rotate(rng.uniform(-8, 8), Image.Resampling.BILINEAR, center=centre), np.float32) / 255
    return ink if ink.max() > 0.3 else None


def picture(ink: np.ndarray, k: int) -> np.ndarray:
    """White on black (a canvas) or black on white RGB (a scan), in turn."""
    u8 = (np.clip(ink, 0, 1) * 255).round().astype(np.uint8)
    return u8 if k % 2 == 0 else np.stack([255 - u8] * 3, -1)


def font_digits(files: list[str], n: int, seed: int) -> tuple[list[np.ndarray], list[int]]:
    """n digits, faces in turn, five heights (30-90% of the canvas), some emboldened."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    labels: list[int] = []
    while files and len(out) < n:
        digit = int(rng.integers(10))
        face = files[len(out) % len(files)]
        ink = text_ink(
            str(digit), face, rng, (0.3, 0.45, 0.6, 0.75, 0.9)[len(out) % 5], float(rng.choice([0, 0, 0.02, 0.05]))
        )
        if ink is not None:
            out.append(picture(ink, len(out)))
            labels.append(digit)
    return out, labels


def enlarge(small: np.ndarray, side: int, resample=Image.Resampling.BILINEAR) -> np.ndarray:
    return np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((side, side), resample), np.float32) / 255


def placed(small: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """A 28×28 digit enlarged to `share` of the canvas, somewhere on it."""
    side = int(share * S)
    canvas = np.zeros((S, S), np.float32)
    top, left = rng.integers(0, S - side + 1, size=2)
    canvas[top : top + side, left : left + side] = enlarge(small, side)
    return canvas


def mnist_canvas(pixels: np.ndarray, n: int, seed: int, marker: bool = False) -> list[np.ndarray]:
    """Real handwriting on a canvas, five sizes; marker: strokes widened by 9-17 px."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        ink = placed(pixels[i], rng, (0.4, 0.55, 0.7, 0.85, 1.0)[i % 5])
        if marker:
            wide = Image.fromarray((ink * 255).astype(np.uint8)).filter(
                ImageFilter.MaxFilter(int(rng.choice([9, 13, 17])))
            )
            ink = np.asarray(wide, np.float32) / 255
        out.append(picture(ink, i))
    return out


def mnist_low_res(pixels: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    """As an old scanner kept handwriting: the digit's box at 32×32 black and white, counted in 4×4 blocks (an
    8×8, 12×12 or 16×16 picture of 17 grey levels), then enlarged to the canvas (bilinear or bicubic)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        rows, cols = np.nonzero(pixels[i] > 0.3)
        box = pixels[i][rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        side = int(rng.choice([8, 8, 12, 16]))
        bits = enlarge(box, 4 * side) > 0.5
        small = bits.reshape(side, 4, side, 4).sum((1, 3)) / 16.0
        resample = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC)[i % 2]
        out.append(picture(enlarge(small, S, resample), i))
    return out


def _strokes(strokes: list[list[tuple[float, float]]], width: float) -> np.ndarray:
    image = Image.new("L", (S, S), 0)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pts = [(x * S, y * S) for x, y in stroke]
        if len(pts) > 1:
            pen.line(pts, fill=255, width=int(width), joint="curve")
        for x, y in (pts[0], pts[-1]):
            pen.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=255)
    return np.asarray(image, np.float32) / 255


def _bezier(p: np.ndarray, n: int = 30) -> list[tuple[float, float]]:
    t = np.linspace(0, 1, n)[:, None]
    curve = (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t * t * p[2] + t**3 * p[3]
    return [(float(x), float(y)) for x, y in curve]


def non_digit(kind: str, rng: np.random.Generator, pixels: np.ndarray, labels: np.ndarray, files: list[str]):
    width = float(rng.choice([4, 12, 20, 30, 45]))
    if kind == "dot":
        return _strokes([[tuple(rng.uniform(0.2, 0.8, 2))] for _ in range(int(rng.integers(1, 4)))], rng.uniform(8, 70))
    if kind == "line":  # 35° or more from vertical: a steeper one is a 1
        a, half = math.radians(rng.choice([-1, 1]) * rng.uniform(35, 90)), rng.uniform(0.15, 0.4)
        cx, cy = rng.uniform(0.4, 0.6, 2)
        dx, dy = half * math.sin(a), half * math.cos(a)
        return _strokes([[(cx - dx, cy - dy), (cx + dx, cy + dy)]], width)
    if kind == "scribble":
        curve = _bezier(rng.uniform(0.15, 0.85, (4, 2)))
        for _ in range(int(rng.integers(1, 4))):
            curve += _bezier(np.vstack([curve[-1], rng.uniform(0.15, 0.85, (3, 2))]))[1:]
        return _strokes([curve], width)
    if kind in ("letter", "symbol"):
        text = str(rng.choice(list(LETTERS if kind == "letter" else SYMBOLS)))
        return text_ink(text, str(rng.choice(files)), rng, rng.uniform(0.3, 0.85), float(rng.choice([0, 0.03])))
    i, j = rng.integers(len(pixels), size=2)
    if labels[i] == labels[j]:
        return None
    if kind == "two_digits":
        pair = np.concatenate([pixels[i][:, 3:-3], pixels[j][:, 3:-3]], 1)
        h = int(rng.uniform(0.3, 0.6) * S)
        w = min(S, 2 * h * 22 // 28)
        ink = np.zeros((S, S), np.float32)
        top, left = rng.integers(0, S - h + 1), rng.integers(0, S - w + 1)
        ink[top : top + h, left : left + w] = (
            np.asarray(
                Image.fromarray((pair * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR), np.float32
            )
            / 255
        )
        return ink
    over = np.maximum(pixels[i], np.roll(pixels[j], tuple(int(v) for v in rng.integers(-2, 3, 2)), (0, 1)))
    return placed(over, rng, rng.uniform(0.5, 0.95))  # overdrawn: one digit over another


def non_digit_set(kind: str, n: int, seed: int, pixels: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    files = faces(HAND_FACES + PRINT_FACES)
    out: list[np.ndarray] = []
    while len(out) < n:
        if kind in ("letter", "symbol") and not files:
            break
        ink = non_digit(kind, rng, pixels, labels, files)
        if ink is not None and ink.max() >= 0.3:
            out.append(picture(ink, len(out)))
    return out


def uci_digits() -> tuple[np.ndarray, np.ndarray] | None:
    """The UCI digits scikit-learn ships (pixels 0-1, N×8×8; labels), or None without scikit-learn. Found by path,
    so scikit-learn itself is not imported."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", "digits.csv.gz")
    if not os.path.exists(path):
        return None
    table = np.loadtxt(path, delimiter=",")
    return (table[:, :64] / 16.0).reshape(-1, 8, 8).astype(np.float32), table[:, 64].astype(int)


def uci_low_res(n: int) -> tuple[list[np.ndarray], list[int]]:
    """The first n UCI digits, each 8×8 picture enlarged (bilinear) to the whole canvas."""
    found = uci_digits()
    if found is None:
        return [], []
    pixels, labels = found
    return [picture(enlarge(pixels[i], S), i) for i in range(min(n, len(labels)))], [int(v) for v in labels[:n]]


def digit_sets(pixels: np.ndarray, labels: np.ndarray, n: int) -> dict[str, tuple[str, list[np.ndarray], list[int]]]:
    """name → (what, pictures, labels). pixels/labels: the MNIST test set (the fit never uses it)."""
    hand, printed = faces(HAND_FACES), faces(PRINT_FACES)
    y = [list(labels[k : k + n]) for k in (5000, 6000, 7000)]
    sets = {
        "font_hand_other": (f"{len(hand)} other handwriting typefaces",) + font_digits(hand, n if hand else 0, 1),
        "font_print_other": (f"{len(printed)} other print typefaces",) + font_digits(printed, n if printed else 0, 2),
        "mnist_canvas": ("MNIST test handwriting on a canvas", mnist_canvas(pixels[5000:], n, 3), y[0]),
        "mnist_marker": ("the same, strokes widened 9-17 px", mnist_canvas(pixels[6000:], n, 4, True), y[1]),
        "mnist_low_res": ("8-16 px scans (17 levels) enlarged", mnist_low_res(pixels[7000:], n, 5), y[2]),
        "uci_low_res": ("UCI handwriting of 43 people, 8×8 scans enlarged", *uci_low_res(UCI_N)),
    }
    return {k: v for k, v in sets.items() if v[1]}
