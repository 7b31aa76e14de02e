"""The tutorial's SimpleCNN, with its attribute names so state_dicts interchange."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import fastconv


class Dropout(nn.Dropout):
    """nn.Dropout with a cheaper CPU mask: one random byte per element instead of one float draw.

    Exact Bernoulli(p) when p·256 is whole (0.25 and 0.5 are); otherwise, and off the CPU, plain dropout.
    Same module type for state_dict and printing purposes; no parameters.
    """

    @staticmethod
    def random_bytes(n: int) -> torch.Tensor:
        """n i.i.d. uniform bytes from torch's generator (eight per int64 draw): the one draw behind every mask,
        so the fused pool → ReLU → dropout (fastconv) consumes the generator exactly as this layer does."""
        return torch.empty((n + 7) // 8, dtype=torch.int64).random_(-(2**63), 2**63 - 1).view(torch.uint8)[:n]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        threshold = self.p * 256
        if not self.training or self.p == 0 or x.device.type != "cpu" or threshold != int(threshold):
            return F.dropout(x, self.p, self.training, self.inplace)
        n = x.numel()
        # The mask takes x's memory layout (channels_last too): an NCHW mask would make the output NCHW and
        # every later op (conv, pool backward) pay for layout copies. The bytes are i.i.d., so their order is free.
        channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        shape = (x.shape[0], *x.shape[2:], x.shape[1]) if channels_last else x.shape
        # A 0/1 mask in x's dtype, written by the comparison itself: bf16·bf16 multiplies are vectorised,
        # where torch.where and bool masks are not (~10x slower here).
        mask = torch.ge(self.random_bytes(n).view(shape), int(threshold), out=torch.empty(shape, dtype=x.dtype))
        if channels_last:
            mask = mask.permute(0, 3, 1, 2)
        # Scale by a Python float, not inside the mask: 1/(1-p) = 4/3 is not exact in bf16.
        return x * mask * (1.0 / (1.0 - self.p))


class Conv3x3(nn.Conv2d):
    """nn.Conv2d(in, out, 3, padding=1) whose training steps on an AVX2-only CPU take the faster weight-gradient
    kernel (simplecnn.fastconv); same parameters, state_dict keys and results to float rounding."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and fastconv.applies(x, self.weight):
            return fastconv.conv3x3(x, self.weight, self.bias)
        return super().forward(x)

    def forward_relu(self, x: torch.Tensor) -> torch.Tensor:
        """relu(self(x)). On the kernel's path the ReLU is part of the layer, so where the input needs no gradient
        (conv1) its backward is folded into the weight gradient instead of a pass over a batch-sized tensor. A layer
        with forward hooks keeps the plain call, so the hooks see the convolution's output as always."""
        hooked = self._forward_hooks or self._forward_pre_hooks
        if self.training and not hooked and fastconv.applies(x, self.weight):
            return fastconv.conv3x3(x, self.weight, self.bias, relu=True)
        return F.relu(self(x), inplace=True)


class SimpleCNN(nn.Module):
    """4 conv 3x3 (1→32→32, 32→64→64), max-pool after each pair, dropout 0.25/0.25/0.5, FC 3136→128→10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = Conv3x3(1, 32)
        self.conv2 = Conv3x3(32, 32)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.dropout1 = Dropout(0.25)
        self.conv3 = Conv3x3(32, 64)
        self.conv4 = Conv3x3(64, 64)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.dropout2 = Dropout(0.25)
        self.fc1 = nn.Linear(7 * 7 * 64, 128)
        self.dropout3 = Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Same function as the tutorial's pool(relu(conv(x))): max-pool and ReLU commute exactly (gradients
        # included), and ReLU after the pool touches 4x fewer elements. In-place ReLU on conv outputs saves a
        # full-size allocation and pass (convolution backward needs its input, not its output).
        x = self.conv1.forward_relu(x)
        x = self._pool_relu_dropout(self.conv2(x), self.pool1, self.dropout1)
        x = self.conv3.forward_relu(x)
        x = self._pool_relu_dropout(self.conv4(x), self.pool2, self.dropout2)
        x = torch.flatten(x, 1)
        x = self.dropout3(F.relu(self.fc1(x), inplace=True))
        return self.fc2(x)

    def _pool_relu_dropout(self, x: torch.Tensor, pool: nn.MaxPool2d, dropout: Dropout) -> torch.Tensor:
        """dropout(relu(pool(x))); in a kernel training step one pass forward and one back (simplecnn.fastconv)
        instead of seven. Hooked layers keep the plain calls."""
        hooked = any(m._forward_hooks or m._forward_pre_hooks for m in (pool, dropout))
        if self.training and not hooked and fastconv.pool_applies(x, dropout.p):
            return fastconv.pool_relu_dropout(x, dropout.p, dropout.random_bytes(x.numel() // 4))
        return dropout(F.relu(pool(x), inplace=True))


def forward_stages(model: SimpleCNN, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The eval-mode forward pass keeping every stage (dropout is the identity in eval mode), for the inside view
    and the digit check. Explicit calls, not forward hooks: one model object serves every session, and hooks
    registered on it by two threads at once read each other's layers (seen under a 30-session load test:
    "stack expects each tensor to be equal size")."""
    a1 = F.relu(model.conv1(x))
    a2 = F.relu(model.conv2(a1))
    p1 = model.pool1(a2)
    a3 = F.relu(model.conv3(p1))
    a4 = F.relu(model.conv4(a3))
    p2 = model.pool2(a4)
    fc1 = model.fc1(torch.flatten(p2, 1))
    fc128 = F.relu(fc1)
    return {
        "conv1": a1,
        "conv2": a2,
        "pool1": p1,
        "conv3": a3,
        "conv4": a4,
        "pool2": p2,
        "fc1": fc1,  # before its ReLU
        "fc128": fc128,
        "logits": model.fc2(fc128),
    }


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


PARAMETER_COUNT = 467_818


def forward_flops_per_image() -> int:
    """Multiply-adds ×2 of one image's forward pass: the four 3×3 convolutions and the two linear layers (what
    the GEMM-bound kernels do; ReLU, pooling and dropout are memory-bound and not counted)."""
    convs = [(28 * 28, 1, 32), (28 * 28, 32, 32), (14 * 14, 32, 64), (14 * 14, 64, 64)]
    macs = sum(pixels * c_in * c_out * 9 for pixels, c_in, c_out in convs) + 7 * 7 * 64 * 128 + 128 * 10
    return 2 * macs


def training_flops_per_image() -> int:
    """Forward + backward (input and weight gradients, 2× forward): the usual 3× forward."""
    return 3 * forward_flops_per_image()
