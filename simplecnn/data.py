"""MNIST held once per process as uint8 pixels on the training device; normalised per batch (or on access)."""

from __future__ import annotations

import enum
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from simplecnn import settings
from simplecnn.errors import CodedError

# MNIST's facts, in one place: every other module imports them from here.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
TRAIN_SIZE = 60_000
TEST_SIZE = 10_000
IMAGE_SIZE = 28
NUM_CLASSES = 10


class DataProblem(enum.StrEnum):
    """Why MNIST is unavailable: a UI's key for its own words (values are catalog keys under errors.)."""

    MISSING = "data.missing"
    BAD_FILE = "data.bad_file"
    TRUNCATED = "data.truncated"


class DataUnavailableError(CodedError, RuntimeError):
    """MNIST is neither on disk nor downloadable; the message says where we looked and what to do.
    params: `where` (the MNIST/raw folder looked in), `name` (a bad file's name)."""

    code = DataProblem.MISSING


def _raw_dir(root: str | os.PathLike | None) -> Path:
    return (resolve_data_dir(root) / "MNIST" / "raw").resolve()


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--data > $SIMPLECNN_DATA > ./data"""
    return settings.data_dir(explicit)


def normalize(pixels: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] (float) or 0..255 (uint8) → the model's input scale. Shared by training and drawings."""
    if pixels.dtype == torch.uint8:
        return pixels.float().div_(255.0).sub_(MNIST_MEAN).div_(MNIST_STD)  # in place: one float copy
    return (pixels - MNIST_MEAN) / MNIST_STD


def denormalize(x: torch.Tensor) -> torch.Tensor:
    return (x * MNIST_STD + MNIST_MEAN).clamp_(0.0, 1.0)


BACKGROUND = (0.0 - MNIST_MEAN) / MNIST_STD


@dataclass(frozen=True)
class MNISTTensors:
    """Both splits as raw uint8 pixels (N, 1, 28, 28) and int64 labels.

    Pixels stay uint8 (47 MB for the training set instead of 188 MB as float32): the training loop normalises
    each batch (`normalize(train_pixels[idx])`), which costs less than the batch's first convolution.
    `train_x` / `test_x` give the whole split normalised, as a new float32 tensor on every access: fine for the
    10,000 test images (31 MB), a 188 MB allocation for the training set, so slice `train_pixels` first where
    only a few images are needed (`x_at`)."""

    train_pixels: torch.Tensor  # (TRAIN_SIZE, 1, 28, 28) uint8
    train_y: torch.Tensor  # (TRAIN_SIZE,) int64
    test_pixels: torch.Tensor  # (TEST_SIZE, 1, 28, 28) uint8
    test_y: torch.Tensor
    root: Path

    @property
    def device(self) -> torch.device:
        return self.train_pixels.device

    @property
    def train_x(self) -> torch.Tensor:
        """The training images normalised (float32, a new tensor each time)."""
        return normalize(self.train_pixels)

    @property
    def test_x(self) -> torch.Tensor:
        """The test images normalised (float32, a new tensor each time)."""
        return normalize(self.test_pixels)

    def subset(self, limit_train: int = 0, limit_test: int = 0) -> MNISTTensors:
        """First-N views (no copies)."""
        n_train = limit_train or len(self.train_y)
        n_test = limit_test or len(self.test_y)
        return MNISTTensors(
            self.train_pixels[:n_train],
            self.train_y[:n_train],
            self.test_pixels[:n_test],
            self.test_y[:n_test],
            self.root,
        )


RAW_FILES = settings.MNIST_RAW_FILES


def _raw_tensors(root: Path, download: bool) -> dict[str, torch.Tensor]:
    """uint8 images and int64 labels for both splits."""
    tensors = {}
    for split, train in (("train", True), ("test", False)):
        tensors[f"{split}_x"], tensors[f"{split}_y"] = _raw_split(root, train, download)
    return tensors


def _raw_split(root: Path, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One split's uint8 images and int64 labels: read from MNIST/raw/, else downloaded through torchvision."""
    images, labels = RAW_FILES[:2] if train else RAW_FILES[2:]
    raw = root / "MNIST" / "raw"
    try:
        pixels, targets = read_idx(raw / images), read_idx(raw / labels)
        return torch.from_numpy(pixels.copy()), torch.from_numpy(targets.astype(np.int64))
    except (OSError, DataUnavailableError):
        if not download:
            raise DataUnavailableError(missing_data_message(root), where=_raw_dir(root)) from None
    # Imported here: torchvision is slow and large to import (docs/performance.md), and only a download needs it.
    from torchvision import datasets

    try:
        ds = datasets.MNIST(root=str(root), train=train, download=True)
    except Exception as exc:  # noqa: BLE001 - any download failure means the same thing to the user
        raise DataUnavailableError(missing_data_message(root, exc), where=_raw_dir(root)) from None
    return ds.data, ds.targets


def missing_data_message(root: str | os.PathLike | None = None, exc: BaseException | None = None) -> str:
    """THE one-line message for absent MNIST (CLI, pages): where we looked (--data > $SIMPLECNN_DATA > ./data)
    and what to do; `exc` is a failed download's error."""
    where = (resolve_data_dir(root) / "MNIST" / "raw").resolve()
    detail = (str(exc).splitlines() or ["no detail"])[0] if exc else ""
    why = f" and the download failed ({type(exc).__name__}: {detail})" if exc else ""
    return (
        f"MNIST not found in {where}{why}. Put the four MNIST files (train-images-idx3-ubyte, …) there, "
        f"or point --data / ${settings.DATA.name} at a folder that holds MNIST/raw/, or connect to the internet "
        f"so torchvision can download it."
    )


_cache: dict[tuple[str, str], MNISTTensors] = {}
_cache_lock = threading.Lock()


def load_mnist(
    root: str | os.PathLike | None = None, device: torch.device | str = "cpu", download: bool = True
) -> MNISTTensors:
    """Load (once per process and device) and return the read-only uint8 tensors (see MNISTTensors)."""
    root_path = resolve_data_dir(root)
    device = torch.device(device)
    key = (str(root_path.resolve()), str(device))
    with _cache_lock:
        if key not in _cache:
            raw = _raw_tensors(root_path, download)
            _cache[key] = MNISTTensors(
                raw["train_x"].to(device).unsqueeze(1),
                raw["train_y"].to(device, torch.long),
                raw["test_x"].to(device).unsqueeze(1),
                raw["test_y"].to(device, torch.long),
                root_path,
            )
        return _cache[key]


def data_available(root: str | os.PathLike | None = None) -> bool:
    raw = resolve_data_dir(root) / "MNIST" / "raw"
    return all((raw / n).is_file() for n in RAW_FILES)


_IDX_IMAGES, _IDX_LABELS = 2051, 2049  # the IDX format's magic numbers (big-endian int32 at offset 0)


def parse_idx(raw: bytes, count: int | None = None, name: str = "IDX data") -> np.ndarray:
    """MNIST's IDX format: uint8 images (n, 28, 28) or labels (n,), the first `count` of them (all when None).
    THE one reader: the pages' display images, the training tensors' cache miss and Ray workers all use it."""
    head = np.frombuffer(raw[:8], dtype=">i4")
    if len(head) < 2 or head[0] not in (_IDX_IMAGES, _IDX_LABELS):
        message = f"{name} is not an MNIST IDX file (bad header): {missing_data_message()}"
        raise DataUnavailableError(message, DataProblem.BAD_FILE, name=Path(name).name, where=_raw_dir(None))
    images = head[0] == _IDX_IMAGES
    n = int(head[1]) if count is None else min(count, int(head[1]))
    shape = (n, IMAGE_SIZE, IMAGE_SIZE) if images else (n,)
    offset = 16 if images else 8
    size = int(np.prod(shape))
    if len(raw) < offset + size:
        message = f"{name} is truncated: {missing_data_message()}"
        raise DataUnavailableError(message, DataProblem.TRUNCATED, name=Path(name).name, where=_raw_dir(None))
    return np.frombuffer(raw, dtype=np.uint8, count=size, offset=offset).reshape(shape)


def read_idx(path: Path, count: int | None = None) -> np.ndarray:
    """The first `count` items of an IDX file (all when None), reading only the bytes they need."""
    with open(path, "rb") as f:
        raw = f.read(8)
        magic, n = ([*np.frombuffer(raw[: len(raw) // 4 * 4], dtype=">i4").tolist(), 0, 0])[:2]
        n = n if count is None else min(n, count)
        raw += f.read(8 + n * IMAGE_SIZE * IMAGE_SIZE if magic == _IDX_IMAGES else n)
    return parse_idx(raw, count, str(path))


def read_split(
    train: bool, count: int | None = None, root: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 pixels (n, 28, 28) and uint8 labels (n,) of one split, read straight from the raw IDX files.

    For display (Home's grid, Evaluate's and Train's images): pages that only show images need neither the other
    split nor torch tensors; holding all of MNIST for them cost the server 55 MB (+31 MB for a float copy)."""
    raw = resolve_data_dir(root) / "MNIST" / "raw"
    images, labels = RAW_FILES[:2] if train else RAW_FILES[2:]
    try:
        return read_idx(raw / images, count), read_idx(raw / labels, count)
    except OSError:
        raise DataUnavailableError(missing_data_message(root), where=raw.resolve()) from None


def sample_images(n: int = 25, root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first n training images as [0, 1] float32 pixels (n, 28, 28) and their labels, for display."""
    pixels, labels = read_split(True, n, root)
    return pixels.astype(np.float32) / 255.0, labels
