"""SimpleCNN Studio's library: the tutorial's CNN on MNIST, its training engine, evaluation and inference.

Plain PyTorch; it never imports streamlit. Importing the package itself loads nothing heavy (the Ray bridge and
the launcher import torch-free parts of it); the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SimpleCNN": "simplecnn.model",
    "count_parameters": "simplecnn.model",
    "PARAMETER_COUNT": "simplecnn.model",
    "TrainConfig": "simplecnn.training.config",
    "RECIPES": "simplecnn.training.config",
    "recipe": "simplecnn.training.config",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'simplecnn' has no attribute {name!r}")
