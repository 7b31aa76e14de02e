"""How much memory one training run takes on top of the server's own, from its settings, before it starts.

The figures are the peak resident memory of runs measured per batch size (CPU, fp32, channels-last, MNIST
already loaded by the server; benchmarks/run_memory.py, results in benchmarks/results/): the estimate is a line
above every measured point. A workshop host's memory allowance becomes the largest batch size a run may use.
"""

from __future__ import annotations

from simplecnn.data import IMAGE_SIZE, TEST_SIZE
from simplecnn.training.config import TrainConfig

BASE_MB = 140.0  # the model, Adam's state, allocator slack and the first step's buffers
MB_PER_IMAGE = 0.42  # activations and their gradients, per training image in a batch
MB_PER_IMAGE_AUGMENTED = 0.44  # + the affine grid and the resampled copy
TEST_MB_PER_IMAGE = IMAGE_SIZE * IMAGE_SIZE * 4 / 2**20  # the run's normalised copy of its test images


def run_memory_mb(config: TrainConfig) -> float:
    """Estimated peak memory of one run of `config` above the server's own, in MB."""
    return _fixed_mb(config) + _per_image_mb(config) * config.batch_size


def largest_batch(config: TrainConfig, allowance_mb: float) -> int:
    """The largest batch size whose run of `config` stays within `allowance_mb` (at least 1)."""
    return max(1, int((allowance_mb - _fixed_mb(config)) // _per_image_mb(config)))


def _per_image_mb(config: TrainConfig) -> float:
    return MB_PER_IMAGE_AUGMENTED if config.augment else MB_PER_IMAGE


def _fixed_mb(config: TrainConfig) -> float:
    return BASE_MB + TEST_MB_PER_IMAGE * (config.limit_test or TEST_SIZE)
