"""Predictions for drawings and image files."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from .preprocess import MAX_SIDE, ImageError, preprocess

MAX_PIXELS = 100_000_000  # refuse decompression bombs before decoding them


@dataclass(frozen=True)
class Prediction:
    digit: int
    probabilities: list[float]

    @property
    def confidence(self) -> float:
        return self.probabilities[self.digit]


@torch.no_grad()
def predict_batch(model: nn.Module, x: torch.Tensor) -> list[Prediction]:
    """(N, 1, 28, 28) normalized inputs → one Prediction each."""
    model.eval()
    device = next(model.parameters()).device
    probs = model(x.to(device)).float().softmax(1).cpu()
    return [Prediction(int(p.argmax()), [float(v) for v in p]) for p in probs]


def predict_image(model: nn.Module, image: np.ndarray) -> tuple[Prediction, torch.Tensor]:
    """One image array → its Prediction and the 1×1×28×28 input the model saw. Raises ImageError/BlankImageError."""
    x = preprocess(image)
    return predict_batch(model, x)[0], x


def read_image(source: str | os.PathLike | bytes) -> np.ndarray:
    """Decode an image file (path or bytes) into an array, reduced when huge. Raises ImageError."""
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    try:
        if isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
            raise ImageError("is a folder, not an image")
        if isinstance(source, (bytes, bytearray)) and not source:
            raise ImageError("empty file")
        if isinstance(source, (str, os.PathLike)) and os.path.getsize(source) == 0:
            raise ImageError("empty file")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(BytesIO(source) if isinstance(source, (bytes, bytearray)) else source) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise ImageError(f"image too large ({img.width}×{img.height} pixels)")
                img.draft("L", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at reduced size, much faster
                if max(img.size) > MAX_SIDE:
                    img.thumbnail((MAX_SIDE, MAX_SIDE))
                has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
                if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                    return np.asarray(img.convert("F") if img.mode != "F" else img, dtype=np.float32) / (
                        65535.0 if img.mode.startswith("I;16") else max(1.0, float(np.asarray(img).max())))
                return np.asarray(img.convert("RGBA" if has_alpha else "L"))
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except UnidentifiedImageError:
        raise ImageError("not an image file (unknown format)") from None
    except Image.DecompressionBombError:
        raise ImageError("image too large (decompression bomb refused)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"unreadable or truncated image ({detail[:120]})") from None


@dataclass(frozen=True)
class FileResult:
    path: str
    prediction: Optional[Prediction]
    error: Optional[str]
    blank: bool = False

    def to_json(self) -> dict:
        return {"path": self.path, "digit": self.prediction.digit if self.prediction else None,
                "probabilities": self.prediction.probabilities if self.prediction else None,
                "error": self.error}


def predict_files(model: nn.Module, paths: Sequence[str]) -> list[FileResult]:
    """Each file gets a result; unreadable or blank files get an error and do not stop the others."""
    from .preprocess import BlankImageError

    inputs, slots, results = [], [], []
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
        for slot, pred in zip(slots, predict_batch(model, torch.cat(inputs))):
            results[slot] = FileResult(results[slot].path, pred, None)
    return results
