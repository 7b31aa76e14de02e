"""The one per-user cache folder: MNIST tensors, stored evaluations, embeddings, OOD statistics, the speed
calibration and the compiled AVX2 kernel. XDG_CACHE_HOME moves it (CI points it at a fresh folder)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "simplecnn"
