"""What the network sees in one digit: the preprocessing steps and every layer's output.

Every function takes the model's normalised 1×1×28×28 input `x` (as `preprocess()` makes it) and returns plain
numpy/tensors; simplecnn.figures.inside draws the pictures, the pages only arrange them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simplecnn.data import IMAGE_SIZE, normalize
from simplecnn.inference.preprocess import Stages, ink_map, preprocess_stages
from simplecnn.inference.stages import conv_stages, embedding_stage, forward_stages

EMBED_BATCH = 1000  # images per forward pass when embedding a split: bounded memory, full speed


class ExplainError(ValueError):
    """The input cannot be explained (wrong shape); one line for the user."""


def _check_input(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or tuple(x.shape) != (1, 1, IMAGE_SIZE, IMAGE_SIZE):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ExplainError(f"expected the model's 1×1×{IMAGE_SIZE}×{IMAGE_SIZE} input, got {shape}")
    return x.detach().float().cpu()


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """One intra-op thread for the calling thread's single-digit work, restored afterwards.

    One 28×28 image gains nothing from threads, and on busy cores OpenMP's barrier waits make it many times slower
    (docs/inside.md has the figures).
    torch's thread count is per thread here (other running threads, e.g. a training worker, keep theirs).
    """
    before = torch.get_num_threads()
    if before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before > 1:
            torch.set_num_threads(before)


# ---------------------------------------------------------------- preprocessing


@dataclass(frozen=True)
class PreprocessView:
    stages: Stages  # ink → crop → 20 px box → 28×28 placed by centre of mass
    ours: torch.Tensor  # the model's input from our preprocessing (normalised 1×1×28×28)
    plain: torch.Tensor  # the model's input from a plain resize of the whole image to 28×28


def plain_resize_input(image: np.ndarray) -> torch.Tensor:
    """What a plain resize would feed the model: the whole image's ink, area-averaged to 28×28, normalised.

    Uses `preprocess.ink_map` so it reads every encoding our preprocessing reads (light or dark ink, alpha,
    floats).
    """
    ink = torch.from_numpy(np.ascontiguousarray(ink_map(image), dtype=np.float32))[None, None]
    return normalize(F.interpolate(ink, size=(IMAGE_SIZE, IMAGE_SIZE), mode="area"))


def preprocess_view(image: np.ndarray) -> PreprocessView:
    """Raises preprocess.ImageError / BlankImageError like `preprocess()`."""
    stages = preprocess_stages(image)
    ours = normalize(torch.from_numpy(stages.pixels))[None, None]
    return PreprocessView(stages, ours, plain_resize_input(image))


# ---------------------------------------------------------------- activations


@dataclass(frozen=True)
class Activations:
    """Every layer's output for one digit, as numpy.

    maps["convK"] is the activation of convK at the convolution's own resolution (the tutorial's relu(conv(x));
    LeNet-5's tanh): SimpleCNN's conv1, conv2: C×28×28, conv3, conv4: C×14×14; LeNet-5's conv1: 6×28×28, conv2:
    16×10×10. SimpleCNN.forward pools conv2/conv4 *before* its ReLU (the two commute), so max-pooling conv2/conv4
    here gives exactly the tensors the forward pass hands on.
    """

    maps: dict[str, np.ndarray]  # the convolution stages, in forward order
    embedding: np.ndarray  # the last hidden layer: SimpleCNN's ReLU(fc1) (128), LeNet-5's tanh(fc2) (84)
    logits: np.ndarray  # 10
    probabilities: np.ndarray  # softmax(logits)

    @property
    def digit(self) -> int:
        return int(self.probabilities.argmax())

    @property
    def conv_stages(self) -> tuple[str, ...]:
        return tuple(self.maps)

    @property
    def fc128(self) -> np.ndarray:
        """SimpleCNN's name for the embedding."""
        return self.embedding

    def stage(self, name: str) -> np.ndarray:
        return self.maps[name] if name in self.maps else getattr(self, name)


CONV_STAGES = ("conv1", "conv2", "conv3", "conv4")  # SimpleCNN's; Activations.conv_stages has each network's


@torch.no_grad()
def activations(model: nn.Module, x: torch.Tensor) -> Activations:
    model.eval()
    stages = forward_stages(model, _check_input(x))
    logits = stages["logits"]
    return Activations(
        maps={name: stages[name][0].numpy().copy() for name in conv_stages(model)},
        embedding=stages[embedding_stage(model)][0].numpy().copy(),
        logits=logits[0].numpy().copy(),
        probabilities=torch.softmax(logits[0].double(), 0).float().numpy(),
    )


def conv1_filters(model: nn.Module) -> np.ndarray:
    """The first-layer kernels (SimpleCNN: 32×3×3, LeNet-5: 6×5×5): what each conv1 channel looks for."""
    return model.get_parameter("conv1.weight").detach().cpu()[:, 0].numpy().copy()


@torch.no_grad()
def embed(model: nn.Module, x: torch.Tensor, batch: int = EMBED_BATCH) -> torch.Tensor:
    """Embeddings (SimpleCNN: N×128 fc128, LeNet-5: N×84) of normalised N×1×28×28 inputs, in batches."""
    model.eval()
    name = embedding_stage(model)
    out = [forward_stages(model, x[i : i + batch].float())[name] for i in range(0, len(x), batch)]
    return torch.cat(out) if out else torch.empty(0, 128 if name == "fc128" else 84)
