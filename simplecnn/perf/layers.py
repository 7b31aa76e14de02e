"""SimpleCNN's training forward pass, made faster on the CPU; the training engine swaps it in for the model's own.

`TrainingForward(model)` computes exactly the function of `SimpleCNN.forward` with the model's own parameters (no
copies: the optimizer and the saved state_dict are the model's), and differs only in how:
- max-pool and ReLU commute exactly (gradients included), so the ReLU runs after the pool on 4× fewer elements,
  and pool → ReLU → dropout is one C pass each way where the AVX2 kernels apply (simplecnn.perf.kernels);
- the 3×3 convolutions' weight gradients come from the AVX2 kernel where it applies, conv1's and conv3's ReLU
  folded into it;
- dropout draws one random byte per element instead of one float (exact Bernoulli(p) when p·256 is whole).
The model class stays the tutorial's; nothing here changes its state_dict or its eval-mode answers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from simplecnn.model import SimpleCNN
from simplecnn.perf import kernels


def random_bytes(n: int) -> torch.Tensor:
    """n i.i.d. uniform bytes from torch's generator (eight per int64 draw): the one draw behind every dropout mask
    here, so the fused pool chain consumes the generator exactly as `dropout` does."""
    return torch.empty((n + 7) // 8, dtype=torch.int64).random_(-(2**63), 2**63 - 1).view(torch.uint8)[:n]


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """F.dropout(x, p, training) with a byte mask on the CPU when p·256 is whole (0.25 and 0.5 are)."""
    threshold = p * 256
    if not training or p == 0 or x.device.type != "cpu" or threshold != int(threshold):
        return F.dropout(x, p, training)
    # The mask takes x's memory layout (channels_last too), so later ops pay no layout copies; the bytes are
    # i.i.d., so their order is free.
    channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    shape = (x.shape[0], *x.shape[2:], x.shape[1]) if channels_last else x.shape
    # A 0/1 mask in x's dtype, written by the comparison itself: multiplies vectorise where bool masks don't.
    mask = torch.ge(random_bytes(x.numel()).view(shape), int(threshold), out=torch.empty(shape, dtype=x.dtype))
    if channels_last:
        mask = mask.permute(0, 3, 1, 2)
    # Scale by a Python float, not inside the mask: 1/(1-p) = 4/3 is not exact in bf16.
    return x * mask * (1.0 / (1.0 - p))


def conv3x3(conv: nn.Conv2d, x: torch.Tensor, relu: bool = False) -> torch.Tensor:
    """conv(x), then ReLU if asked; a training step's weight gradient takes the AVX2 kernel where it applies."""
    if conv.training and kernels.applies(x, conv.weight):
        return kernels.conv3x3(x, conv.weight, conv.bias, relu=relu)
    y = conv(x)
    return F.relu(y, inplace=True) if relu else y


def pool_relu_dropout(x: torch.Tensor, pool: nn.MaxPool2d, p: float, training: bool) -> torch.Tensor:
    """dropout(relu(pool(x))); in a kernel training step one pass forward and one back instead of seven."""
    if training and kernels.pool_applies(x, p):
        return kernels.pool_relu_dropout(x, p, random_bytes(x.numel() // 4))
    return dropout(F.relu(pool(x), inplace=True), p, training)


class TrainingForward(nn.Module):
    """The same function as `model.forward`, computed the faster way (see the module's doc)."""

    def __init__(self, model: SimpleCNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, training = self.model, self.training
        x = conv3x3(m.conv1, x, relu=True)
        x = pool_relu_dropout(conv3x3(m.conv2, x), m.pool1, m.dropout1.p, training)
        x = conv3x3(m.conv3, x, relu=True)
        x = pool_relu_dropout(conv3x3(m.conv4, x), m.pool2, m.dropout2.p, training)
        x = torch.flatten(x, 1)
        x = dropout(F.relu(m.fc1(x), inplace=True), m.dropout3.p, training)
        return m.fc2(x)


def training_forward(model: nn.Module) -> nn.Module:
    """What the training engine calls in a step: the faster forward for a SimpleCNN, the model itself otherwise."""
    return TrainingForward(model) if isinstance(model, SimpleCNN) else model


def forward_flops_per_image() -> int:
    """Multiply-adds ×2 of one SimpleCNN image's forward pass: the four 3×3 convolutions and the two linear layers
    (what the GEMM-bound kernels do; ReLU, pooling and dropout are memory-bound and not counted)."""
    convs = [(28 * 28, 1, 32), (28 * 28, 32, 32), (14 * 14, 32, 64), (14 * 14, 64, 64)]
    macs = sum(pixels * c_in * c_out * 9 for pixels, c_in, c_out in convs) + 7 * 7 * 64 * 128 + 128 * 10
    return 2 * macs


def training_flops_per_image() -> int:
    """Forward + backward (input and weight gradients, 2× forward): the usual 3× forward."""
    return 3 * forward_flops_per_image()
