"""The digit gate: a small network that looks only at the pixels and says "one digit" or "something else".

The digit check's probe reads the classifier's own layers, and those layers were made to tell digits apart, not
to tell a digit from a symbol or from one digit drawn over another: there, a non-digit lies close to some digit in
every layer. The gate is trained for that one question (digits of many hands and typefaces against dots, lines,
scribbles, letters, symbols, Chinese characters, two digits, overdrawn digits), once, for every checkpoint: its
log-odds and the hidden layer they come from are inputs of each checkpoint's probe (simplecnn.inference.digitcheck).
It is trained by `python -m simplecnn.training.train_gate --write` and shipped as checkpoints/digitgate.pt.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from simplecnn.data import normalize
from simplecnn.files import digest_state
from simplecnn.settings import SHIPPED_DIGIT_GATE

GATE_FORMAT = "simplecnn-digit-gate"
GATE_VERSION = 1


class DigitGate(nn.Module):
    """Two conv blocks like SimpleCNN's, narrower, and one output: the log-odds of "not one digit"."""

    def __init__(self, channels: tuple[int, int, int, int] = (16, 32, 32, 64), hidden: int = 64) -> None:
        super().__init__()
        a, b, c, d = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, a, 3, padding=1), nn.ReLU(), nn.Conv2d(a, b, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(b, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, d, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(d * 7 * 7, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, 1),
        )  # fmt: skip
        self.channels, self.hidden = channels, hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised (N, 1, 28, 28) model inputs → (N,) log-odds that the picture is not one digit."""
        return self.head(self.features(x))[:, 0]


def gate_blob(gate: DigitGate, recipe: dict) -> dict:
    """What checkpoints/digitgate.pt holds: weights, shape and how it was trained (loadable with weights_only)."""
    return {
        "format": GATE_FORMAT,
        "version": GATE_VERSION,
        "channels": list(gate.channels),
        "hidden": gate.hidden,
        "state_dict": {k: v.detach().cpu() for k, v in gate.state_dict().items()},
        "recipe": recipe,
    }


def gate_from_blob(blob: dict) -> DigitGate:
    if not isinstance(blob, dict) or blob.get("format") != GATE_FORMAT or blob.get("version") != GATE_VERSION:
        raise ValueError("not a digit gate of this version")
    gate = DigitGate(tuple(blob["channels"]), int(blob["hidden"]))
    gate.load_state_dict(blob["state_dict"])
    return gate.eval()


@lru_cache(maxsize=4)
def load_gate(path: Path = SHIPPED_DIGIT_GATE) -> DigitGate | None:
    """The gate in `path` (the shipped one by default), or None when it is missing or unreadable."""
    try:
        return gate_from_blob(torch.load(path, map_location="cpu", weights_only=True))
    except Exception:  # noqa: BLE001 - missing or foreign: the check's probe goes without it (a column of zeros)
        return None


def gate_digest(gate: DigitGate | None) -> str:
    return digest_state(gate.state_dict()) if gate is not None else ""


@torch.no_grad()
def gate_features(gate: DigitGate, pixels: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """(N, 28, 28) pictures in [0, 1] (the model's view) → (N, 1 + hidden), on the CPU: the log-odds of "not one
    digit", then the hidden layer it is computed from (what the digit check's probe reads)."""
    gate.eval()
    device = next(gate.parameters()).device
    out = []
    for i in range(0, len(pixels), batch_size):
        hidden = gate.head[:-2](gate.features(normalize(pixels[i : i + batch_size, None].float()).to(device)))
        out.append(torch.cat([gate.head[-1](hidden), hidden], 1).float().cpu())
    return torch.cat(out) if out else torch.empty(0, 1 + gate.hidden)


def gate_scores(gate: DigitGate, pixels: torch.Tensor) -> torch.Tensor:
    """(N,) log-odds of "not one digit" of (N, 28, 28) pictures in [0, 1]."""
    return gate_features(gate, pixels)[:, 0]
