"""Caches that cannot grow without bound: in memory (entries AND bytes, least recently used out first) and on
disk (the cache folder kept under $SIMPLECNN_CACHE_MB, least recently used files out first).

Torch-free: the size of a cached value is whatever `size` says (callers that keep tensors pass a counter).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from simplecnn import settings
from simplecnn.files import write_atomic

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A thread-safe LRU map holding at most `max_entries` values and `max_bytes` bytes (as `size` counts them).
    A value larger than `max_bytes` on its own is returned to its caller but never kept."""

    def __init__(self, max_entries: int, max_bytes: int, size: Callable[[V], int] = lambda _: 0) -> None:
        self.max_entries, self.max_bytes = max(1, int(max_entries)), max(0, int(max_bytes))
        self._size = size
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V) -> V:
        nbytes = max(0, int(self._size(value)))
        with self._lock:
            self._drop(key)
            if nbytes <= self.max_bytes:
                self._items[key] = (value, nbytes)
                self._bytes += nbytes
                self._evict()
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The cached value, else `make()` (outside the lock: a slow make does not block other keys), kept."""
        found = self.get(key)
        return found if found is not None else self.put(key, make())

    def pop(self, key: K) -> None:
        with self._lock:
            self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes

    def _drop(self, key: K) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old[1]

    def _evict(self) -> None:
        while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
            _, (_, nbytes) = self._items.popitem(last=False)
            self._bytes -= nbytes


# ---- the cache folder ------------------------------------------------------------------------------------------
EVICTABLE = ("*.pt", "*.json", "*.npy")  # derived files that are recomputed when missing


@dataclass(frozen=True)
class FolderUse:
    bytes: int
    files: int


def folder_use(folder: str | os.PathLike) -> FolderUse:
    """Bytes and files under `folder`, every level (what the disk sees)."""
    total = count = 0
    for path in _files(Path(folder), ("*",), recursive=True):
        try:
            total += path.stat().st_size
            count += 1
        except OSError:
            continue
    return FolderUse(total, count)


def prune_folder(
    folder: str | os.PathLike,
    max_bytes: int,
    room_for: int = 0,
    keep: Iterable[str | os.PathLike] = (),
    patterns: tuple[str, ...] = EVICTABLE,
) -> list[Path]:
    """Delete the least recently used derived files directly in `folder` until everything under it, plus
    `room_for` bytes about to be written, fits in `max_bytes`. Files in `keep` and files not matching `patterns`
    (the compiled kernel, temp files being written) are never deleted. Returns what was deleted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    protected = {Path(p).resolve() for p in keep}
    excess = folder_use(folder).bytes + max(0, room_for) - max_bytes
    removed: list[Path] = []
    if excess <= 0:
        return removed
    for path, size in _oldest_first(folder, patterns):
        if excess <= 0:
            break
        if path.resolve() in protected:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        excess -= size
        removed.append(path)
    if removed:
        log.info("cache: removed %d least recently used file(s) to stay under %d MB", len(removed), max_bytes >> 20)
    return removed


def touch(path: str | os.PathLike) -> None:
    """Mark a cached file as just used (its modification time orders eviction)."""
    try:
        os.utime(path)
    except OSError:
        pass


def _oldest_first(folder: Path, patterns: tuple[str, ...]) -> list[tuple[Path, int]]:
    found = []
    for path in _files(folder, patterns, recursive=False):
        if path.name.startswith("."):  # a temp file of a write in progress (files.replacing)
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((stat.st_mtime, path, stat.st_size))
    return [(path, size) for _, path, size in sorted(found)]


def _files(folder: Path, patterns: tuple[str, ...], recursive: bool) -> Iterable[Path]:
    seen: set[Path] = set()
    for pattern in patterns:
        for path in folder.rglob(pattern) if recursive else folder.glob(pattern):
            if path not in seen and path.is_file() and not path.is_symlink():
                seen.add(path)
                yield path


def store_cached(path: str | os.PathLike, data: bytes, max_bytes: int | None = None) -> bool:
    """Write a derived file into its cache folder, first removing least recently used files so that the folder
    stays under its cap (default $SIMPLECNN_CACHE_MB). A file that cannot fit, a full disk or a read-only folder
    only cost a recomputation later: False, logged, never raised."""
    path = Path(path)
    cap = settings.cache_max_bytes() if max_bytes is None else max_bytes
    if len(data) > cap:
        log.info("cache: %s (%d MB) is larger than the cache's cap; not kept", path.name, len(data) >> 20)
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        prune_folder(path.parent, cap, room_for=len(data), keep=[path])
        write_atomic(path, data, what="cache")
    except OSError as exc:
        log.warning("cache: %s not kept (%s)", path.name, exc)
        return False
    return True
