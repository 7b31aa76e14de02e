"""Acceptance (issue 28, export): the ONNX model of a checkpoint against PyTorch on all 10,000 MNIST test
images (onnxruntime, CPU): the same digit everywhere and the largest logit difference; the state_dict `.pt` in
the tutorial's own SimpleCNN class (benchmarks/tutorial_evaluate.py) gives the same answers; the bundled
predict_onnx.py reads PNGs of stroke-drawn digits as the app does.

    python benchmarks/export_parity.py [--checkpoint checkpoints/simplecnn.pt] [--out benchmarks/results/x.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from tutorial_evaluate import SimpleCNN as TutorialSimpleCNN  # noqa: E402  (the tutorial's class, as written)

from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint  # noqa: E402
from simplecnn.data import load_mnist  # noqa: E402
from simplecnn.device import configure_threads  # noqa: E402
from simplecnn.files import digest_file  # noqa: E402
from simplecnn.inference.predict import predict_batch  # noqa: E402
from simplecnn.inference.preprocess import preprocess  # noqa: E402
from simplecnn.inference.synthetic import ENCODINGS, encode, stroke_digit_set  # noqa: E402
from simplecnn.personal.export import onnx_bundle, state_dict_bytes  # noqa: E402


def tutorial_class_agrees(checkpoint, x: torch.Tensor) -> dict:
    model = TutorialSimpleCNN()
    model.load_state_dict(torch.load(io.BytesIO(state_dict_bytes(checkpoint)), weights_only=True))
    model.eval()
    with torch.no_grad():
        theirs = torch.cat([model(part) for part in x.split(1000)])
        ours = torch.cat([checkpoint.model()(part) for part in x.split(1000)])
    return {
        "images": len(x),
        "same_digit": bool(torch.equal(theirs.argmax(1), ours.argmax(1))),
        "max_abs_logit_difference": float((theirs - ours).abs().max()),
    }


def predict_script_agrees(bundle, checkpoint, n: int = 60) -> dict:
    """Stroke-drawn digits as PNGs (three encodings) through the bundled script and through the app's own path."""
    from PIL import Image

    images, labels = stroke_digit_set(n, seed=2028)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in bundle.files().items():
            (folder / name).write_bytes(data)
        paths = []
        for i, image in enumerate(images):
            paths.append(folder / f"{i:03d}.png")
            Image.fromarray(image if image.ndim == 3 else encode(image, ENCODINGS[i % 3])).save(paths[-1])
        out = subprocess.run(
            [sys.executable, str(folder / "predict_onnx.py"), "--json", *map(str, paths)],
            capture_output=True,
            text=True,
            check=True,
            cwd=folder,
        )
        script = [json.loads(line)["digit"] for line in out.stdout.splitlines()]
        app = [
            p.digit
            for p in predict_batch(
                checkpoint.model(), torch.cat([preprocess(np.asarray(Image.open(p))) for p in paths])
            )
        ]
    return {
        "pngs": n,
        "same_digit_as_app": script == app,
        "right": sum(int(a == b) for a, b in zip(script, labels, strict=True)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    parser.add_argument("--out", help="write the result JSON here too")
    args = parser.parse_args()
    configure_threads()
    checkpoint = load_checkpoint(args.checkpoint)
    data = load_mnist()
    started = time.perf_counter()
    bundle = onnx_bundle(checkpoint, digest_file(args.checkpoint), data.test_x, data.test_y)
    parity = bundle.parity
    result = {
        "checkpoint": Path(args.checkpoint).name,
        "checkpoint_sha256": digest_file(args.checkpoint),
        "onnx": {
            "images": parity.images,
            "same_digit_as_pytorch": parity.same_digit,
            "max_abs_logit_difference": parity.max_abs_diff,
            "onnx_test_accuracy": parity.onnx_correct / parity.images if parity.onnx_correct is not None else None,
            "opset": parity.opset,
            "bytes": len(bundle.onnx),
            "seconds_export_and_check": round(time.perf_counter() - started, 1),
        },
        "pt_in_tutorial_class": tutorial_class_agrees(checkpoint, data.test_x),
        "predict_onnx_py": predict_script_agrees(bundle, checkpoint),
        "versions": bundle.card["versions"],
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "load_average_1_5_15_min": [round(v, 1) for v in os.getloadavg()]},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    ok = parity.ok and parity.images == len(data.test_y) and result["pt_in_tutorial_class"]["same_digit"]
    return 0 if ok and result["predict_onnx_py"]["same_digit_as_app"] else 1


if __name__ == "__main__":
    sys.exit(main())
