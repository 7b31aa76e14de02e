"""Test-set evaluation in torch: loss, accuracy, confusion matrix, per-class and P/R/F1, mistakes."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from simplecnn.calibration import Calibration, calibrate, probabilities
from simplecnn.device import autocast
from simplecnn.settings import SHIPPED_EVALUATION
from simplecnn.settings import cache_dir as user_cache_dir  # parameters named cache_dir override it

NUM_CLASSES = 10
EVAL_FORMAT = "simplecnn-evaluation"
EVAL_VERSION = 2  # 2: the logits are kept, so every confidence shown is calibrated (simplecnn.calibration)
# The shipped checkpoint's full test-set evaluation, shipped beside it: a fresh server shows it without computing.


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: torch.Tensor, batch_size: int | None = None, bf16: bool = False
) -> torch.Tensor:
    """Logits in float32; batch_size None picks a per-device default."""
    model.eval()
    if batch_size is None:
        # On the CPU a 256-image batch keeps the activations in cache, faster than 1000 (docs/performance.md).
        batch_size = 256 if x.device.type == "cpu" else 1000
    if x.device.type == "cpu" and x.dim() == 4:
        # Channels-last input puts every conv on oneDNN's fast NHWC path even for a model left in NCHW (as
        # checkpoints load; docs/performance.md). A 1-channel NCHW tensor already counts as channels-last
        # contiguous, so .contiguous(memory_format=...) would be a no-op; empty_like(...).copy_ restrides it.
        x = torch.empty_like(x, memory_format=torch.channels_last).copy_(x)
    outs = []
    for i in range(0, len(x), batch_size):
        with autocast(x.device, bf16):
            outs.append(model(x[i : i + batch_size]).float())
    return torch.cat(outs) if outs else torch.empty(0, NUM_CLASSES, device=x.device)


def confusion_matrix(targets: torch.Tensor, preds: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """cm[true, predicted] counts."""
    index = targets.long() * num_classes + preds.long()
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes).cpu()


def _safe_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(b > 0, a / b.clamp(min=1), torch.zeros_like(a))


@dataclass
class EvalResult:
    n: int
    loss: float
    accuracy: float
    confusion: torch.Tensor  # (10, 10) int64, [true, predicted]
    predictions: torch.Tensor  # (n,) int64, CPU
    confidences: torch.Tensor  # (n,) float32, CPU: calibrated probability of the predicted class
    targets: torch.Tensor  # (n,) int64, CPU
    logits: torch.Tensor | None = None  # (n, 10) float32, CPU
    calibration: Calibration | None = None  # fitted on the first half of these images, reported on the second

    @property
    def temperature(self) -> float:
        return self.calibration.temperature if self.calibration is not None else 1.0

    def recalibrated(self, calibration: Calibration | None) -> EvalResult:
        """The same evaluation with the confidences of the checkpoint's own calibration (the one every page uses
        for this model, e.g. recorded by its training run), so a test image's confidence here equals its inside
        view's. Unchanged without logits or calibration."""
        if calibration is None or self.logits is None or calibration == self.calibration:
            return self
        confidences = probabilities(self.logits, calibration.temperature).max(1).values
        return dataclasses.replace(self, confidences=confidences, calibration=calibration)

    @property
    def support(self) -> torch.Tensor:
        return self.confusion.sum(1)

    @property
    def per_class_accuracy(self) -> torch.Tensor:
        """Recall per digit: the tutorial's 'accuracy per digit'."""
        return _safe_div(self.confusion.diag().double(), self.support.double())

    @property
    def precision(self) -> torch.Tensor:
        return _safe_div(self.confusion.diag().double(), self.confusion.sum(0).double())

    @property
    def recall(self) -> torch.Tensor:
        return self.per_class_accuracy

    @property
    def f1(self) -> torch.Tensor:
        p, r = self.precision, self.recall
        return _safe_div(2 * p * r, p + r)

    @property
    def misclassified(self) -> torch.Tensor:
        return torch.nonzero(self.predictions != self.targets).flatten()

    def indices_for(self, true: int, predicted: int) -> torch.Tensor:
        """Test-set indices behind one confusion-matrix cell."""
        return torch.nonzero((self.targets == true) & (self.predictions == predicted)).flatten()

    def most_confused(self) -> tuple[int, int]:
        """The off-diagonal cell (true, predicted) with the most images; (0, 0) when there is no mistake."""
        cm = self.confusion.clone()
        cm.fill_diagonal_(-1)
        true, predicted = divmod(int(cm.argmax()), cm.shape[1])
        return (true, predicted) if int(cm[true, predicted]) > 0 else (0, 0)

    def report(self) -> list[dict]:
        """Rows of a classification report (one per digit)."""
        return [
            {
                "digit": d,
                "precision": float(self.precision[d]),
                "recall": float(self.recall[d]),
                "f1": float(self.f1[d]),
                "support": int(self.support[d]),
                "accuracy": float(self.per_class_accuracy[d]),
            }
            for d in range(NUM_CLASSES)
        ]

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "per_class_accuracy": [float(v) for v in self.per_class_accuracy],
            "precision": [float(v) for v in self.precision],
            "recall": [float(v) for v in self.recall],
            "f1": [float(v) for v in self.f1],
            "support": [int(v) for v in self.support],
            "confusion_matrix": self.confusion.tolist(),
            "misclassified": len(self.misclassified),
            "calibration": self.calibration.to_dict() if self.calibration is not None else None,
        }


MIN_CALIBRATION_IMAGES = 200  # fewer test images than this: too few to fit a temperature on half of them


def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int | None = None,
    bf16: bool = False,
    calibrated: bool = True,
) -> EvalResult:
    """The model on (x, y). `calibrated`: fit the checkpoint's temperature on these images (first half) and give
    calibrated confidences; a training run's per-epoch evaluations skip it (only the kept one is calibrated)."""
    return result_from_logits(predict_logits(model, x, batch_size, bf16), y, calibrated)


def result_from_logits(logits: torch.Tensor, y: torch.Tensor, calibrated: bool = True) -> EvalResult:
    if len(y) == 0:
        empty = torch.empty(0, dtype=torch.long)
        return EvalResult(
            0,
            float("nan"),
            float("nan"),
            torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.long),
            empty,
            torch.empty(0),
            empty,
        )
    logits, y = logits.float().cpu(), y.cpu()
    loss = F.cross_entropy(logits, y).item()
    calibration = calibrate(logits, y) if calibrated and len(y) >= MIN_CALIBRATION_IMAGES else None
    conf, preds = probabilities(logits, calibration.temperature if calibration else 1.0).max(1)
    cm = confusion_matrix(y, preds)
    return EvalResult(
        n=len(y),
        loss=loss,
        accuracy=cm.diag().sum().item() / len(y),
        confusion=cm,
        predictions=preds,
        confidences=conf,
        targets=y,
        logits=logits,
        calibration=calibration,
    )


def sample_indices(n: int, k: int, seed: int) -> list[int]:
    """k distinct random indices out of n (e.g. test images to show), reproducible from seed."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=generator)[: min(k, n)].tolist()


# --- evaluations kept on disk -------------------------------------------------------------------------------------
def test_set_key(x: torch.Tensor, y: torch.Tensor) -> str:
    """SHA-256 of the test images as 0..255 pixels and their labels: the same images give the same key on any
    device (normalised floats can differ in the last bit), and a first-N subset gets its own key."""
    from simplecnn.data import denormalize

    pixels = denormalize(x.detach().float().cpu().clone()).mul_(255).round_().to(torch.uint8)
    h = hashlib.sha256(str((tuple(x.shape), len(y))).encode())
    h.update(pixels.contiguous().numpy().tobytes())
    h.update(y.detach().cpu().to(torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()


def _to_blob(result: EvalResult, digest: str, key: str) -> dict:
    """Tensors, numbers and strings only (loadable with weights_only=True); the logits carry everything else."""
    return {
        "format": EVAL_FORMAT,
        "version": EVAL_VERSION,
        "digest": digest,
        "test_set": key,
        "n": result.n,
        "logits": result.logits if result.logits is not None else torch.empty(0, NUM_CLASSES),
        "targets": result.targets.to(torch.uint8),
        "calibrated": result.calibration is not None,
    }


def _from_blob(blob: object, digest: str, key: str) -> EvalResult | None:
    """The stored result if it is ours, for this checkpoint and test set, and consistent; else None."""
    if not isinstance(blob, dict) or blob.get("format") != EVAL_FORMAT or blob.get("version") != EVAL_VERSION:
        return None
    if blob.get("digest") != digest or blob.get("test_set") != key:
        return None
    n, logits, targets = int(blob["n"]), blob["logits"], blob["targets"]
    if not (isinstance(logits, torch.Tensor) and isinstance(targets, torch.Tensor)):
        return None
    if tuple(logits.shape) != (n, NUM_CLASSES) or tuple(targets.shape) != (n,) or not bool(logits.isfinite().all()):
        return None
    return result_from_logits(logits.float(), targets.long(), bool(blob.get("calibrated", True)))


def _read_evaluation(path: Path, digest: str, key: str) -> EvalResult | None:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        return _from_blob(blob, digest, key)
    except Exception:  # noqa: BLE001 - missing or corrupt: recomputed and rewritten
        return None


def evaluate_cached(
    model: nn.Module,
    digest: str,
    x: torch.Tensor,
    y: torch.Tensor,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int | None = None,
) -> EvalResult:
    """`evaluate`, computed once per (checkpoint SHA-256 `digest`, test set) and kept on disk.

    Looks in the shipped side file (checkpoints/simplecnn.eval.pt), then in `cache_dir` (default
    ~/.cache/simplecnn); a missing, corrupt or foreign file is recomputed and rewritten atomically, within the
    cache folder's cap (simplecnn.bounded: a full disk or a read-only folder cost a recomputation, nothing else)."""
    from simplecnn.bounded import store_cached, touch
    from simplecnn.checkpoint import serialize

    key = test_set_key(x, y)
    path = Path(cache_dir or user_cache_dir()) / f"eval-{digest[:24]}-{key[:16]}.pt"
    for candidate in (SHIPPED_EVALUATION, path):
        found = _read_evaluation(candidate, digest, key)
        if found is not None:
            touch(candidate)
            return found
    result = evaluate(model, x, y, batch_size)
    store_cached(path, serialize(_to_blob(result, digest, key)))
    return result


def write_shipped_evaluation(model: nn.Module, digest: str, x: torch.Tensor, y: torch.Tensor) -> Path:
    """Store the shipped checkpoint's evaluation beside it (run once when the checkpoint changes)."""
    from simplecnn.checkpoint import atomic_save

    return atomic_save(_to_blob(evaluate(model, x, y), digest, test_set_key(x, y)), SHIPPED_EVALUATION)


def stored_evaluation(digest: str, n: int, cache_dir: str | os.PathLike | None = None) -> EvalResult | None:
    """A kept evaluation of this checkpoint on the first n test images, found WITHOUT loading MNIST (a cold
    server can show it at once). It trusts that the test set is MNIST's own; `evaluate_cached` checks that."""
    folder = Path(cache_dir or user_cache_dir())
    for path in (SHIPPED_EVALUATION, *sorted(folder.glob(f"eval-{digest[:24]}-*.pt"))):
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - missing or corrupt: not found
            continue
        if isinstance(blob, dict) and blob.get("digest") == digest and blob.get("n") == n:
            found = _from_blob(blob, digest, str(blob.get("test_set")))
            if found is not None:
                return found
    return None


def known_calibration(metrics: dict, digest: str, cache_dir: str | os.PathLike | None = None) -> Calibration | None:
    """A checkpoint's calibration without computing anything: the one its training run recorded (metrics), else
    the one of a kept full test-set evaluation (the shipped side file, or one Evaluate made); None otherwise."""
    from simplecnn.data import TEST_SIZE

    recorded = Calibration.from_dict(metrics.get("calibration"))
    if recorded is not None:
        return recorded
    kept = stored_evaluation(digest, TEST_SIZE, cache_dir)
    return kept.calibration if kept is not None else None
