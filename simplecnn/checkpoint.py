"""Self-describing checkpoints: atomic save, safe (weights_only) and strict load."""

from __future__ import annotations

import enum
import io
import math
import os
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import torch

from simplecnn.errors import CodedError
from simplecnn.files import write_atomic
from simplecnn.model import ARCHITECTURES
from simplecnn.settings import SHIPPED_CHECKPOINT

FORMAT = "simplecnn-checkpoint"
FORMAT_VERSION = 1
DEFAULT_CHECKPOINT = SHIPPED_CHECKPOINT
_PREFIXES = ("module.", "_orig_mod.")
# What a checkpoint may hold, checked from the zip directory before anything is unpacked (a 5 MB upload can hold
# gigabytes of zeros). SimpleCNN's weights are 1.9 MB in fp32; fp64 weights with an Adam state and a long history
# stay well under these.
MAX_FILE_BYTES = 64 << 20
MAX_UNPACKED_BYTES = 32 << 20
MAX_ENTRIES = 256  # SimpleCNN has 10 tensors; torch adds a few bookkeeping files
MAX_PICKLE_BYTES = 1 << 20  # the object tree (data.pkl): 2.7 KB for the shipped checkpoint
MAX_TEXT = 80  # characters of a kept config or meta key
MAX_NOTE = 400  # characters of a kept config or meta text value (a note on how it was made)
MAX_LIST = 32  # values of a kept config or meta list
MAX_SERIES = 10_000  # values per history series


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
    UNPACKS_TOO_LARGE = "checkpoint.unpacks_too_large"
    TOO_MANY_FILES = "checkpoint.too_many_files"
    UNKNOWN_NETWORK = "checkpoint.unknown_network"


class CheckpointError(CodedError, ValueError):
    """Not a usable SimpleCNN (or LeNet-5) checkpoint; a one-line message, `code` says which problem."""

    code = CheckpointProblem.INVALID


@dataclass
class Checkpoint:
    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    plain: bool = False  # a bare tutorial-style state_dict
    architecture: str = "simplecnn"  # a key of simplecnn.model.ARCHITECTURES

    @property
    def accuracy(self) -> float | None:
        value = self.metrics.get("test_accuracy")
        return float(value) if value is not None else None

    def model(self, device: torch.device | str = "cpu") -> torch.nn.Module:
        model = ARCHITECTURES[self.architecture]()
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()


def portable_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """CPU, contiguous copies under the tutorial's names."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}


def serialize(obj: Any) -> bytes:
    """torch.save into memory: the bytes are then written with an ordinary write, whose failures are the
    operating system's (disk full, read-only) rather than torch's cryptic writer errors."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def atomic_save(obj: Any, path: str | os.PathLike, what: str = "checkpoint") -> Path:
    """torch.save, atomically (simplecnn.files.write_atomic): readers see the old file or the new one; a full
    disk or a read-only folder raise StorageError (one line, no path) and leave nothing behind."""
    return write_atomic(path, serialize(obj), what)


def save_checkpoint(
    path: str | os.PathLike,
    state_dict: dict[str, torch.Tensor],
    config: dict | None = None,
    metrics: dict | None = None,
    history: dict | None = None,
) -> Path:
    """Write a self-describing checkpoint atomically."""
    return atomic_save(_payload_of(state_dict, config, metrics, history), path)


def _payload_of(
    state_dict: dict[str, torch.Tensor],
    config: dict | None = None,
    metrics: dict | None = None,
    history: dict | None = None,
    meta: dict | None = None,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": architecture_of(state_dict),
        "state_dict": {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()},
        "config": dict(config or {}),
        "metrics": dict(metrics or {}),
        "history": dict(history or {}),
        "meta": dict(meta or {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "torch": str(torch.__version__)}),
    }


def checkpoint_bytes(checkpoint: Checkpoint) -> bytes:
    """A loaded (so cleaned) checkpoint as the bytes of a self-describing checkpoint file: what is kept of an
    upload is this, never the uploaded file itself (which may carry anything beside the weights)."""
    c = checkpoint
    meta = {**c.meta, "plain": True} if c.plain else c.meta  # loads as plain again
    return serialize(_payload_of(c.state_dict, c.config, c.metrics, c.history, meta))


def _expected_shapes(architecture: str = "simplecnn") -> dict[str, torch.Size]:
    return {k: v.shape for k, v in ARCHITECTURES[architecture]().state_dict().items()}


def architecture_of(state: dict[str, Any]) -> str:
    """The network whose layer names these are (SimpleCNN when none matches: its errors then say what is off)."""
    keys = {k.removeprefix("module.").removeprefix("_orig_mod.") for k in state if isinstance(k, str)}
    return next((name for name in ARCHITECTURES if keys == set(_expected_shapes(name))), "simplecnn")


def validate_state_dict(state: Any, architecture: str | None = None) -> dict[str, torch.Tensor]:
    """Clean float tensors under the tutorial's names, checked against `architecture` (default: the one whose layer
    names they are)."""
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
    architecture = architecture if architecture in ARCHITECTURES else architecture_of(clean)
    expected, network = _expected_shapes(architecture), ARCHITECTURES[architecture].__name__
    missing = sorted(set(expected) - set(clean))
    unexpected = sorted(set(clean) - set(expected))
    if missing or unexpected:
        detail = (
            (f"missing {', '.join(missing[:4])}" if missing else "")
            + ("; " if missing and unexpected else "")
            + (f"unexpected {', '.join(unexpected[:4])}" if unexpected else "")
        )
        keys = ", ".join([*missing[:4], *unexpected[:4]])
        message = f"not a {network} state_dict ({detail})"
        raise CheckpointError(message, CheckpointProblem.NOT_SIMPLECNN, keys=keys, network=network)
    for key, shape in expected.items():
        tensor = clean[key]
        if tensor.shape != shape:
            message = f"{key} has shape {tuple(tensor.shape)}, {network} needs {tuple(shape)}"
            raise CheckpointError(
                message,
                CheckpointProblem.BAD_SHAPE,
                key=key,
                shape=tuple(tensor.shape),
                expected=tuple(shape),
                network=network,
            )
        if not tensor.is_floating_point():
            raise CheckpointError(
                f"{key} is {tensor.dtype}, not floating point", CheckpointProblem.NOT_FLOAT, key=key, dtype=tensor.dtype
            )
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"{key} holds NaN or infinite values", CheckpointProblem.NON_FINITE, key=key)
        clean[key] = tensor.float()
    return clean


def inspect_archive(source: str | os.PathLike | bytes | BinaryIO) -> bool | None:
    """Refuse, from the zip directory alone (nothing is unpacked), a torch zip checkpoint of no sane size: too
    big a file, too many entries, or more bytes unpacked than any SimpleCNN checkpoint holds. Returns whether the
    source is a zip at all (None: a path that cannot be read, which torch.load then names)."""
    if isinstance(source, (str, os.PathLike)):
        try:
            size = os.path.getsize(source)
        except OSError:
            return None
        if size > MAX_FILE_BYTES:
            message = f"the file is {size / 2**20:,.0f} MB; a SimpleCNN checkpoint is about 2 MB"
            raise CheckpointError(message, CheckpointProblem.TOO_LARGE, mb=MAX_FILE_BYTES >> 20)
    entries = _zip_entries(source)
    if entries is None:
        return False
    if len(entries) > MAX_ENTRIES:
        message = f"the archive holds {len(entries):,} files; a SimpleCNN checkpoint holds about 20"
        raise CheckpointError(message, CheckpointProblem.TOO_MANY_FILES, count=len(entries))
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > MAX_UNPACKED_BYTES:
        message = (
            f"it would unpack to {unpacked / 2**20:,.0f} MB; a SimpleCNN checkpoint holds about 2 MB "
            f"(at most {MAX_UNPACKED_BYTES >> 20} MB accepted)"
        )
        mb, limit = round(unpacked / 2**20), MAX_UNPACKED_BYTES >> 20
        raise CheckpointError(message, CheckpointProblem.UNPACKS_TOO_LARGE, mb=mb, limit=limit)
    pickles = [entry for entry in entries if entry.filename.endswith("data.pkl")]
    if len(pickles) != 1 or pickles[0].file_size > MAX_PICKLE_BYTES:
        raise CheckpointError(f"not a valid checkpoint: {_DAMAGED}", CheckpointProblem.DAMAGED)
    return True


def _zip_entries(source: str | os.PathLike | bytes | BinaryIO) -> list[zipfile.ZipInfo] | None:
    """The zip directory of a checkpoint; None when the source is not a readable zip."""
    stream: Any = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    start = stream.tell() if hasattr(stream, "tell") else 0
    try:
        with zipfile.ZipFile(stream) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return None
    finally:
        if hasattr(stream, "seek"):
            stream.seek(start)


_DAMAGED = "the file is damaged or is not a PyTorch checkpoint"
_UNSAFE = "it contains Python objects other than tensors (unsafe pickle refused)"


def _read(source: str | os.PathLike | bytes | BinaryIO) -> Any:
    if inspect_archive(source) is False:
        # Not torch.save's zip format (the pre-2020 format's storages are sized by the file itself): refused,
        # saying "unsafe" only for a pickle that would import code.
        unsafe = _pickle_verdict(_payload(source)) == "unsafe"
        code = CheckpointProblem.UNSAFE if unsafe else CheckpointProblem.DAMAGED
        raise CheckpointError(f"not a valid checkpoint: {_UNSAFE if unsafe else _DAMAGED}", code)
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
    damaged = (CheckpointProblem.DAMAGED, _DAMAGED)
    if verdict == "unsafe":
        return CheckpointProblem.UNSAFE, _UNSAFE
    if verdict == "unreadable":
        return damaged
    text = str(exc).strip()
    detail = text.splitlines()[0] if text else type(exc).__name__
    if "weights only load failed" in detail.lower():
        return damaged
    return CheckpointProblem.INVALID, detail


def _payload(source: Any) -> bytes:
    """The pickle inside: data.pkl of a zip checkpoint (its size checked by inspect_archive), else the bytes
    themselves."""
    try:
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        elif isinstance(source, io.IOBase):
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
    """Load a SimpleCNN or LeNet-5 checkpoint, or a tutorial-style state_dict; raise CheckpointError otherwise."""
    obj = _read(source)
    if not isinstance(obj, dict):
        message = f"not a valid checkpoint: it holds a {type(obj).__name__}, not a dict"
        raise CheckpointError(message, CheckpointProblem.NOT_DICT, kind=type(obj).__name__)
    if obj.get("format") == FORMAT:
        version = obj.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            message = f"checkpoint format version {version!r} is newer than this program reads"
            raise CheckpointError(message, CheckpointProblem.TOO_NEW, version=version)
        # Checkpoints written before LeNet-5 came name no network: theirs is SimpleCNN.
        architecture = obj.get("architecture", "simplecnn")
        if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
            name = str(architecture)[:40]
            raise CheckpointError(
                f"checkpoint of an unknown network {name!r}", CheckpointProblem.UNKNOWN_NETWORK, name=name
            )
        return Checkpoint(
            state_dict=validate_state_dict(obj.get("state_dict"), architecture),
            config=clean_scalars(obj.get("config")),
            metrics=clean_metrics(obj.get("metrics")),
            history=clean_history(obj.get("history")),
            meta=clean_scalars(obj.get("meta"), max_items=16),
            plain=obj.get("meta", {}).get("plain") is True if isinstance(obj.get("meta"), dict) else False,
            architecture=architecture,
        )
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj.get(key), dict):
            return _plain(obj[key])
    return _plain(obj)


def _plain(state: Any) -> Checkpoint:
    """A bare state_dict: the network is the one whose layer names it has."""
    clean = validate_state_dict(state)
    return Checkpoint(state_dict=clean, plain=True, architecture=architecture_of(clean))


# ---- after torch.load: only what a SimpleCNN checkpoint is for, each value checked ----------------------------
def _number(value: Any, low: float, high: float, integer: bool = False) -> float | None:
    """A finite real number in [low, high] (a Python number or a one-element tensor), else None."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex():
            return None
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and abs(value) > 2**63:
        return None  # 10**400 would not even convert to a float
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high or (integer and not number.is_integer()):
        return None
    return number


def _numbers(value: Any, low: float, high: float, length: int | None = None) -> list[float] | None:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_SERIES or (length and len(value) != length):
        return None
    numbers = [_number(v, low, high) for v in value]
    return None if None in numbers else [float(v) for v in numbers if v is not None]


def _integer(value: Any, high: float) -> int | None:
    number = _number(value, 0, high, integer=True)
    return None if number is None else int(number)


# Each metric a checkpoint may carry, with its type and range; anything else in `metrics` is dropped.
_METRICS: dict[str, Any] = {
    "test_accuracy": lambda v: _number(v, 0.0, 1.0),
    "test_loss": lambda v: _number(v, 0.0, 1e6),
    "epoch": lambda v: _integer(v, 1e6),
    "n_test": lambda v: _integer(v, 1e9),
    "train_images": lambda v: _integer(v, 1e15),
    "per_class_accuracy": lambda v: _numbers(v, 0.0, 1.0, length=10),
    "stopped": lambda v: v if isinstance(v, bool) else None,
    "calibration": lambda v: _calibration(v),
}


def _calibration(value: Any) -> dict[str, float | int] | None:
    """A temperature fit (simplecnn.calibration): its five numbers, each checked; anything else dropped."""
    if not isinstance(value, dict):
        return None
    checks = {
        "temperature": _number(value.get("temperature"), 1e-3, 1e3),
        "ece_before": _number(value.get("ece_before"), 0.0, 1.0),
        "ece_after": _number(value.get("ece_after"), 0.0, 1.0),
        "fit_images": _integer(value.get("fit_images"), 1e9),
        "report_images": _integer(value.get("report_images"), 1e9),
    }
    if any(v is None for v in checks.values()):
        return None
    return {k: (int(v) if k.endswith("images") else float(v)) for k, v in checks.items() if v is not None}


def clean_metrics(value: Any) -> dict[str, Any]:
    """The known metrics, each checked for type and range. A bad one is dropped rather than refused: the weights
    may still be good, and a page then shows no recorded accuracy instead of failing on "abc" or 10**400."""
    if not isinstance(value, dict):
        return {}
    checked = {key: check(value[key]) for key, check in _METRICS.items() if key in value}
    return {key: v for key, v in checked.items() if v is not None}


def clean_history(value: Any) -> dict[str, list[float]]:
    """Per-epoch series: lists of finite numbers under short names; anything else dropped."""
    if not isinstance(value, dict):
        return {}
    kept = {}
    for key, series in list(value.items())[:32]:
        numbers = _numbers(series, -1e12, 1e12)
        if isinstance(key, str) and len(key) <= MAX_TEXT and numbers is not None:
            kept[key] = numbers
    return kept


def clean_scalars(value: Any, max_items: int = 64, depth: int = 1) -> dict[str, Any]:
    """A dict of short printable text, finite numbers and booleans (a checkpoint's config or meta); `depth`
    more levels of such dicts, and short lists of such values, are kept too (a fine-tuning's own settings)."""
    if not isinstance(value, dict):
        return {}
    kept: dict[str, Any] = {}
    for key, item in list(value.items())[:max_items]:
        if not isinstance(key, str) or len(key) > MAX_TEXT:
            continue
        if isinstance(item, dict) and depth > 0:
            kept[key] = clean_scalars(item, max_items, depth - 1)
        elif isinstance(item, (list, tuple)) and len(item) <= MAX_LIST:
            values = [_scalar(v) for v in item]
            if all(v is not _DROP for v in values):
                kept[key] = values
        elif (clean := _scalar(item)) is not _DROP:
            kept[key] = clean
    return kept


_DROP = object()


def _scalar(item: Any) -> Any:
    """`item` when it is None, a boolean, a finite number or short printable text; else _DROP."""
    if item is None or isinstance(item, bool):
        return item
    if isinstance(item, (int, float)):
        return item if _number(item, -1e15, 1e15) is not None else _DROP
    if isinstance(item, str) and len(item) <= MAX_NOTE and item.isprintable():
        return item
    return _DROP


def load_model(
    source: str | os.PathLike | bytes | BinaryIO | None = None, device: torch.device | str = "cpu"
) -> tuple[torch.nn.Module, Checkpoint]:
    checkpoint = load_checkpoint(DEFAULT_CHECKPOINT if source is None else source)
    return checkpoint.model(device), checkpoint
