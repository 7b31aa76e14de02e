"""Files written so that a reader never sees half of one, and the digests that name what is inside them.

Torch-free (a state digest only calls tensor methods), so the Ray bridge and the launcher can use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from simplecnn.errors import storage_error


@contextlib.contextmanager
def replacing(path: str | os.PathLike, mode: int = 0o644) -> Iterator[Path]:
    """A temporary path beside `path` to write to; when the block ends without error the file is fsynced and
    renamed over `path` (readers see the old file or the new one), otherwise it is removed, and so are the
    folders this call made for it (a failed write leaves no half-made folder)."""
    path = Path(path)
    made = make_folders(path.parent)
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; our files are ordinary readable files
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        remove_empty(made)
        raise
    _sync_folder(path.parent)


def make_folders(folder: Path) -> list[Path]:
    """mkdir -p; returns the folders it made, deepest first (for `remove_empty` after a failure)."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove these folders (deepest first) where they are empty; never fails."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # not every filesystem lets us fsync a folder; the rename is still atomic


def write_atomic(path: str | os.PathLike, data: bytes | str, what: str = "file") -> Path:
    """Write bytes (or UTF-8 text) to `path` atomically. Raises StorageError (an OSError whose message is one
    line without the path; `what` names the kind of file in it) when the disk is full or the folder read-only."""
    try:
        with replacing(path) as tmp:
            tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    except OSError as exc:
        raise storage_error(exc, what) from None
    return Path(path)


def digest_bytes(data: bytes) -> str:
    """SHA-256 (hex) of some bytes, e.g. an uploaded checkpoint."""
    return hashlib.sha256(data).hexdigest()


def digest_file(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes: the key a checkpoint's cached evaluation is kept under."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest_state(state_dict: Mapping[str, Any]) -> str:
    """SHA-256 of a model's weights (names, shapes, float32 bytes): the same weights get the same key whichever
    file they came from (digit-check statistics, embeddings)."""
    h = hashlib.sha256()
    for name, tensor in sorted(state_dict.items()):
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()
