"""Drawings in and out of files: the download (.zip of PNGs + labels, or .npz) and reading one back, or a folder
of PNGs whose names start with their label (`7_003.png`), for `python -m simplecnn finetune --drawings PATH`.

Reading is bounded (entries, bytes, pixels) and never writes: a zip's member names are only parsed for labels,
never used as paths.
"""

from __future__ import annotations

import csv
import enum
import io
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simplecnn.errors import CodedError
from simplecnn.personal.store import IMAGE_SIZE, Drawing, DrawingSet, held_out

MAX_FILES = 5000  # pictures read from one zip or folder
MAX_FILE_BYTES = 5 * 1024 * 1024  # one picture
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024  # a zip or .npz, and a zip's content once unpacked
NPZ_NAME = "drawings.npz"
LABELLED_NAME = re.compile(r"^([0-9])(?![0-9])")  # "7_003.png", "7.png", "7-a.png"; not "17.png"
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ArchiveProblem(enum.StrEnum):
    UNREADABLE = "personal.drawings_unreadable"
    TOO_BIG = "personal.drawings_too_big"
    EMPTY = "personal.drawings_empty"


class DrawingsFileError(CodedError, ValueError):
    """Drawings that cannot be read from a file or folder; one line for the user."""


def png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def npz_bytes(drawings: DrawingSet) -> bytes:
    """pixels (n, 28, 28) uint8, labels (n,) int64, names (n,) str: np.load(..., allow_pickle=False) reads it."""
    out = io.BytesIO()
    np.savez_compressed(
        out, pixels=drawings.pixels, labels=drawings.labels, names=np.array(drawings.names, dtype=np.str_)
    )
    return out.getvalue()


def zip_bytes(drawings: list[Drawing], originals: dict[int, bytes], hold_out: float) -> bytes:
    """The download: each drawing as `<label>_<id>.png` (the original picture, or the 28×28 input when it was
    not kept), `labels.csv`, and drawings.npz with the exact 28×28 inputs (what fine-tuning reads back)."""
    out = io.BytesIO()
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["file", "label", "model_said", "created", "held_out"])
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for d in drawings:
            name = f"{d.label}_{d.id:06d}.png"
            archive.writestr(name, originals.get(d.id) or png_bytes(d.pixels))
            created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(d.created))
            writer.writerow(
                [name, d.label, "" if d.predicted is None else d.predicted, created, int(held_out(d.pixels, hold_out))]
            )
        archive.writestr("labels.csv", table.getvalue())
        names = tuple(f"{d.label}_{d.id:06d}.png" for d in drawings)
        pixels = np.stack([d.pixels for d in drawings]) if drawings else DrawingSet.empty().pixels
        labels = np.array([d.label for d in drawings], dtype=np.int64)
        archive.writestr(NPZ_NAME, npz_bytes(DrawingSet(pixels, labels, names)))
    return out.getvalue()


@dataclass(frozen=True)
class ReadResult:
    drawings: DrawingSet
    skipped: tuple[str, ...]  # files not read, each with why


def read_drawings(path: str | Path) -> ReadResult:
    """A download (.zip or .npz) or a folder of labelled pictures → DrawingSet. Raises DrawingsFileError."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise DrawingsFileError(f"no such file or folder: {path}", ArchiveProblem.UNREADABLE, path=str(path))
    if path.stat().st_size > MAX_ARCHIVE_BYTES:
        raise DrawingsFileError(f"{path} is larger than {MAX_ARCHIVE_BYTES >> 20} MB", ArchiveProblem.TOO_BIG)
    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04" and path.suffix.lower() == ".zip":
        return _read_zip(data, path.name)
    if path.suffix.lower() == ".npz":
        return ReadResult(_read_npz(data, path.name), ())
    raise DrawingsFileError(
        f"{path.name}: expected the app's .zip or .npz download, or a folder of PNGs", ArchiveProblem.UNREADABLE
    )


def _read_npz(data: bytes, where: str) -> DrawingSet:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            pixels, labels = np.asarray(npz["pixels"]), np.asarray(npz["labels"])
            names = tuple(str(n) for n in npz["names"]) if "names" in npz.files else ()
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DrawingsFileError(f"{where}: not a drawings .npz ({exc})", ArchiveProblem.UNREADABLE) from None
    if pixels.ndim != 3 or pixels.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or pixels.dtype != np.uint8:
        raise DrawingsFileError(f"{where}: pixels must be uint8 (n, 28, 28)", ArchiveProblem.UNREADABLE)
    if (
        labels.shape != (len(pixels),)
        or not np.issubdtype(labels.dtype, np.integer)
        or not ((labels >= 0) & (labels <= 9)).all()
    ):
        raise DrawingsFileError(f"{where}: labels must be n digits 0-9", ArchiveProblem.UNREADABLE)
    if len(names) != len(pixels):
        names = tuple(f"{int(label)}_{i:06d}" for i, label in enumerate(labels))
    return DrawingSet(np.ascontiguousarray(pixels), labels.astype(np.int64), names)


def _read_zip(data: bytes, where: str) -> ReadResult:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DrawingsFileError(f"{where}: not a readable zip ({exc})", ArchiveProblem.UNREADABLE) from None
    if sum(i.file_size for i in infos) > MAX_ARCHIVE_BYTES or len(infos) > MAX_FILES + 10:
        raise DrawingsFileError(f"{where}: too many files or too large once unpacked", ArchiveProblem.TOO_BIG)
    with archive:
        if NPZ_NAME in archive.namelist():
            return ReadResult(_read_npz(archive.read(NPZ_NAME), f"{where}/{NPZ_NAME}"), ())
        pictures = [(Path(i.filename).name, i) for i in infos if not i.is_dir()]
        return _read_pictures([(name, lambda i=i: archive.read(i), i.file_size) for name, i in pictures])


def _read_folder(folder: Path) -> ReadResult:
    files = sorted(p for p in folder.iterdir() if p.is_file())
    if len(files) > MAX_FILES:
        raise DrawingsFileError(f"{folder}: more than {MAX_FILES} files", ArchiveProblem.TOO_BIG)
    return _read_pictures([(p.name, p.read_bytes, p.stat().st_size) for p in files])


def _read_pictures(entries: list) -> ReadResult:
    """(name, read(), size) → the labelled pictures among them, preprocessed as the Draw page does."""
    from simplecnn.inference.predict import read_image
    from simplecnn.inference.preprocess import ImageError, to_mnist_pixels

    pixels, labels, names, skipped = [], [], [], []
    for name, read, size in entries:
        if not name.lower().endswith(PICTURE_SUFFIXES):
            continue
        match = LABELLED_NAME.match(name)
        if match is None:
            skipped.append(f"{name}: the name does not start with its label (e.g. 7_003.png)")
            continue
        if size > MAX_FILE_BYTES:
            skipped.append(f"{name}: larger than {MAX_FILE_BYTES >> 20} MB")
            continue
        try:
            u8 = np.round(to_mnist_pixels(read_image(read())) * 255).astype(np.uint8)
        except ImageError as exc:
            skipped.append(f"{name}: {exc}")
            continue
        pixels.append(u8)
        labels.append(int(match.group(1)))
        names.append(name)
    if not pixels:
        raise DrawingsFileError(
            "no labelled pictures found (PNG or JPEG files whose names start with their label, e.g. 7_003.png)",
            ArchiveProblem.EMPTY,
        )
    return ReadResult(DrawingSet(np.stack(pixels), np.array(labels, dtype=np.int64), tuple(names)), tuple(skipped))


def set_zip_bytes(drawings: DrawingSet) -> bytes:
    """A class set (the room's pool) as a zip: each 28×28 input as `<label>_<n>.png`, labels.csv and drawings.npz.
    Nothing in it says who drew what."""
    out = io.BytesIO()
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["file", "label"])
    names = tuple(f"{label}_{i:05d}.png" for i, label in enumerate(drawings.labels))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, pixels, label in zip(names, drawings.pixels, drawings.labels, strict=True):
            archive.writestr(name, png_bytes(pixels))
            writer.writerow([name, int(label)])
        archive.writestr("labels.csv", table.getvalue())
        archive.writestr(NPZ_NAME, npz_bytes(DrawingSet(drawings.pixels, drawings.labels, names)))
    return out.getvalue()
