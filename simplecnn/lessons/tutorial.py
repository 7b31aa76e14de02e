"""What the tutorial's text claims, as data, so each lesson can show its own measurement beside it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TutorialRow:
    """One column of the tutorial's "LeNet-5 (Keras) vs SimpleCNN (PyTorch)" table."""

    accuracy: float
    parameters: int  # as the text rounds it ("~60K", "~140K")
    minutes: tuple[int, int]  # training time, as a range


COMPARISON = {
    "lenet5": TutorialRow(accuracy=0.9876, parameters=60_000, minutes=(2, 3)),
    "simplecnn": TutorialRow(accuracy=0.9940, parameters=140_000, minutes=(3, 5)),
}
SIMPLECNN_PARAMETERS_CLAIM = 140_000  # "~140K" (the code it prints gives 467,818)
NO_GRAD_MEMORY_MB = (800, 300)  # "有 gradient:約 800MB … 無 gradient:約 300MB" (GPU, 10,000 test images)
ZERO_GRAD_EXAMPLE = (0.015, 0.030, 0.045)  # conv1.weight.grad[0,0,0,0] over three passes without zero_grad
