"""Predictions for drawings and image files, each with an answer to "is this one digit at all?"
(simplecnn.inference.digitcheck: a digit, unsure, or not a digit)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from simplecnn.calibration import probabilities
from simplecnn.inference.preprocess import MAX_SIDE, BlankImageError, ImageError, ImageProblem, preprocess

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from simplecnn.inference.digitcheck import DigitChecker, Verdict

# Sizes checked from the image's header, before any pixel is decoded (a 385 KB PNG can hold 99 megapixels).
MAX_FILE_BYTES = 32 << 20
MAX_PIXELS = 12_000_000  # decoded whole: ≈ 110 MB at the peak for RGBA; a 4K screenshot is 8.3 megapixels
MAX_JPEG_PIXELS = 100_000_000  # a JPEG decodes at 1/2 to 1/8 scale (draft): a 48 MP photo costs 3 MP
MAX_DIMENSION = 20_000  # pixels along one side: a strip 99,000,000 px long is no digit
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")  # 16/32-bit greyscale: scaled to [0, 1] ourselves


@dataclass(frozen=True)
class Prediction:
    digit: int
    probabilities: list[float]
    looks_like_digit: bool = True  # False only when the check answers "that doesn't look like one digit"
    doubt: str = ""  # one line for people: empty for a digit, else the unsure or the not-a-digit sentence
    verdict: Verdict | None = None  # the check's answer (None: predicted without the check)
    digit_score: float | None = None  # the check's score: > 0 unsure, above its not-a-digit level not a digit

    @property
    def confidence(self) -> float:
        return self.probabilities[self.digit]


@torch.no_grad()
def predict_batch(
    model: nn.Module, x: torch.Tensor, checker: DigitChecker | None = None, temperature: float = 1.0
) -> list[Prediction]:
    """(N, 1, 28, 28) normalized inputs → one Prediction each; with a checker, also "is it a digit?".
    `temperature`: the checkpoint's (simplecnn.calibration), so the probabilities are calibrated ones."""
    model.eval()
    if checker is None:
        device = next(model.parameters()).device
        probs = probabilities(model(x.to(device)).cpu(), temperature)
        return [Prediction(int(p.argmax()), [float(v) for v in p]) for p in probs]
    from simplecnn.inference.digitcheck import embed

    features = embed(model, x)
    checks = checker.check(features)
    return [
        Prediction(int(p.argmax()), [float(v) for v in p], c.looks_like_digit, c.doubt, c.verdict, c.score)
        for p, c in zip(probabilities(features.logits, temperature), checks, strict=True)
    ]


def _checker(model: nn.Module, checker: DigitChecker | None) -> DigitChecker:
    from simplecnn.inference.digitcheck import checker_for

    return checker if checker is not None else checker_for(model)


def predict_image(
    model: nn.Module, image: np.ndarray, checker: DigitChecker | None = None, temperature: float = 1.0
) -> tuple[Prediction, torch.Tensor]:
    """One image array → its Prediction and the 1×1×28×28 input the model saw. Raises ImageError/BlankImageError.

    checker None: `digitcheck.checker_for(model)` (memoised; for new weights its first call fits statistics,
    tens of seconds, when MNIST is on disk). Pass `checker_for(model, compute=False)` to never wait."""
    x = preprocess(image)
    return predict_batch(model, x, _checker(model, checker), temperature)[0], x


class ImageTooLarge(ImageError):
    """The file or its pixel count is over the limits (checked before decoding)."""


def _check_source(source: str | os.PathLike | bytes) -> None:
    if isinstance(source, (bytes, bytearray)):
        size = len(source)
    elif os.path.isdir(source):
        raise ImageError("is a folder, not an image", ImageProblem.FOLDER)
    else:
        size = os.path.getsize(source)
    if size == 0:
        raise ImageError("empty file", ImageProblem.EMPTY_FILE)
    if size > MAX_FILE_BYTES:
        message = f"the file is {size / 2**20:,.0f} MB; at most {MAX_FILE_BYTES >> 20} MB"
        raise ImageTooLarge(message, ImageProblem.FILE_TOO_LARGE, mb=round(size / 2**20), limit=MAX_FILE_BYTES >> 20)


def _check_size(img: PILImage.Image) -> None:
    width, height = img.size
    limit = MAX_JPEG_PIXELS if img.format == "JPEG" else MAX_PIXELS
    if max(width, height) > MAX_DIMENSION or width * height > limit:
        message = f"image too large ({width:,}×{height:,} pixels; at most {limit // 1_000_000} megapixels)"
        raise ImageTooLarge(message, ImageProblem.TOO_LARGE, width=width, height=height)


def _decode(img: PILImage.Image) -> np.ndarray:
    """An opened image → array: greyscale, or RGBA when it has transparency (ink may live in alpha)."""
    _check_size(img)
    img.draft("L", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at reduced size, much faster
    if max(img.size) > MAX_SIDE:
        img.thumbnail((MAX_SIDE, MAX_SIDE))
    if img.mode in WIDE_MODES:
        top = 65535.0 if img.mode.startswith("I;16") else max(1.0, float(np.asarray(img).max()))
        return np.asarray(img.convert("F") if img.mode != "F" else img, dtype=np.float32) / top
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    return np.asarray(img.convert("RGBA" if has_alpha else "L"))


def _open_and_decode(source: str | os.PathLike | bytes) -> np.ndarray:
    from io import BytesIO

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(BytesIO(source) if isinstance(source, (bytes, bytearray)) else source) as img:
            return _decode(img)


def _reading_error(exc: BaseException) -> ImageError:
    """Any failure to read an image → one line for the user."""
    from PIL import Image, UnidentifiedImageError

    messages: list[tuple[Any, type[ImageError], str, ImageProblem]] = [
        (FileNotFoundError, ImageError, "no such file", ImageProblem.NO_FILE),
        (PermissionError, ImageError, "permission denied", ImageProblem.PERMISSION),
        (UnidentifiedImageError, ImageError, "not an image file (unknown format)", ImageProblem.NOT_AN_IMAGE),
        (
            Image.DecompressionBombError,
            ImageTooLarge,
            "image too large (decompression bomb refused)",
            ImageProblem.BOMB,
        ),
        (MemoryError, ImageTooLarge, "image too large to decode", ImageProblem.BOMB),
    ]
    for kind, error, message, code in messages:
        if isinstance(exc, kind):
            return error(message, code)
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ImageError(f"unreadable or truncated image ({detail[:120]})")


def read_image(source: str | os.PathLike | bytes) -> np.ndarray:
    """Decode an image file (path or bytes) into an array, reduced when huge; its size is checked before any
    pixel is decoded. Raises ImageError (ImageTooLarge for a file or a pixel count over the limits)."""
    try:
        _check_source(source)
        return _open_and_decode(source)
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - PIL's decoders raise many kinds (OSError, SyntaxError, struct.error,
        # DecompressionBombError, MemoryError…): every one is "this file cannot be read", in one line
        raise _reading_error(exc) from None


@dataclass(frozen=True)
class FileResult:
    path: str
    prediction: Prediction | None
    error: str | None
    blank: bool = False

    def to_json(self) -> dict:
        p = self.prediction
        return {
            "path": self.path,
            "digit": p.digit if p else None,
            "probabilities": p.probabilities if p else None,
            "looks_like_digit": p.looks_like_digit if p else None,
            "verdict": p.verdict.value if p and p.verdict else None,
            "digit_score": round(p.digit_score, 4) if p and p.digit_score is not None else None,
            "error": self.error,
        }


def predict_files(
    model: nn.Module, paths: Sequence[str], checker: DigitChecker | None = None, temperature: float = 1.0
) -> list[FileResult]:
    """Each file gets a result; unreadable or blank files get an error and do not stop the others.
    checker, temperature: as in `predict_image`."""
    inputs: list[torch.Tensor] = []
    slots: list[int] = []
    results: list[FileResult] = []
    for path in paths:
        try:
            inputs.append(preprocess(read_image(path)))
            slots.append(len(results))
            results.append(FileResult(path, None, None))
        except BlankImageError as exc:
            results.append(FileResult(path, None, str(exc), blank=True))
        except ImageError as exc:
            results.append(FileResult(path, None, str(exc)))
    if inputs:
        batch = predict_batch(model, torch.cat(inputs), _checker(model, checker), temperature)
        for slot, pred in zip(slots, batch, strict=True):
            results[slot] = replace(results[slot], prediction=pred)
    return results
