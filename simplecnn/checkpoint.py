"""Self-describing checkpoints: atomic save, safe (weights_only) and strict load."""

from __future__ import annotations

import enum
import io
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import torch

from simplecnn.errors import CodedError
from simplecnn.files import replacing
from simplecnn.model import SimpleCNN
from simplecnn.settings import SHIPPED_CHECKPOINT

FORMAT = "simplecnn-checkpoint"
FORMAT_VERSION = 1
DEFAULT_CHECKPOINT = SHIPPED_CHECKPOINT
_PREFIXES = ("module.", "_orig_mod.")


class CheckpointProblem(enum.StrEnum):
    """What is wrong with a checkpoint: a UI's key for its own words (values are catalog keys under errors.)."""

    NO_STATE_DICT = "checkpoint.no_state_dict"
    NOT_TENSOR = "checkpoint.not_tensor"
    NOT_SIMPLECNN = "checkpoint.not_simplecnn"
    BAD_SHAPE = "checkpoint.bad_shape"
    NOT_FLOAT = "checkpoint.not_float"
    NON_FINITE = "checkpoint.non_finite"
    NO_FILE = "checkpoint.no_file"
    IS_FOLDER = "checkpoint.is_folder"
    PERMISSION = "checkpoint.permission"
    INVALID = "checkpoint.invalid"
    NOT_DICT = "checkpoint.not_dict"
    UNSAFE = "checkpoint.unsafe"
    DAMAGED = "checkpoint.damaged"
    TOO_NEW = "checkpoint.too_new"
    TOO_LARGE = "checkpoint.too_large"
    EMPTY = "checkpoint.empty"
    UPLOAD_GONE = "checkpoint.upload_gone"
    FILE_GONE = "checkpoint.file_gone"
    UNREADABLE = "checkpoint.unreadable"


class CheckpointError(CodedError, ValueError):
    """Not a usable SimpleCNN checkpoint; the message is one line for the user, `code` says which problem."""

    code = CheckpointProblem.INVALID


@dataclass
class Checkpoint:
    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    plain: bool = False  # a bare tutorial-style state_dict

    @property
    def accuracy(self) -> float | None:
        value = self.metrics.get("test_accuracy")
        return float(value) if value is not None else None

    def model(self, device: torch.device | str = "cpu") -> SimpleCNN:
        model = SimpleCNN()
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()


def portable_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """CPU, contiguous copies under the tutorial's names."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """torch.save, atomically (simplecnn.files.replacing): readers see the old file or the new one."""
    with replacing(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def save_checkpoint(
    path: str | os.PathLike,
    state_dict: dict[str, torch.Tensor],
    config: dict | None = None,
    metrics: dict | None = None,
    history: dict | None = None,
) -> Path:
    """Write a self-describing checkpoint atomically."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()},
        "config": dict(config or {}),
        "metrics": dict(metrics or {}),
        "history": dict(history or {}),
        "meta": {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "torch": str(torch.__version__)},
    }
    return atomic_save(payload, path)


def _expected_shapes() -> dict[str, torch.Size]:
    return {k: v.shape for k, v in SimpleCNN().state_dict().items()}


def validate_state_dict(state: Any) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not state:
        raise CheckpointError("no state_dict of tensors inside", CheckpointProblem.NO_STATE_DICT)
    clean: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError("state_dict holds something that is not a named tensor", CheckpointProblem.NOT_TENSOR)
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
        clean[key] = value
    expected = _expected_shapes()
    missing = sorted(set(expected) - set(clean))
    unexpected = sorted(set(clean) - set(expected))
    if missing or unexpected:
        detail = (
            (f"missing {', '.join(missing[:4])}" if missing else "")
            + ("; " if missing and unexpected else "")
            + (f"unexpected {', '.join(unexpected[:4])}" if unexpected else "")
        )
        keys = ", ".join([*missing[:4], *unexpected[:4]])
        raise CheckpointError(f"not a SimpleCNN state_dict ({detail})", CheckpointProblem.NOT_SIMPLECNN, keys=keys)
    for key, shape in expected.items():
        tensor = clean[key]
        if tensor.shape != shape:
            message = f"{key} has shape {tuple(tensor.shape)}, SimpleCNN needs {tuple(shape)}"
            raise CheckpointError(
                message, CheckpointProblem.BAD_SHAPE, key=key, shape=tuple(tensor.shape), expected=tuple(shape)
            )
        if not tensor.is_floating_point():
            raise CheckpointError(
                f"{key} is {tensor.dtype}, not floating point", CheckpointProblem.NOT_FLOAT, key=key, dtype=tensor.dtype
            )
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"{key} holds NaN or infinite values", CheckpointProblem.NON_FINITE, key=key)
        clean[key] = tensor.float()
    return clean


def _read(source: str | os.PathLike | bytes | BinaryIO) -> Any:
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        # weights_only=True: tensors and plain containers only; a pickle that would run code is refused.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about odd pickles before refusing them: one line is ours
            return torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no such file: {source}", CheckpointProblem.NO_FILE) from None
    except IsADirectoryError:
        raise CheckpointError(f"is a folder, not a checkpoint file: {source}", CheckpointProblem.IS_FOLDER) from None
    except PermissionError:
        raise CheckpointError(f"cannot read {source}: permission denied", CheckpointProblem.PERMISSION) from None
    except Exception as exc:  # noqa: BLE001 - every other failure means "not a valid checkpoint"
        code, reason = _failure_reason(source, exc)
        raise CheckpointError(f"not a valid checkpoint: {reason[:200]}", code) from None


# What torch's own checkpoints import while unpickling; anything else would be code chosen by the file's author.
_SAFE_MODULES = ("torch", "collections")
_GLOBAL_OPS = ("GLOBAL", "INST")


def _failure_reason(source: Any, exc: Exception) -> tuple[CheckpointProblem, str]:
    """Why torch.load refused it, for people. torch says "weights only load failed" both for a pickle that
    would run code and for random bytes; only a readable pickle that imports something is called unsafe."""
    verdict = _pickle_verdict(_payload(source))
    damaged = (CheckpointProblem.DAMAGED, "the file is damaged or is not a PyTorch checkpoint")
    if verdict == "unsafe":
        return CheckpointProblem.UNSAFE, "it contains Python objects other than tensors (unsafe pickle refused)"
    if verdict == "unreadable":
        return damaged
    text = str(exc).strip()
    detail = text.splitlines()[0] if text else type(exc).__name__
    if "weights only load failed" in detail.lower():
        return damaged
    return CheckpointProblem.INVALID, detail


def _payload(source: Any) -> bytes:
    """The pickle inside: data.pkl of a zip checkpoint, else the bytes themselves (legacy format)."""
    import zipfile

    try:
        if isinstance(source, io.IOBase):
            source.seek(0)
            data = source.read()
        else:
            data = Path(source).read_bytes()
    except (OSError, TypeError, ValueError):
        return b""
    if data[:2] != b"PK":
        return data
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            return archive.read(name) if name else b""
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        return b""


def _pickle_verdict(data: bytes) -> str:
    """ "unsafe" (a well-formed pickle importing outside torch), "unreadable" (not a pickle at all) or "safe"."""
    import pickletools

    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if isinstance(arg, str):
                strings = [*strings[-1:], arg]
            module = _imported_module(opcode.name, arg, strings)
            if module is not None and module.split(".")[0] not in _SAFE_MODULES:
                return "unsafe"
    except Exception:  # noqa: BLE001 - pickletools raises ValueError and others on garbage
        return "unreadable"
    return "safe"


def _imported_module(opname: str, arg: Any, strings: list[str]) -> str | None:
    if opname in _GLOBAL_OPS and isinstance(arg, str):
        return arg.split(" ")[0]  # "module name"
    if opname == "STACK_GLOBAL" and len(strings) == 2:
        return strings[0]  # the module was pushed before the name
    return None


def load_checkpoint(source: str | os.PathLike | bytes | BinaryIO) -> Checkpoint:
    """Load a SimpleCNN checkpoint or a tutorial-style state_dict; raise CheckpointError otherwise."""
    obj = _read(source)
    if not isinstance(obj, dict):
        message = f"not a valid checkpoint: it holds a {type(obj).__name__}, not a dict"
        raise CheckpointError(message, CheckpointProblem.NOT_DICT, kind=type(obj).__name__)
    if obj.get("format") == FORMAT:
        version = obj.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            message = f"checkpoint format version {version!r} is newer than this program reads"
            raise CheckpointError(message, CheckpointProblem.TOO_NEW, version=version)
        return Checkpoint(
            state_dict=validate_state_dict(obj.get("state_dict")),
            config=_as_dict(obj.get("config")),
            metrics=_as_dict(obj.get("metrics")),
            history=_as_dict(obj.get("history")),
            meta=_as_dict(obj.get("meta")),
        )
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj.get(key), dict):
            return Checkpoint(state_dict=validate_state_dict(obj[key]), plain=True)
    return Checkpoint(state_dict=validate_state_dict(obj), plain=True)


def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def load_model(
    source: str | os.PathLike | bytes | BinaryIO | None = None, device: torch.device | str = "cpu"
) -> tuple[SimpleCNN, Checkpoint]:
    checkpoint = load_checkpoint(DEFAULT_CHECKPOINT if source is None else source)
    return checkpoint.model(device), checkpoint
