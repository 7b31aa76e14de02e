"""How honest the confidence is, before and after temperature scaling, for one or more checkpoints.

    python benchmarks/calibration_report.py [CHECKPOINT ...] [--train-quick] [--json out.json]

For each checkpoint (default: the shipped one): the temperature fitted on the first 5,000 MNIST test images and,
on the other 5,000, the expected calibration error (15 bins), the negative log-likelihood, the mean confidence
of the mistakes and the share of answers shown as "over 99%", with T = 1 and with the fitted T
(simplecnn.calibration). --train-quick first trains the Quick recipe on a fixed number of images (36,000 by
default, about what its 30 s budget gives on an idle 2-core machine; a fixed count makes the figure independent of
how busy the machine is) and reports it too: label smoothing makes such a model under-confident, the opposite of
the tutorial's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simplecnn.calibration import calibrate, expected_calibration_error, probabilities  # noqa: E402
from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_model  # noqa: E402
from simplecnn.data import load_mnist  # noqa: E402
from simplecnn.evaluate import predict_logits  # noqa: E402


def figures(logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> dict:
    probs = probabilities(logits, temperature)
    confidence, predicted = probs.max(1)
    wrong = predicted != labels
    return {
        "ece": round(expected_calibration_error(probs, labels), 5),
        "nll": round(float(F.cross_entropy(logits / temperature, labels)), 5),
        "mean_confidence": round(float(confidence.mean()), 5),
        "accuracy": round(float((~wrong).float().mean()), 5),
        "mean_confidence_of_mistakes": round(float(confidence[wrong].mean()), 4) if bool(wrong.any()) else None,
        "share_shown_over_99_percent": round(float((confidence >= 0.995).float().mean()), 4),
    }


def report(path: str, data) -> dict:
    model, checkpoint = load_model(path)
    logits = predict_logits(model, data.test_x)
    labels = data.test_y
    cal = calibrate(logits, labels)
    half = len(labels) // 2
    return {
        "checkpoint": Path(path).name if path != str(DEFAULT_CHECKPOINT) else "shipped (checkpoints/simplecnn.pt)",
        "recipe": checkpoint.config.get("recipe", "?"),
        "temperature": round(cal.temperature, 4),
        "fit_on": f"test images 0-{half - 1}",
        "reported_on": f"test images {half}-{len(labels) - 1}",
        "before": figures(logits[half:], labels[half:], 1.0),
        "after": figures(logits[half:], labels[half:], cal.temperature),
    }


def train_quick(folder: Path, images: int) -> str:
    from simplecnn import recipe
    from simplecnn.training.engine import train

    out = folder / f"quick-{images}-images.pt"
    for _ in train(recipe("quick", budget=0.0, limit_train=images), out_path=out):
        pass
    return str(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="*", help="checkpoint files (default: the shipped one)")
    parser.add_argument("--train-quick", action="store_true", help="also train and report one Quick-recipe run")
    parser.add_argument("--quick-images", type=int, default=36_000, help="training images of that run")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    data = load_mnist()
    paths = args.checkpoints or [str(DEFAULT_CHECKPOINT)]
    with tempfile.TemporaryDirectory() as tmp:
        if args.train_quick:
            paths.append(train_quick(Path(tmp), args.quick_images))
        result = [report(path, data) for path in paths]
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
