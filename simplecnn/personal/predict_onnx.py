#!/usr/bin/env python3
"""Read the digit in a picture with the exported SimpleCNN: python predict_onnx.py digit.png [more.png ...]

Needs only numpy, Pillow and onnxruntime (pip install numpy pillow onnxruntime). The picture goes through the
same steps as in SimpleCNN Studio, the way MNIST's digits were made: find the ink (dark on light, light on dark
or in the alpha channel), crop to it, scale its longer side to 20 px, place it in 28×28 by its centre of mass,
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
    background = float(np.median(border))
    ink = grey - background if background < 0.5 else background - grey
    return np.clip(ink, 0.0, 1.0)


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
    rows, cols = np.nonzero(crop)
    crop = crop[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
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
