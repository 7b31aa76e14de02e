"""The tutorial's SimpleCNN, as the tutorial writes it (same layers, names and forward), and the LeNet-5 of its
part 2 that it compares against. State dicts interchange with the tutorial's notebook both ways. Training
speed-ups live apart, in simplecnn.perf, and leave these classes untouched.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PARAMETER_COUNT = 467_818  # what count_parameters(SimpleCNN()) gives; the tutorial's text says "~140K"


class SimpleCNN(nn.Module):
    """Two conv blocks (1→32→32, 32→64→64, 3×3, padding=1) with max-pooling and dropout, then FC 3136→128→10."""

    def __init__(self) -> None:
        super().__init__()
        # Block 1: 28×28 → 14×14
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.dropout1 = nn.Dropout(0.25)
        # Block 2: 14×14 → 7×7
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.dropout2 = nn.Dropout(0.25)
        # Classifier: 7·7·64 = 3136 features → 128 → 10 digits
        self.fc1 = nn.Linear(7 * 7 * 64, 128)
        self.dropout3 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))  # (N, 32, 28, 28)
        x = F.relu(self.conv2(x))  # (N, 32, 28, 28)
        x = self.pool1(x)  # (N, 32, 14, 14)
        x = self.dropout1(x)
        x = F.relu(self.conv3(x))  # (N, 64, 14, 14)
        x = F.relu(self.conv4(x))  # (N, 64, 14, 14)
        x = self.pool2(x)  # (N, 64, 7, 7)
        x = self.dropout2(x)
        # The tutorial writes x.view(x.size(0), -1); flatten also accepts a channels_last tensor.
        x = torch.flatten(x, 1)  # (N, 3136)
        x = F.relu(self.fc1(x))  # (N, 128)
        x = self.dropout3(x)
        return self.fc2(x)  # (N, 10): logits; CrossEntropyLoss applies the softmax itself


class LeNet5(nn.Module):
    """The tutorial's part 2 LeNet-5: 5×5 convolutions (1→6, 6→16), tanh, average pooling, FC 400→120→84→10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)  # padding=2 keeps 28×28 (LeNet-5 read 32×32)
        self.pool1 = nn.AvgPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool2 = nn.AvgPool2d(2, 2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(torch.tanh(self.conv1(x)))  # (N, 6, 14, 14)
        x = self.pool2(torch.tanh(self.conv2(x)))  # (N, 16, 5, 5)
        x = torch.flatten(x, 1)  # (N, 400)
        x = torch.tanh(self.fc1(x))  # (N, 120)
        x = torch.tanh(self.fc2(x))  # (N, 84)
        return self.fc3(x)  # (N, 10): logits


ARCHITECTURES: dict[str, type[nn.Module]] = {"simplecnn": SimpleCNN, "lenet5": LeNet5}  # TrainConfig.model's names


def count_parameters(model: nn.Module) -> int:
    """The tutorial's count: trainable parameters only."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
