"""Any drawing or photo of a digit → the model's 1×1×28×28 input, the way MNIST itself was made.

Find the ink, crop to it, scale the longer side to 20 px (keeping aspect ratio and grey levels),
place it in 28×28 by its centre of mass (moved just enough to keep a 1 px empty frame, so no stroke ever
looks cut off), normalize with the training constants.
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
    background = float(np.median(border))
    ink = grey - background if background < 0.5 else background - grey
    return np.clip(ink, 0.0, 1.0)


def _centre_of_mass(patch: np.ndarray) -> tuple[float, float]:
    total = patch.sum()
    rows, cols = np.indices(patch.shape)
    return float((rows * patch).sum() / total), float((cols * patch).sum() / total)


@dataclass(frozen=True)
class Stages:
    """Each step from an input image to the model's 28×28 view, as [0, 1] float32 pictures (white ink on black)."""

    ink: np.ndarray  # H×W ink strength of the whole input (after size reduction of huge inputs)
    crop: np.ndarray  # cropped to the ink's bounding box, normalised to its strongest ink
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
    rows, cols = np.nonzero(crop)
    crop = crop[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
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
