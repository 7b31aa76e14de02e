"""The model card that travels with an export: what the model is, what it expects, how well it does (JSON)."""

from __future__ import annotations

import json
import platform
import time
from typing import Any

import torch

from simplecnn.checkpoint import Checkpoint
from simplecnn.data import IMAGE_SIZE, MNIST_MEAN, MNIST_STD, NUM_CLASSES
from simplecnn.model import PARAMETER_COUNT

CARD_FORMAT, CARD_VERSION = "simplecnn-model-card", 1
INPUT_NAME, OUTPUT_NAME = "image", "logits"

README = """SimpleCNN exported from SimpleCNN Studio

  model.onnx        the model (input "image": N x 1 x 28 x 28 float32, normalised; output "logits": N x 10)
  model_card.json   preprocessing (28x28, mean/std), labels, test accuracy, training config, versions, opset
  predict_onnx.py   reads a PNG and prints the digit:
                      pip install numpy pillow onnxruntime
                      python predict_onnx.py my_digit.png
"""


def stated_accuracy(checkpoint: Checkpoint) -> tuple[float, int] | None:
    """The test accuracy the checkpoint records, with the number of test images behind it."""
    if checkpoint.accuracy is None:
        return None
    return checkpoint.accuracy, int(checkpoint.metrics.get("n_test") or 0)


def model_card(
    checkpoint: Checkpoint,
    digest: str,
    test_accuracy: tuple[float, int] | None,
    versions: dict[str, str],
    onnx: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The card as a dict; `onnx` adds the ONNX file's facts (opset, the check against PyTorch)."""
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "version": CARD_VERSION,
        "model": "SimpleCNN (the tutorial's): conv 3x3 1→32→32, max-pool, conv 32→64→64, max-pool, "
        "dropout 0.25/0.25/0.5, FC 3136→128→10",
        "parameters": PARAMETER_COUNT,
        "checkpoint_sha256": digest,
        "labels": [str(d) for d in range(NUM_CLASSES)],
        "input": {"name": INPUT_NAME, "shape": ["batch", 1, IMAGE_SIZE, IMAGE_SIZE], "dtype": "float32"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", NUM_CLASSES], "meaning": "logits (softmax: probabilities)"},
        "preprocessing": {
            "size": [IMAGE_SIZE, IMAGE_SIZE],
            "ink": "white digit on black, pixels in [0, 1]",
            "crop": "to the ink's bounding box; the longer side scaled to 20 px (bilinear, antialiased)",
            "centre": "centre of mass at pixel (14, 14), a 1 px empty frame kept",
            "mean": MNIST_MEAN,
            "std": MNIST_STD,
            "normalise": "(pixel - mean) / std",
            "script": "predict_onnx.py",
        },
        "test_accuracy": None if test_accuracy is None else {"value": test_accuracy[0], "images": test_accuracy[1]},
        "training": {"config": _plain(checkpoint.config), "metrics": _plain(checkpoint.metrics)},
        "versions": {"python": platform.python_version(), "torch": str(torch.__version__), **versions},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if onnx is not None:
        card["onnx"] = onnx
    return card


def card_bytes(card: dict[str, Any]) -> bytes:
    return json.dumps(card, indent=2, ensure_ascii=False).encode()


def _plain(value: Any) -> Any:
    """A JSON-safe copy of checkpoint metadata (tensors become lists, anything else odd becomes text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
