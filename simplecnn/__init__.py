"""SimpleCNN Studio's library: the tutorial's CNN on MNIST, its training engine, evaluation and inference.

Plain PyTorch; it never imports streamlit.
"""

from .config import RECIPES, TrainConfig, recipe
from .model import PARAMETER_COUNT, SimpleCNN, count_parameters

__all__ = ["RECIPES", "TrainConfig", "recipe", "PARAMETER_COUNT", "SimpleCNN", "count_parameters"]
