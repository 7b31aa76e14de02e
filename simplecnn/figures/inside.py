"""Pictures for the inside view, from numpy only (no torch, no streamlit).

Most views are rendered to RGB uint8 arrays (shown with st.image): cheaper than interactive charts, sharp at any
size, and nothing on them needs hover — what a phone needs (the logits/probabilities bars too, values written).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Ten distinguishable digit colours (Tableau 10), the same everywhere a digit is coloured.
DIGIT_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
POSITIVE = np.array([230, 60, 40], np.float32)  # attribution / weight > 0: red
NEGATIVE = np.array([40, 110, 230], np.float32)  # < 0: blue


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def upscale(picture: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement: each pixel a factor×factor block (browsers blur small images)."""
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)


def grey(pixels: np.ndarray, factor: int = 8, scale: float | None = None) -> np.ndarray:
    """A [0, scale] map as an RGB uint8 picture (white = high), enlarged by factor."""
    top = float(scale if scale is not None else max(float(np.max(pixels)), 1e-8))
    g = np.clip(np.asarray(pixels, np.float32) / top, 0, 1) * 255
    return upscale(np.repeat(g.astype(np.uint8)[..., None], 3, axis=2), factor)


def diverging(values: np.ndarray, factor: int = 8, scale: float | None = None) -> np.ndarray:
    """Signed values as RGB: red positive, blue negative, white zero; scale = the magnitude shown at full colour."""
    v = np.asarray(values, np.float32)
    top = float(scale if scale is not None else max(float(np.abs(v).max()), 1e-8))
    t = np.clip(v / top, -1, 1)[..., None]
    white = np.full(3, 255, np.float32)
    rgb = np.where(t >= 0, white + t * (POSITIVE - white), white - t * (NEGATIVE - white))
    return upscale(rgb.astype(np.uint8), factor)


def tile(pictures: Sequence[np.ndarray], columns: int, pad: int = 2, background: int = 60) -> np.ndarray:
    """Same-size RGB pictures in a grid with pad-pixel gutters."""
    h, w = pictures[0].shape[:2]
    rows = -(-len(pictures) // columns)
    out = np.full((rows * (h + pad) - pad, columns * (w + pad) - pad, 3), background, np.uint8)
    for i, pic in enumerate(pictures):
        r, c = divmod(i, columns)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = pic
    return out


def feature_maps(maps: np.ndarray, columns: int = 8, factor: int = 0) -> np.ndarray:
    """C×H×W ReLU maps as a grid; one brightness scale for the whole stage, so idle channels look idle."""
    top = max(float(maps.max()), 1e-8)
    factor = factor or max(1, round(48 / maps.shape[-1]))  # 28×28 maps ×2, 14×14 ×3: tiles of ~50 px
    return tile([grey(m, factor, top) for m in maps], columns)


def filters(kernels: np.ndarray, columns: int = 8, factor: int = 12) -> np.ndarray:
    """N×k×k conv kernels as red/blue squares on one shared scale."""
    top = max(float(np.abs(kernels).max()), 1e-8)
    return tile([diverging(k, factor, top) for k in kernels], columns, pad=3)


def activations_strip(values: np.ndarray, columns: int = 16, factor: int = 14) -> np.ndarray:
    """A vector (e.g. fc128) as a grid of grey cells, brighter = more active."""
    v = np.asarray(values, np.float32).ravel()
    rows = -(-len(v) // columns)
    padded = np.zeros(rows * columns, np.float32)
    padded[: len(v)] = v
    return grey(padded.reshape(rows, columns), factor)


def attribution_overlay(pixels: np.ndarray, attribution: np.ndarray, factor: int = 10) -> np.ndarray:
    """The digit in dark grey with the attribution on top: red pushed towards the answer, blue against it."""
    a = np.asarray(attribution, np.float32)
    top = max(float(np.abs(a).max()), 1e-8)
    strength = np.clip(np.abs(a) / top, 0, 1)[..., None] ** 0.7  # lift mid values so thin strokes stay visible
    base = (30 + 110 * np.clip(np.asarray(pixels, np.float32), 0, 1))[..., None].repeat(3, axis=2)
    colour = np.where(a[..., None] >= 0, POSITIVE, NEGATIVE)
    return upscale((base * (1 - strength) + colour * strength).astype(np.uint8), factor)


def _map_frame(points: np.ndarray, size: int, margin: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = points.min(0), points.max(0)
    return lo, np.maximum(hi - lo, 1e-6)


def _map_xy(p: np.ndarray, lo: np.ndarray, span: np.ndarray, size: int, margin: int) -> np.ndarray:
    """Data → picture coordinates (x right, y up), for one point (2,) or many (N×2)."""
    xy = margin + (np.asarray(p, np.float32) - lo) / span * (size - 2 * margin)
    return np.stack([xy[..., 0], size - xy[..., 1]], axis=-1)


def embedding_map(points: np.ndarray, labels: np.ndarray, size: int = 360, margin: int = 14) -> np.ndarray:
    """Scatter of 2-D points coloured by digit, each digit's label at its centre (draw once, mark many times)."""
    from PIL import Image, ImageDraw

    pts = np.asarray(points, np.float32)
    lo, span = _map_frame(pts, size, margin)
    xy = _map_xy(pts, lo, span, size, margin)
    cols, rows = np.clip(xy[:, 0].astype(int), 0, size - 2), np.clip(xy[:, 1].astype(int), 0, size - 2)
    canvas = np.full((size, size, 3), 255, np.uint8)
    palette = np.array([_rgb(c) for c in DIGIT_COLOURS], np.uint8)[np.asarray(labels, int)]
    for dr in (0, 1):  # 2×2 dots, one vectorised write each (10,000 points in a few ms)
        for dc in (0, 1):
            canvas[rows + dr, cols + dc] = palette
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    for digit in range(len(DIGIT_COLOURS)):
        members = pts[np.asarray(labels) == digit]
        if len(members):
            x, y = _map_xy(np.median(members, axis=0), lo, span, size, margin)
            draw.text(
                (float(x), float(y)),
                str(digit),
                fill=(0, 0, 0),
                anchor="mm",
                font_size=18,
                stroke_width=2,
                stroke_fill=(255, 255, 255),
            )
    return np.asarray(img)


def mark_map(picture: np.ndarray, points: np.ndarray, here: np.ndarray, margin: int = 14) -> np.ndarray:
    """A copy of an `embedding_map` picture with `here` as a ringed cross (held inside the frame)."""
    from PIL import Image, ImageDraw

    size = picture.shape[0]
    lo, span = _map_frame(np.asarray(points, np.float32), size, margin)
    x, y = (float(v) for v in np.clip(_map_xy(here, lo, span, size, margin), 10, size - 10))
    img = Image.fromarray(picture.copy())
    draw = ImageDraw.Draw(img)
    draw.ellipse((x - 9, y - 9, x + 9, y + 9), outline=(0, 0, 0), width=3)
    draw.line((x - 14, y, x + 14, y), fill=(0, 0, 0), width=2)
    draw.line((x, y - 14, x, y + 14), fill=(0, 0, 0), width=2)
    return np.asarray(img)


def logits_and_probabilities(
    logits: Sequence[float] | np.ndarray,
    probabilities: Sequence[float] | np.ndarray,
    width: int = 360,
    row: int = 24,
    headers: tuple[str, str] | None = ("logit", "probability"),
) -> np.ndarray:
    """One row per digit: its logit as a bar left/right of zero, then its probability as a bar, values written.

    A picture rather than a chart: it costs a phone nothing to show and every number is on it (no hover).
    `headers`: the two columns' titles drawn on top (Latin script only: PIL's default font), or None for none
    (a caller in another language says which is which in its caption).
    """
    from PIL import Image, ImageDraw

    logits, probabilities = [float(v) for v in logits], [float(v) for v in probabilities]
    top_rows = 1 if headers else 0
    img = Image.new("RGB", (width, row * (len(logits) + top_rows)), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    half, zero = width * 0.22, 20 + width * 0.22  # logit bars span ±half around zero
    p_left, p_width = width * 0.56, width * 0.30
    top = max(max(abs(v) for v in logits), 1e-6)
    if headers:
        draw.text((zero, row / 2), headers[0], fill=(60, 60, 60), anchor="mm", font_size=13)
        draw.text((p_left + p_width / 2, row / 2), headers[1], fill=(60, 60, 60), anchor="mm", font_size=13)
    best = int(np.argmax(probabilities))
    for d, (logit, prob) in enumerate(zip(logits, probabilities, strict=True)):
        y0, y1 = row * (d + top_rows) + 3, row * (d + top_rows + 1) - 3
        colour = _rgb(DIGIT_COLOURS[d])
        draw.text((8, (y0 + y1) / 2), str(d), fill=(0, 0, 0), anchor="mm", font_size=15)
        end = zero + logit / top * half
        draw.rectangle((min(zero, end), y0, max(zero, end), y1), fill=colour)
        draw.line((zero, y0 - 3, zero, y1 + 3), fill=(120, 120, 120))
        draw.rectangle((p_left, y0, p_left + max(prob * p_width, 1), y1), fill=colour)
        label = f"{prob:.0%}" if prob >= 0.005 else "<1%"
        draw.text(
            (p_left + p_width + 6, (y0 + y1) / 2),
            label,
            fill=(0, 0, 0) if d == best else (90, 90, 90),
            anchor="lm",
            font_size=14,
        )
    return np.asarray(img)
