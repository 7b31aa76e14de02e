"""Any drawing or photo of a digit → the model's 1×1×28×28 input, the way MNIST itself was made.

Find the ink (against the paper's own, possibly uneven, light), crop to it (ignoring specks of grain), bring a
marker-thick or hairline stroke into MNIST's range of widths, scale the longer side to 20 px (keeping aspect
ratio and grey levels), place it in 28×28 by its centre of mass (moved just enough to keep a 1 px empty frame, so
no stroke ever looks cut off), normalize with the training constants.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from simplecnn.data import normalize
from simplecnn.errors import CodedError

BOX = 20
SIZE = 28
COM_TARGET = 14.0
MARGIN = 1  # empty pixels kept around the box: ink never touches the 28×28 frame (98.8% of MNIST's
# training digits leave the last row empty; a frame-touching stroke looks cut off)
MAX_SIDE = 1024  # larger inputs are reduced first: the result is 20 px anyway
BLANK_CONTRAST = 0.08  # weaker ink than this (of full scale) is "nothing drawn"
NOISE_FLOOR = 0.10  # of the strongest ink: paper texture, JPEG ringing
FIT_SIDE = 48  # px: the paper's surface is fitted on a copy this small (light varies slowly across a page)
SURFACE_ROUNDS = 4
FLAT_LEVEL = 2 / 255  # a digital picture's paper: pixels this close to its darkest level...
FLAT_SHARE = 0.5  # ...on this share of its border (a photo's paper is never this even)
PAPER_SHARE = 0.35  # the darkest share of the picture the paper's surface is first fitted to
MIN_SURFACE_SIDE = 24  # px: narrower pictures get a flat paper level (their border's median), as MNIST digits do
INK_SIGMAS = 3.0  # this many noise deviations above the paper is ink (left out of the next round of the fit)
SPECK_SCALE = 280
SPECK_SHARE = 56  # a speck window of 1/56 of the picture (5 px on 280)...
SPECK_INK = 0.1  # ...holding under a tenth of full ink: a speck of grain or dust, not part of a stroke
WIDTH_RANGE = (1.3, 3.0)  # stroke widths in px of the 20 px box kept as they are: MNIST's 5th-95th percentile
WIDTH_TARGET = (1.6, 2.5)  # where a hairline / a marker stroke is brought to


class ImageProblem(enum.StrEnum):
    """What is wrong with an image: a UI's key for its own words (values are catalog keys under errors.)."""

    NON_FINITE = "image.non_finite"
    PIXEL_TYPE = "image.pixel_type"
    SHAPE = "image.shape"
    EMPTY = "image.empty"
    BLANK = "image.blank"
    EMPTY_FILE = "image.empty_file"
    FOLDER = "image.folder"
    TOO_LARGE = "image.too_large"
    FILE_TOO_LARGE = "image.file_too_large"
    BOMB = "image.bomb"
    NO_FILE = "image.no_file"
    PERMISSION = "image.permission"
    NOT_AN_IMAGE = "image.not_an_image"
    UNREADABLE = "image.unreadable"


class ImageError(CodedError, ValueError):
    """The input cannot be read as an image of a digit; the message is one line for the user."""

    code = ImageProblem.UNREADABLE


class BlankImageError(ImageError):
    """Nothing is drawn: we report blank instead of guessing."""

    code = ImageProblem.BLANK


def _as_float(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        top = float(arr.max()) if arr.size else 0.0
        scale = 255.0 if arr.dtype == np.uint8 or top <= 255 else 65535.0 if top <= 65535 else top
        return arr.astype(np.float32) / scale
    if np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise ImageError("image contains NaN or infinite values", ImageProblem.NON_FINITE)
        top = float(arr.max()) if arr.size else 0.0
        return arr / 255.0 if top > 1.0 else arr
    raise ImageError(f"unsupported pixel type {arr.dtype}", ImageProblem.PIXEL_TYPE, dtype=arr.dtype)


def _reduce(ink: np.ndarray) -> np.ndarray:
    """Box-reduce very large inputs so preprocessing stays fast at any size."""
    factor = int(np.ceil(max(ink.shape) / MAX_SIDE))
    if factor <= 1:
        return ink
    t = torch.from_numpy(np.ascontiguousarray(ink))[None, None]
    return F.avg_pool2d(t, factor, ceil_mode=True)[0, 0].numpy()


def ink_map(image: np.ndarray) -> np.ndarray:
    """H×W ink strength in [0, 1] from grayscale, RGB or RGBA; light-on-dark, dark-on-light or ink in alpha."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        message = f"expected a H×W grayscale, RGB or RGBA image, got shape {tuple(arr.shape)}"
        raise ImageError(message, ImageProblem.SHAPE, shape=tuple(arr.shape))
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError("the image is empty (0 pixels)", ImageProblem.EMPTY)
    pixels = _as_float(arr)
    if pixels.ndim == 2:
        grey, alpha = pixels, None
    else:
        colour = pixels[:, :, :-1] if pixels.shape[2] in (2, 4) else pixels
        alpha = pixels[:, :, -1] if pixels.shape[2] in (2, 4) else None
        grey = colour[:, :, 0] if colour.shape[2] == 1 else colour @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if alpha is not None and float(alpha.max() - alpha.min()) > BLANK_CONTRAST:
        # Transparent background: the strokes are where alpha is (whatever their colour).
        return _reduce(np.clip(alpha, 0.0, 1.0))
    grey = _reduce(np.clip(grey, 0.0, 1.0))
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


def _centre_of_mass(patch: np.ndarray) -> tuple[float, float]:
    total = patch.sum()
    rows, cols = np.indices(patch.shape)
    return float((rows * patch).sum() / total), float((cols * patch).sum() / total)


@dataclass(frozen=True)
class Stages:
    """Each step from an input image to the model's 28×28 view, as [0, 1] float32 pictures (white ink on black)."""

    ink: np.ndarray  # H×W ink strength of the whole input (after size reduction of huge inputs)
    crop: np.ndarray  # cropped to the ink's bounding box, normalised to its strongest ink, stroke width normalised
    box: np.ndarray  # scaled so the longer side is BOX (20) px, aspect ratio kept
    pixels: np.ndarray  # SIZE×SIZE: the box placed by its centre of mass, as MNIST digits are
    top: int  # where the box sits in `pixels`
    left: int


def preprocess_stages(image: np.ndarray) -> Stages:
    """All stages of `to_mnist_pixels`, for showing them. Raises ImageError / BlankImageError."""
    ink = ink_map(image)
    strongest = float(ink.max())
    if strongest < BLANK_CONTRAST:
        raise BlankImageError("nothing drawn: the image is blank")
    crop = ink / strongest
    crop[crop < NOISE_FLOOR] = 0.0
    crop = _crop(normalise_width(_crop(crop, _strokes(crop))))
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    box = (
        F.interpolate(
            torch.from_numpy(np.ascontiguousarray(crop))[None, None],
            size=(nh, nw),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )[0, 0]
        .clamp_(0, 1)
        .numpy()
    )
    if box.max() <= 0:
        raise BlankImageError("nothing drawn: the image is blank")
    box = box / box.max()
    top, left = _placement(box)
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + nh, left : left + nw] = box
    return Stages(ink=ink, crop=crop, box=box, pixels=out, top=top, left=left)


def _placement(box: np.ndarray) -> tuple[int, int]:
    """Top-left corner putting the box's centre of mass at MNIST's (pixel 14.0; the training set's mean is
    14.00, 14.01), moved the least needed to keep MARGIN empty pixels on every side. Top-heavy digits (a 7's
    bar) would otherwise be pushed down until their foot touches the last row, which reads as cut off."""
    cy, cx = _centre_of_mass(box)
    nh, nw = box.shape
    top = int(np.clip(np.floor(COM_TARGET - cy + 0.5), MARGIN, SIZE - MARGIN - nh))
    left = int(np.clip(np.floor(COM_TARGET - cx + 0.5), MARGIN, SIZE - MARGIN - nw))
    return top, left


def to_mnist_pixels(image: np.ndarray) -> np.ndarray:
    """28×28 float32 in [0, 1], white digit on black, centred like MNIST. Raises BlankImageError."""
    return preprocess_stages(image).pixels


def preprocess(image: np.ndarray) -> torch.Tensor:
    """Image array → normalized (1, 1, 28, 28) float32 tensor for SimpleCNN."""
    return normalize(torch.from_numpy(to_mnist_pixels(image)))[None, None]
