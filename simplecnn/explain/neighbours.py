"""What the model thinks a digit resembles: its nearest training digits and a map of the test set, both in the
space of its last hidden layer (SimpleCNN: the 128 numbers of fc1 after its ReLU; LeNet-5: the 84 of fc2)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from simplecnn.bounded import BoundedCache, store_cached, touch
from simplecnn.checkpoint import serialize
from simplecnn.data import TEST_SIZE, TRAIN_SIZE, load_mnist, normalize, resolve_data_dir
from simplecnn.explain.activations import EMBED_BATCH, ExplainError, _check_input, embed
from simplecnn.files import digest_state
from simplecnn.settings import cache_dir

CACHE_FORMAT = 1  # bump when the embedding definition changes: old cache files are then ignored


# Train embeddings are 30 MB per checkpoint: memory keeps the few most recent (a workshop makes dozens of
# checkpoints; a small cloud machine has little memory), the disk cache keeps more, under its cap.
MEMORY_ENTRIES = 4
MEMORY_BYTES = 96 << 20  # three training-set embeddings (and their test-set ones)
EMBED_CHUNK = 5 * EMBED_BATCH  # images normalised at a time (the whole training set in float32: 188 MB)


def _tensor_bytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


_embeddings: BoundedCache[tuple[str, str, str, int], torch.Tensor] = BoundedCache(
    MEMORY_ENTRIES, MEMORY_BYTES, size=_tensor_bytes
)
_memory_lock = threading.Lock()  # guards _computing only, never held while computing
_computing: dict[tuple[str, str, str, int], threading.Lock] = {}  # one per embedding being made


def weights_key(model: nn.Module) -> str:
    """The key embeddings are kept under: the same weights give the same key (simplecnn.files.digest_state)."""
    return digest_state(model.state_dict())


def _rows(split: str, limit: int) -> int:
    """How many images of the split: all of them, or its first `limit` (0 = all)."""
    if split not in ("train", "test"):
        raise ExplainError(f"split must be 'train' or 'test', not {split!r}")
    size = TRAIN_SIZE if split == "train" else TEST_SIZE
    if limit < 0:
        raise ExplainError(f"limit must be 0 (all) or more, not {limit}")
    return min(limit, size) if limit else size


def _cache_file(weights: str, split: str, root: str, rows: int) -> Path:
    data_key = hashlib.sha1(root.encode()).hexdigest()[:8]
    part = split if rows == (TRAIN_SIZE if split == "train" else TEST_SIZE) else f"{split}{rows}"
    return cache_dir() / f"embed-v{CACHE_FORMAT}-{weights[:24]}-{part}-{data_key}.pt"


def _read_embeddings(path: Path, rows: int) -> torch.Tensor | None:
    """The cached (rows × width) embeddings; the width is the network's (128 or 84)."""
    try:
        cached = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: recompute
        return None
    ok = isinstance(cached, torch.Tensor) and cached.dim() == 2 and len(cached) == rows
    ok = ok and bool(torch.isfinite(cached).all())
    return cached.float() if ok else None


def _remembered(key: tuple[str, str, str, int]) -> torch.Tensor | None:
    return _embeddings.get(key)


def _remember(key: tuple[str, str, str, int], tensor: torch.Tensor) -> None:
    _embeddings.put(key, tensor)


def split_embeddings(model: nn.Module, split: str = "train", limit: int = 0) -> torch.Tensor:
    """fc128 of MNIST's train (60,000) or test (10,000) split, or of its first `limit` images (0 = all): once per
    weights, in memory and on disk.

    Embedding the training set takes tens of seconds on a small CPU. Only sessions that need the same embedding
    wait for it (a lock per embedding); everyone else's neighbours are served meanwhile.
    """
    rows = _rows(split, limit)
    root = str(resolve_data_dir().resolve())
    key = (weights_key(model), split, root, rows)
    found = _remembered(key)
    if found is not None:
        return found
    with _memory_lock:
        making = _computing.setdefault(key, threading.Lock())
    with making:
        found = _remembered(key)  # made by the session we waited for
        if found is None:
            found = _load_or_embed(model, key)
            _remember(key, found)
    with _memory_lock:
        _computing.pop(key, None)
    return found


def _load_or_embed(model: nn.Module, key: tuple[str, str, str, int]) -> torch.Tensor:
    weights, split, root, rows = key
    path = _cache_file(weights, split, root, rows)
    cached = _read_embeddings(path, rows) if path.is_file() else None
    if cached is not None:
        touch(path)
        return cached
    data = load_mnist()
    pixels = (data.train_pixels if split == "train" else data.test_pixels)[:rows].cpu()
    chunks = range(0, len(pixels), EMBED_CHUNK)
    tensor = torch.cat([embed(model, normalize(pixels[i : i + EMBED_CHUNK])) for i in chunks])
    store_cached(path, serialize(tensor))  # within the cache folder's cap; a full disk costs a recomputation
    return tensor


@dataclass(frozen=True)
class Neighbour:
    index: int  # into MNIST's training set
    label: int
    distance: float  # Euclidean, in fc128 space


def nearest_training_digits(model: nn.Module, x: torch.Tensor, k: int = 5, limit: int = 0) -> list[Neighbour]:
    """The k training images whose fc128 embeddings are closest to x's, nearest first; among the first `limit`
    training images only when given (0 = all 60,000)."""
    rows = _rows("train", limit)
    if not 1 <= k <= rows:
        raise ExplainError(f"k must be between 1 and {rows}, not {k}")
    bank = split_embeddings(model, "train", limit)
    query = embed(model, _check_input(x))
    distances = torch.cdist(query, bank)[0]
    values, indices = torch.topk(distances, k, largest=False)  # sorted ascending
    labels = load_mnist().train_y.cpu()
    return [Neighbour(int(i), int(labels[i]), float(d)) for d, i in zip(values, indices, strict=False)]


def training_pixels(indices: list[int]) -> list[np.ndarray]:
    """Training images as 28×28 [0, 1] pixels, e.g. to show the neighbours."""
    pixels = load_mnist().train_pixels
    return [pixels[i, 0].cpu().float().div(255).numpy() for i in indices]


@dataclass(frozen=True)
class EmbeddingMap:
    points: np.ndarray  # N×2: the test set's (N = 10,000) fc128 projected on its first two principal components
    labels: np.ndarray  # N true digits
    mean: np.ndarray  # 128: the centre the projection subtracts
    axes: np.ndarray  # 128×2: the principal directions

    def place(self, fc128: np.ndarray) -> np.ndarray:
        """Where one digit's fc128 embedding falls on the map (2,)."""
        return (np.asarray(fc128, np.float32) - self.mean) @ self.axes


_maps: OrderedDict[tuple[str, str, int], EmbeddingMap] = OrderedDict()


def embedding_map(model: nn.Module, limit: int = 0) -> EmbeddingMap:
    """A 2-D PCA map of the test set's fc128 embeddings, or of its first `limit` images (0 = all 10,000); cached per
    weights (PCA itself takes milliseconds)."""
    root = str(resolve_data_dir().resolve())
    key = (weights_key(model), root, _rows("test", limit))
    if key not in _maps:
        emb = split_embeddings(model, "test", limit)
        mean = emb.mean(0)
        torch.manual_seed(0)  # pca_lowrank is randomised: the same map every time
        _, _, v = torch.pca_lowrank(emb, q=2, center=True, niter=4)
        axes = v[:, :2]
        points = (emb - mean) @ axes
        labels = load_mnist().test_y[: len(emb)].cpu().numpy()
        _maps[key] = EmbeddingMap(points.numpy(), labels, mean.numpy(), axes.numpy())
        while len(_maps) > MEMORY_ENTRIES:
            _maps.popitem(last=False)
    return _maps[key]
