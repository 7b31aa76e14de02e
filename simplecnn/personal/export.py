"""Take the model home: a checkpoint as the tutorial's state_dict (.pt) or as ONNX, with a model card.

The ONNX file comes from the current exporter (`torch.onnx.export(..., dynamo=True)`), with a named input ("image":
N×1×28×28, normalised) and output ("logits": N×10) and a dynamic batch. It is offered only after onnxruntime has
read it back and given the same digit as PyTorch on every check image, each logit within PARITY_TOLERANCE. onnx,
onnxscript and onnxruntime are optional: only this module needs them, and it says so in one line when one is
missing (requirements-dev.txt installs them for the tests).
"""

from __future__ import annotations

import enum
import importlib
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simplecnn.checkpoint import Checkpoint
from simplecnn.data import IMAGE_SIZE
from simplecnn.errors import CodedError
from simplecnn.files import digest_file, write_atomic
from simplecnn.personal.card import INPUT_NAME, OUTPUT_NAME, README, card_bytes, model_card, stated_accuracy

PARITY_TOLERANCE = 1e-4  # max |ONNX logit - PyTorch logit| accepted
PREDICT_SCRIPT = Path(__file__).with_name("predict_onnx.py")
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
INSTALL_HINT = "pip install onnx onnxscript onnxruntime"
MNIST_TEST = "MNIST test set"


class ExportProblem(enum.StrEnum):
    MISSING = "personal.export_missing_packages"
    PARITY = "personal.export_parity"
    FAILED = "personal.export_failed"


class ExportError(CodedError):
    """An export that cannot be offered; the message is one line for the user."""


def require_onnx() -> dict[str, str]:
    """The optional packages' versions; ExportError (one line) when any is missing."""
    versions, missing = {}, []
    for name in ONNX_PACKAGES:
        try:
            versions[name] = str(importlib.import_module(name).__version__)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportError(
            f"ONNX export needs {', '.join(missing)}, not installed here: {INSTALL_HINT}",
            ExportProblem.MISSING,
            missing=", ".join(missing),
        )
    return versions


def state_dict_bytes(checkpoint: Checkpoint) -> bytes:
    """The weights as the tutorial saves them (`torch.save(model.state_dict(), …)`): float32 tensors under the
    tutorial's names, so `model.load_state_dict(torch.load(f, weights_only=True))` works in its own class."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().float().contiguous().clone() for k, v in checkpoint.state_dict.items()}, buffer)
    return buffer.getvalue()


def onnx_bytes(model: torch.nn.Module) -> bytes:
    """The model as ONNX (the dynamo exporter): input `image` (batch×1×28×28, dynamic batch), output `logits`."""
    require_onnx()
    model = model.to("cpu").float().eval()
    example = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE)
    try:
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False,
        )
        if program is None:  # only the legacy exporter returns nothing
            raise RuntimeError("the exporter returned no program")
        with tempfile.TemporaryDirectory(prefix="simplecnn-onnx-") as tmp:
            path = Path(tmp) / "model.onnx"
            program.save(str(path))
            return path.read_bytes()
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types; one line for the user
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"the ONNX export failed ({detail})", ExportProblem.FAILED, detail=detail) from None


@dataclass(frozen=True)
class Parity:
    inputs: str  # what was compared: MNIST_TEST, or stroke-drawn digits where MNIST is absent
    images: int
    same_digit: bool
    max_abs_diff: float
    onnx_correct: int | None  # images the ONNX model reads right (when labels were given)
    opset: int

    @property
    def ok(self) -> bool:
        return self.same_digit and self.max_abs_diff <= PARITY_TOLERANCE

    def to_card(self, versions: dict[str, str]) -> dict[str, Any]:
        return {
            "exporter": "torch.onnx.export(dynamo=True)",
            "opset": self.opset,
            "dynamic_batch": True,
            "check": {
                "runtime": f"onnxruntime {versions.get('onnxruntime', '?')} (CPU)",
                "inputs": self.inputs,
                "images": self.images,
                "same_digit_as_pytorch": self.same_digit,
                "max_abs_logit_difference": self.max_abs_diff,
                "tolerance": PARITY_TOLERANCE,
            },
        }


def check_parity(
    onnx: bytes, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, inputs: str = MNIST_TEST
) -> Parity:
    """onnxruntime (CPU) against PyTorch on the normalised inputs `x`: the same digit everywhere? the largest logit
    difference? One image also runs alone, so the dynamic batch is checked too."""
    require_onnx()
    import onnx as onnx_lib
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
    model = model.to("cpu").float().eval()
    ours, theirs = [], []
    with torch.no_grad():
        for part in x.split(1000):
            ours.append(model(part).numpy())
            theirs.append(session.run([OUTPUT_NAME], {INPUT_NAME: part.numpy()})[0])
    a, b = np.concatenate(ours), np.concatenate(theirs)
    single = session.run([OUTPUT_NAME], {INPUT_NAME: x[:1].numpy()})[0]
    diff = max(float(np.abs(a - b).max()), float(np.abs(single - a[:1]).max()))
    correct = int((b.argmax(1) == y.numpy()).sum()) if y is not None else None
    opset = next(o.version for o in onnx_lib.load_from_string(onnx).opset_import if o.domain in ("", "ai.onnx"))
    return Parity(inputs, len(a), bool((a.argmax(1) == b.argmax(1)).all()), diff, correct, int(opset))


@dataclass(frozen=True)
class Bundle:
    onnx: bytes
    card: dict[str, Any]
    parity: Parity

    def files(self) -> dict[str, bytes]:
        return {
            "model.onnx": self.onnx,
            "model_card.json": card_bytes(self.card),
            "predict_onnx.py": PREDICT_SCRIPT.read_bytes(),
            "README.txt": README.encode(),
        }

    def zip_bytes(self) -> bytes:
        """model.onnx, model_card.json, predict_onnx.py and README.txt in one zip."""
        return _zip(self.files())


def onnx_bundle(
    checkpoint: Checkpoint, digest: str, x: torch.Tensor, y: torch.Tensor | None = None, inputs: str = MNIST_TEST
) -> Bundle:
    """Export, check against PyTorch on `x` (`inputs` says what they are), describe. Raises ExportError when the
    check fails: such a file is never offered. Checked on MNIST's test set, the card's test accuracy is the ONNX
    model's own there."""
    versions = require_onnx()
    model = checkpoint.model("cpu")
    data = onnx_bytes(model)
    parity = check_parity(data, model, x, y, inputs)
    if not parity.ok:
        raise ExportError(
            f"the ONNX model disagrees with PyTorch (largest logit difference {parity.max_abs_diff:.1e}, same digit "
            f"everywhere: {parity.same_digit}), so it is not offered",
            ExportProblem.PARITY,
            diff=parity.max_abs_diff,
        )
    accuracy = stated_accuracy(checkpoint)
    if inputs == MNIST_TEST and parity.onnx_correct is not None and parity.images:
        accuracy = (parity.onnx_correct / parity.images, parity.images)
    return Bundle(data, model_card(checkpoint, digest, accuracy, versions, parity.to_card(versions)), parity)


def check_images(count: int = 0, data_root: str | None = None) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Normalised inputs and labels for the ONNX check, and what they are: MNIST's test images (the first `count`,
    0 = all), or where MNIST is not on disk, stroke-drawn digits through the app's preprocessing."""
    from simplecnn.data import DataUnavailableError, data_available, load_mnist

    if data_available(data_root):
        try:
            data = load_mnist(data_root, download=False).subset(0, count)
            return data.test_x, data.test_y, MNIST_TEST
        except DataUnavailableError:
            pass
    from simplecnn.inference.preprocess import preprocess
    from simplecnn.inference.synthetic import stroke_digit_set

    images, labels = stroke_digit_set(count or 1000, seed=28)
    return torch.cat([preprocess(image) for image in images]), torch.tensor(labels), "stroke-drawn digits"


def export_files(
    checkpoint: Checkpoint, source: Path, fmt: str, out: Path, count: int = 0, data_root: str | None = None
) -> list[Path]:
    """Write the export into the folder `out`: `pt` → model.pt (the tutorial's state_dict) and model_card.json;
    `onnx` → model.onnx, model_card.json, predict_onnx.py and README.txt, once the ONNX check has passed."""
    digest = digest_file(source)
    if fmt == "pt":
        card = model_card(checkpoint, digest, stated_accuracy(checkpoint), {})
        files = {"model.pt": state_dict_bytes(checkpoint), "model_card.json": card_bytes(card)}
    else:
        files = onnx_bundle(checkpoint, digest, *check_images(count, data_root)).files()
    return [write_atomic(out / name, data) for name, data in files.items()]


APP_CHECK_IMAGES = 1000  # test images the app's export is checked on (the CLI checks all 10,000 by default)
KEEP_BUNDLES = 20  # bundles kept in the cache folder, newest first


def onnx_installed() -> None:
    """ExportError (one line) unless the optional packages are installed; imports nothing."""
    import importlib.util

    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(
            f"ONNX export needs {', '.join(missing)}, not installed here: {INSTALL_HINT}",
            ExportProblem.MISSING,
            missing=", ".join(missing),
        )


def cached_bundle(digest: str) -> Path | None:
    """Where this checkpoint's ONNX bundle is kept, if it has been made already."""
    from simplecnn import settings

    path = settings.cache_dir() / "exports" / f"{digest[:32]}.zip"
    return path if path.is_file() else None


def bundle_zip(source: Path | bytes, digest: str, check_images: int = APP_CHECK_IMAGES, timeout: float = 600) -> bytes:
    """The ONNX bundle (zip) of a checkpoint (a file, or an upload's bytes), made once per checkpoint and kept in
    the cache folder under its digest. It is made by `python -m simplecnn export` in a process of its own: the
    exporter would leave a server ~260 MB bigger, and it is not meant to run beside training threads."""
    import subprocess
    import sys

    from simplecnn import settings

    onnx_installed()
    done = cached_bundle(digest)
    if done is not None:
        return done.read_bytes()
    folder = settings.cache_dir() / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="simplecnn-export-", dir=folder) as tmp:
        if isinstance(source, bytes):
            (Path(tmp) / "upload.pt").write_bytes(source)
            source = Path(tmp) / "upload.pt"
        out_dir = Path(tmp) / "out"
        command = [sys.executable, "-m", "simplecnn", "export", str(source), "--format", "onnx", "--out", str(out_dir)]
        try:
            out = subprocess.run(
                [*command, "--check-images", str(check_images)],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=settings.ROOT,
            )
        except subprocess.TimeoutExpired:
            raise ExportError(f"the ONNX export took over {timeout:.0f} s", ExportProblem.FAILED) from None
        if out.returncode != 0:
            lines = [line for line in out.stderr.splitlines() if line.strip()] or ["no message"]
            detail = lines[-1].removeprefix("error: ")[:300]
            raise ExportError(f"the ONNX export failed: {detail}", ExportProblem.FAILED, detail=detail)
        data = _zip({p.name: p.read_bytes() for p in sorted(out_dir.iterdir())})
    write_atomic(folder / f"{digest[:32]}.zip", data)
    _prune(folder)
    return data


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _prune(folder: Path) -> None:
    bundles = sorted(folder.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in bundles[KEEP_BUNDLES:]:
        old.unlink(missing_ok=True)
