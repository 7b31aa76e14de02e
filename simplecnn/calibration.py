"""Confidence that means something: one temperature per checkpoint, fitted on held-out test images.

A network's softmax says how sure it is, but training does not make that number honest: the tutorial's model is
slightly over-confident, a label-smoothed one under-confident. Temperature scaling (Guo et al., 2017, "On
calibration of modern neural networks") divides the logits by one number T, fitted to minimise the negative
log-likelihood on images the model never trained on; the answer (argmax) never changes, only how sure it says
it is. We fit T on the first half of the test images the checkpoint was evaluated on and report the expected
calibration error (ECE) on the other half, before and after, so the figure is not measured on the fit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

ECE_BINS = 15
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


@dataclass(frozen=True)
class Calibration:
    temperature: float
    ece_before: float  # on the report half, T = 1
    ece_after: float  # on the report half, fitted T
    fit_images: int
    report_images: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> Calibration | None:
        """None for anything that is not a calibration this program wrote (a foreign or damaged checkpoint)."""
        if not isinstance(data, dict):
            return None
        try:
            calibration = cls(
                float(data["temperature"]),
                float(data["ece_before"]),
                float(data["ece_after"]),
                int(data["fit_images"]),
                int(data["report_images"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return calibration if MIN_TEMPERATURE <= calibration.temperature <= MAX_TEMPERATURE else None


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """Mean |accuracy − confidence| over equal-width confidence bins, weighted by how many answers fall in each."""
    confidence, predicted = probabilities.float().max(1)
    correct = (predicted == labels).float()
    which = (confidence * bins).ceil().clamp(1, bins).long() - 1
    gap = torch.zeros(bins).index_add_(0, which, correct - confidence)
    return float(gap.abs().sum() / max(1, len(labels)))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T > 0 that minimises the NLL of softmax(logits / T): a 1-D convex problem in log T."""
    logits, labels = logits.detach().double(), labels.detach().long()
    log_t = torch.zeros(1, dtype=torch.double, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    t = float(log_t.detach().exp())
    return min(MAX_TEMPERATURE, max(MIN_TEMPERATURE, t)) if math.isfinite(t) else 1.0


def calibrate(logits: torch.Tensor, labels: torch.Tensor) -> Calibration:
    """Fit T on the first half of (logits, labels), report ECE before/after on the second half."""
    half = len(labels) // 2
    t = fit_temperature(logits[:half], labels[:half])
    report, truth = logits[half:].float(), labels[half:]
    return Calibration(
        t,
        expected_calibration_error(report.softmax(1), truth),
        expected_calibration_error((report / t).softmax(1), truth),
        half,
        len(labels) - half,
    )


def probabilities(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """softmax(logits / T): the calibrated probabilities every page shows."""
    return (logits.float() / float(temperature)).softmax(-1)
