"""SimpleCNN Studio's library: the tutorial's CNN on MNIST, its training engine, evaluation and inference.

Plain PyTorch; it never imports streamlit.
"""

import os

# Before torch loads OpenMP (every simplecnn module imports this package first, so this runs before any torch
# import of ours): idle OpenMP threads sleep instead of spinning. On a busy machine (a Streamlit server, a browser,
# other runs on the same 2 cores) spinning threads steal the cores their partners need: a batch-64 training step ran
# 3-5x faster with PASSIVE at load average ~15 (83-90 vs 16-30 img/s, 2 threads, measured 2026-11-29). A value
# the user set wins; OMP_WAIT_POLICY_DEFAULTED tells bench to give the tutorial's loop the user's own setting.
OMP_WAIT_POLICY_DEFAULTED = "OMP_WAIT_POLICY" not in os.environ
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .config import RECIPES, TrainConfig, recipe  # noqa: E402 - after the OpenMP setting above
from .model import PARAMETER_COUNT, SimpleCNN, count_parameters  # noqa: E402

__all__ = ["RECIPES", "TrainConfig", "recipe", "PARAMETER_COUNT", "SimpleCNN", "count_parameters"]
