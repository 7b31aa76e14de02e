#!/usr/bin/env python3
"""Read the digit in a picture with the exported SimpleCNN: python predict_onnx.py digit.png [more.png ...]

Needs only numpy, Pillow and onnxruntime (pip install numpy pillow onnxruntime). The picture goes through the
same steps as in SimpleCNN Studio, the way MNIST's digits were made: find the ink (dark on light, light on dark
or in the alpha channel; against the paper's own, possibly uneven, light), crop to it (ignoring specks), bring a
marker-thick or hairline stroke into MNIST's range of widths, scale its longer side to 20 px, place it in 28×28
by its centre of mass,
then normalise with MNIST's mean and standard deviation (model_card.json says the same).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

try:
    import numpy as np
except ImportError:  # one line, not a traceback: this script runs on machines without the studio
    sys.exit("error: numpy is missing: pip install numpy pillow onnxruntime")

MEAN, STD = 0.1307, 0.3081  # MNIST's pixel mean and standard deviation (model_card.json: preprocessing)
SIZE, BOX, COM_TARGET, MARGIN = 28, 20, 14.0, 1
MAX_SIDE = 1024  # bigger pictures are reduced first: the digit ends up 20 px anyway
MAX_PIXELS = 100_000_000
BLANK_CONTRAST, NOISE_FLOOR = 0.08, 0.10
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")
FIT_SIDE, SURFACE_ROUNDS, MIN_SURFACE_SIDE, INK_SIGMAS = 48, 4, 24, 3.0  # the paper's light (see ink_map)
FLAT_LEVEL, FLAT_SHARE, PAPER_SHARE = 2 / 255, 0.5, 0.35  # a digital picture's flat paper; the fit's first paper
SPECK_SCALE, SPECK_SHARE, SPECK_INK = 280, 56, 0.1  # specks of grain or dust left out of the crop
WIDTH_RANGE, WIDTH_TARGET = (1.3, 3.0), (1.6, 2.5)  # stroke widths (px at 20 px) kept / brought to


def read_image(path: str) -> np.ndarray:
    """The picture as an array: greyscale, or RGBA when it has transparency (ink may live in alpha)."""
    from PIL import Image

    with Image.open(path) as img:
        if img.width * img.height > MAX_PIXELS:
            raise ValueError(f"image too large ({img.width}×{img.height} pixels)")
        img.draft("L", (MAX_SIDE, MAX_SIDE))
        if max(img.size) > MAX_SIDE:
            img.thumbnail((MAX_SIDE, MAX_SIDE))
        if img.mode in WIDE_MODES:
            top = 65535.0 if img.mode.startswith("I;16") else max(1.0, float(np.asarray(img).max()))
            return np.asarray(img.convert("F") if img.mode != "F" else img, dtype=np.float32) / top
        alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
        return np.asarray(img.convert("RGBA" if alpha else "L"))


def as_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        top = float(arr.max()) if arr.size else 0.0
        scale = 255.0 if arr.dtype == np.uint8 or top <= 255 else 65535.0 if top <= 65535 else top
        return arr.astype(np.float32) / scale
    arr = arr.astype(np.float32)
    top = float(arr.max()) if arr.size else 0.0
    return arr / 255.0 if top > 1.0 else arr


def reduce(ink: np.ndarray) -> np.ndarray:
    """Average k×k blocks (the last ones partial) when a side is over MAX_SIDE."""
    k = math.ceil(max(ink.shape) / MAX_SIDE)
    if k <= 1:
        return ink
    h, w = ink.shape
    sums = np.add.reduceat(np.add.reduceat(ink, np.arange(0, h, k), axis=0), np.arange(0, w, k), axis=1)
    rows = np.minimum(np.arange(0, h, k) + k, h) - np.arange(0, h, k)
    cols = np.minimum(np.arange(0, w, k) + k, w) - np.arange(0, w, k)
    return (sums / np.outer(rows, cols)).astype(np.float32)


def ink_map(arr: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1]: from alpha when the background is transparent, else against the border's colour."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    pixels = as_float(arr)
    alpha = None
    if pixels.ndim == 3:
        has_alpha = pixels.shape[2] in (2, 4)
        colour = pixels[:, :, :-1] if has_alpha else pixels
        alpha = pixels[:, :, -1] if has_alpha else None
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        grey = colour[:, :, 0] if colour.shape[2] == 1 else colour @ weights
    else:
        grey = pixels
    if alpha is not None and float(alpha.max() - alpha.min()) > BLANK_CONTRAST:
        return reduce(np.clip(alpha, 0.0, 1.0))
    grey = reduce(np.clip(grey, 0.0, 1.0))
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    on_paper = float(np.median(border)) >= 0.5
    signed = (1.0 - grey) if on_paper else grey  # ink positive, paper near its own level
    surface, paper = background_surface(signed)
    ink = signed - surface
    if on_paper:  # light falls on ink and paper alike: ink is how much darker than its paper it is
        ink = ink / np.maximum(1.0 - surface, 0.2)
    # Paper grain and sensor noise, measured on the paper at the border: within a few deviations of it is not ink.
    return np.clip(ink - INK_SIGMAS * paper_noise(ink, paper), 0.0, 1.0)


def paper_noise(ink: np.ndarray, paper: np.ndarray) -> float:
    """Robust deviation of the ink map on the border's paper (the border pixels the surface fit took for paper):
    a digit filling the frame, as a small scan enlarged does, puts ink on the border, and ink is not noise."""
    rim = np.zeros(ink.shape, bool)
    rim[[0, -1]] = rim[:, [0, -1]] = True
    values = ink[rim & paper] if (rim & paper).sum() >= 8 else ink[rim]
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each factor×factor block (edge blocks padded with their edge)."""
    if factor == 1:
        return image
    h, w = image.shape
    padded = np.pad(image, ((0, -h % factor), (0, -w % factor)), mode="edge")
    return padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor).mean((1, 3))


def _quadratic_terms(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], -1)


def background_surface(signed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The paper (or screen) under the ink: a quadratic surface fitted to the pixels that are not ink, so the
    shadow across an unevenly lit photo is not taken for ink. A flat canvas gives a flat surface at its level.
    Also returns which pixels were taken for paper (where the paper's own noise can be measured)."""
    h, w = signed.shape
    if min(h, w) < MIN_SURFACE_SIDE:  # too few rows or columns to tell a slope of light from a stroke
        border = np.zeros(signed.shape, bool)
        border[[0, -1]] = border[:, [0, -1]] = True
        return np.full(signed.shape, np.median(signed[border]), np.float32), border
    flat = signed <= float(signed.min()) + FLAT_LEVEL
    rim = np.concatenate([flat[0], flat[-1], flat[:, 0], flat[:, -1]])
    if rim.mean() >= FLAT_SHARE:  # a screen or a digital picture: its paper is one level, no light to correct
        return np.full(signed.shape, float(signed[flat].mean()), np.float32), flat
    side = max(h, w)
    factor = max(1, int(np.ceil(side / FIT_SIDE)))
    small = _block_mean(signed.astype(np.float64), factor)
    rows, cols = np.indices(small.shape)
    terms = _quadratic_terms((rows.ravel() + 0.5) * factor / side, (cols.ravel() + 0.5) * factor / side)
    values = small.ravel()
    # Start from the darker third: a digit filling the frame (a small scan enlarged) can cover half the picture.
    paper = values <= np.quantile(values, PAPER_SHARE)
    coef = np.zeros(6)
    for _ in range(SURFACE_ROUNDS):
        if paper.sum() < 12:
            break
        t = terms[paper]
        coef = np.linalg.solve(t.T @ t + 1e-9 * np.eye(6), t.T @ values[paper])
        resid = values - terms @ coef
        spread = 1.4826 * float(np.median(np.abs(resid[paper] - np.median(resid[paper]))))
        paper = resid < INK_SIGMAS * max(spread, 1.0 / 255)
    y = (np.arange(h, dtype=np.float64)[:, None] + 0.5) / side
    x = (np.arange(w, dtype=np.float64)[None, :] + 0.5) / side
    c0, cx, cy, cxx, cxy, cyy = coef
    surface = (c0 + cx * x + cy * y + cxx * x * x + cxy * x * y + cyy * y * y).astype(np.float32)
    full = np.repeat(np.repeat(paper.reshape(small.shape), factor, 0), factor, 1)[:h, :w]
    return surface, full


def _strokes(crop: np.ndarray) -> np.ndarray:
    """Ink that belongs to strokes, for finding the bounding box: lone grains of paper or dust fall out. The
    window is a fixed share of the picture (5 px on a 280 px canvas); small pictures are left as they are."""
    factor = max(1, int(np.ceil(max(crop.shape) / SPECK_SCALE)))  # large pictures: looked at 280 px wide
    small = _block_mean(crop, factor)
    s = int(round(max(small.shape) / SPECK_SHARE)) | 1
    if s < 3:
        return crop
    h, w = small.shape
    summed = np.pad(small.astype(np.float64), s // 2 + 1).cumsum(0).cumsum(1)
    local = (summed[s : s + h, s : s + w] - summed[:h, s : s + w] - summed[s : s + h, :w] + summed[:h, :w]) / s**2
    keep = np.repeat(np.repeat(local >= SPECK_INK, factor, 0), factor, 1)[: crop.shape[0], : crop.shape[1]]
    strokes = crop * keep
    return strokes if strokes.any() else crop


def _crop(image: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """`image` cut to the bounding box of the ink in `where` (default: itself)."""
    rows, cols = np.nonzero((image if where is None else where) >= NOISE_FLOOR)
    return image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def stroke_width(crop: np.ndarray) -> float:
    """Mean stroke width in px: 2 × inked area / outline length (a stroke of width w and length L: 2wL / 2L)."""
    m = crop >= 0.5
    outline = int(np.count_nonzero(m[1:] != m[:-1]) + np.count_nonzero(m[:, 1:] != m[:, :-1]))
    outline += int(m[0].sum() + m[-1].sum() + m[:, 0].sum() + m[:, -1].sum())
    return 2 * float(m.sum()) / max(outline, 1)


def _morph(image: np.ndarray, steps: int, grow: bool) -> np.ndarray:
    """Grey dilation (grow) or erosion by `steps` px; square and cross neighbourhoods alternate (an octagon)."""
    pick = np.maximum if grow else np.minimum
    out = np.pad(image, steps) if grow else image
    for k in range(steps):
        p = np.pad(out, 1)  # outside is paper: erosion eats the edge, dilation grows into it
        res = pick(p[1:-1, 1:-1], pick(pick(p[:-2, 1:-1], p[2:, 1:-1]), pick(p[1:-1, :-2], p[1:-1, 2:])))
        if k % 2 == 0:
            res = pick(res, pick(pick(p[:-2, :-2], p[2:, 2:]), pick(p[:-2, 2:], p[2:, :-2])))
        out = res
    return out


def normalise_width(crop: np.ndarray) -> np.ndarray:
    """A marker-thick stroke thinned, a hairline thickened, into MNIST's range of widths at the 20 px scale, so
    that the pen's width does not decide what the model reads (nor whether the digit check doubts it)."""
    per_box_px = max(crop.shape) / BOX
    width = stroke_width(crop) / per_box_px
    if width > WIDTH_RANGE[1]:
        thinner = _morph(crop, int(round((width - WIDTH_TARGET[1]) / 2 * per_box_px)), grow=False)
        return thinner if (thinner >= 0.5).any() else crop
    if width < WIDTH_RANGE[0]:
        steps = int(round((WIDTH_TARGET[0] - width) / 2 * per_box_px))
        return _morph(crop, steps, grow=True) if steps > 0 else crop
    return crop


def resize(crop: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear with antialiasing (the app's torch interpolate(antialias=True) follows Pillow's filter)."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def to_mnist(arr: np.ndarray) -> np.ndarray:
    """28×28 float32 in [0, 1], white digit on black, centred like MNIST's digits."""
    ink = ink_map(arr)
    strongest = float(ink.max()) if ink.size else 0.0
    if strongest < BLANK_CONTRAST:
        raise ValueError("nothing drawn: the image is blank")
    crop = ink / strongest
    crop[crop < NOISE_FLOOR] = 0.0
    crop = _crop(normalise_width(_crop(crop, _strokes(crop))))
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    box = np.clip(resize(crop, nh, nw), 0.0, 1.0)
    if box.max() <= 0:
        raise ValueError("nothing drawn: the image is blank")
    box = box / box.max()
    total = box.sum()
    r, c = np.indices(box.shape)
    cy, cx = float((r * box).sum() / total), float((c * box).sum() / total)
    top = int(np.clip(np.floor(COM_TARGET - cy + 0.5), MARGIN, SIZE - MARGIN - nh))
    left = int(np.clip(np.floor(COM_TARGET - cx + 0.5), MARGIN, SIZE - MARGIN - nw))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + nh, left : left + nw] = box
    return out


def model_input(pixels: np.ndarray) -> np.ndarray:
    """(1, 1, 28, 28) float32, normalised as in training."""
    return ((pixels - MEAN) / STD).astype(np.float32)[None, None]


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Read the digit in pictures with the exported SimpleCNN.")
    parser.add_argument("images", nargs="+", help="PNG or JPEG pictures of one digit each")
    parser.add_argument("--model", default=str(Path(__file__).with_name("model.onnx")), help="the ONNX model")
    parser.add_argument("--json", action="store_true", help="one JSON line per picture")
    args = parser.parse_args(argv)
    try:
        import onnxruntime
        from PIL import Image  # noqa: F401 - checked here so a missing Pillow is one line, not a traceback
    except ImportError as exc:
        print(f"error: {exc.name} is missing: pip install numpy pillow onnxruntime", file=sys.stderr)
        return 2
    try:
        session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a missing or bad file
        print(f"error: cannot load the model {args.model}: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        return 2
    status = 0
    for path in args.images:
        try:
            x = model_input(to_mnist(read_image(path)))
        except (OSError, ValueError, SyntaxError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 1
            continue
        (logits,) = session.run(["logits"], {"image": x})
        probs = softmax(logits[0])
        digit = int(probs.argmax())
        if args.json:
            print(json.dumps({"path": path, "digit": digit, "probabilities": [float(p) for p in probs]}))
        else:
            print(f"{path}: {digit} ({probs[digit]:.1%})")
    return status


if __name__ == "__main__":
    sys.exit(main())
