"""Labelled drawings, kept durably: one SQLite file (WAL) in the app's data folder.

A drawing belongs to a participant (their public id) in a room: its label, the 28×28 input the model saw (uint8,
MNIST's format) and the original picture (PNG, size-capped). `add` returns only after the row is committed, so
anything a page confirms survives a kill -9 of the server. Deleting rewrites the freed bytes with zeros
(secure_delete) and truncates the write-ahead log, so a deleted drawing is gone from the files, not just hidden.
Torch-free: pages and the CLI read it without loading the model.
"""

from __future__ import annotations

import enum
import hashlib
import io
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simplecnn.errors import CodedError

APPLICATION_ID = 0x53434E44  # "SCND": PRAGMA application_id, so a foreign SQLite file is recognised as such
SCHEMA_VERSION = 1
IMAGE_SIZE = 28
MAX_PER_PARTICIPANT = 500  # drawings one participant may keep
MAX_TOTAL = 200_000  # drawings in the whole file: a bound on disk use for a small host
MAX_ORIGINAL_BYTES = 256 * 1024  # a canvas PNG is 5-30 KB; bigger originals are kept as a smaller PNG
ORIGINAL_SIDE = 280  # the side an oversized original is reduced to (the Draw canvas's size)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    participant TEXT NOT NULL,
    room TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    pixels BLOB NOT NULL CHECK (length(pixels) = 784),
    original BLOB,
    predicted INTEGER,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS drawings_owner ON drawings (participant, id);
CREATE INDEX IF NOT EXISTS drawings_room ON drawings (room);
CREATE TABLE IF NOT EXISTS consent (
    participant TEXT NOT NULL,
    room TEXT NOT NULL,
    pooled INTEGER NOT NULL,
    PRIMARY KEY (participant, room)
);
CREATE TABLE IF NOT EXISTS participants (
    key TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL
);
"""


class StoreProblem(enum.StrEnum):
    """Why the drawings store refused: a key under `errors.` that pages translate, next to the English message."""

    CORRUPT = "personal.store_corrupt"
    FOREIGN = "personal.store_foreign"
    NEWER = "personal.store_newer"
    UNAVAILABLE = "personal.store_unavailable"
    FULL = "personal.store_full"
    TOO_MANY = "personal.store_too_many"
    BAD_DRAWING = "personal.bad_drawing"


class DrawingStoreError(CodedError):
    """The drawings store cannot do this; the message is one line for the user."""


@dataclass(frozen=True)
class Drawing:
    id: int
    participant: str
    room: str
    label: int
    pixels: np.ndarray  # uint8 (28, 28): the model's input, white ink on black
    predicted: int | None  # what the model answered when it was labelled
    created: float
    has_original: bool


@dataclass(frozen=True)
class DrawingSet:
    """Labelled 28×28 inputs as arrays (what fine-tuning and the downloads use)."""

    pixels: np.ndarray  # uint8 (n, 28, 28)
    labels: np.ndarray  # int64 (n,)
    names: tuple[str, ...]  # where each came from: a drawing id or a file name

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, mask: np.ndarray) -> DrawingSet:
        keep = np.flatnonzero(mask)
        return DrawingSet(self.pixels[keep], self.labels[keep], tuple(self.names[i] for i in keep))

    @classmethod
    def empty(cls) -> DrawingSet:
        return cls(np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros(0, np.int64), ())


def owner_key(token: str) -> str:
    """What the file keeps of a participant's private token: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def as_input_pixels(pixels: np.ndarray) -> np.ndarray:
    """A 28×28 input as uint8 (float [0, 1] is rounded, as MNIST's own pixels are bytes)."""
    arr = np.asarray(pixels)
    if arr.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise DrawingStoreError(
            f"a drawing's input must be 28×28, not {arr.shape}", StoreProblem.BAD_DRAWING, shape=str(arr.shape)
        )
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if not np.isfinite(arr).all():
        raise DrawingStoreError("a drawing's input holds NaN or infinite values", StoreProblem.BAD_DRAWING)
    return np.clip(np.round(arr.astype(np.float64) * 255), 0, 255).astype(np.uint8)


def capped_original(png: bytes | None, limit: int = MAX_ORIGINAL_BYTES) -> bytes | None:
    """The original picture as kept: as given when small enough, else re-encoded as a greyscale PNG of at most
    ORIGINAL_SIDE px; None when even that is too big or the bytes are not an image."""
    if not png:
        return None
    if len(png) <= limit and png[:8] == b"\x89PNG\r\n\x1a\n":
        return bytes(png)
    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as img:
            if img.width * img.height > 100_000_000:
                return None
            img.thumbnail((ORIGINAL_SIDE, ORIGINAL_SIDE))
            out = io.BytesIO()
            img.convert("LA" if "A" in img.getbands() else "L").save(out, format="PNG", optimize=True)
    except Exception:  # noqa: BLE001 - an unreadable original is simply not kept (the 28×28 input is)
        return None
    data = out.getvalue()
    return data if len(data) <= limit else None


class DrawingStore:
    """The drawings file. Thread-safe (one connection, one lock): every page of the server shares one store."""

    def __init__(self, path: str | Path, max_per_participant: int = MAX_PER_PARTICIPANT, max_total: int = MAX_TOTAL):
        self.path = Path(path)
        self.max_per_participant, self.max_total = max_per_participant, max_total
        self._lock = threading.Lock()
        self._db = self._open()

    # ---- opening -------------------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise DrawingStoreError(
                f"the drawings store {self.path} is a folder, not a file", StoreProblem.UNAVAILABLE, path=str(self.path)
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise DrawingStoreError(
                f"cannot open the drawings store {self.path} ({exc})", StoreProblem.UNAVAILABLE, path=str(self.path)
            ) from None
        try:
            self._prepare(db)
        except sqlite3.OperationalError as exc:  # a read-only folder, a locked file: not damage
            db.close()
            raise DrawingStoreError(
                f"cannot use the drawings store {self.path}: {exc}", StoreProblem.UNAVAILABLE, path=str(self.path)
            ) from None
        except sqlite3.DatabaseError as exc:
            db.close()
            raise self._corrupt(exc) from None
        except BaseException:
            db.close()
            raise
        return db

    def _prepare(self, db: sqlite3.Connection) -> None:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        if app_id != APPLICATION_ID and (app_id != 0 or tables):
            raise DrawingStoreError(
                f"{self.path} is an SQLite file of another program, not a SimpleCNN drawings store",
                StoreProblem.FOREIGN,
                path=str(self.path),
            )
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DrawingStoreError(
                f"the drawings store {self.path} was written by a newer version (schema {version})",
                StoreProblem.NEWER,
                path=str(self.path),
            )
        if db.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
            raise DrawingStoreError(
                f"the drawings store {self.path} cannot use WAL mode", StoreProblem.UNAVAILABLE, path=str(self.path)
            )
        db.execute("PRAGMA synchronous=FULL")  # a commit is on disk before add() returns (power loss included)
        db.execute("PRAGMA secure_delete=ON")  # deleted rows' bytes are overwritten with zeros
        db.execute("PRAGMA foreign_keys=ON")
        if tables:
            problem = db.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise sqlite3.DatabaseError(problem)
        db.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA.split(";"):  # executescript() would commit first: one transaction instead
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")

    def _corrupt(self, exc: BaseException) -> DrawingStoreError:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return DrawingStoreError(
            f"the drawings store {self.path} is damaged or not a database ({detail}); move it away to start afresh",
            StoreProblem.CORRUPT,
            path=str(self.path),
        )

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; SQLite errors become DrawingStoreError (never a traceback)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:  # disk full, read-only file, locked too long: not damage
                raise DrawingStoreError(
                    f"cannot use the drawings store {self.path}: {exc}", StoreProblem.UNAVAILABLE, path=str(self.path)
                ) from None
            except sqlite3.DatabaseError as exc:
                raise self._corrupt(exc) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- drawings ------------------------------------------------------------------------------------------
    def add(
        self,
        participant: str,
        room: str,
        label: int,
        pixels: np.ndarray,
        original_png: bytes | None = None,
        predicted: int | None = None,
    ) -> Drawing:
        """Keep one labelled drawing; returns once it is committed to disk. Raises DrawingStoreError when a cap
        is reached or the input is not a 28×28 picture."""
        if not 0 <= int(label) <= 9:
            raise DrawingStoreError(f"a label is a digit 0-9, not {label!r}", StoreProblem.BAD_DRAWING, label=label)
        u8 = as_input_pixels(pixels)
        original = capped_original(original_png)
        now = time.time()
        with self._transaction(write=True) as db:
            mine = db.execute("SELECT count(*) FROM drawings WHERE participant=?", (participant,)).fetchone()[0]
            if mine >= self.max_per_participant:
                raise DrawingStoreError(
                    f"you keep {mine} drawings, the most allowed; delete some first",
                    StoreProblem.TOO_MANY,
                    limit=self.max_per_participant,
                )
            if db.execute("SELECT count(*) FROM drawings").fetchone()[0] >= self.max_total:
                raise DrawingStoreError("the server keeps no more drawings", StoreProblem.FULL, limit=self.max_total)
            cursor = db.execute(
                "INSERT INTO drawings (participant, room, label, pixels, original, predicted, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (participant, room, int(label), u8.tobytes(), original, predicted, now),
            )
            row_id = int(cursor.lastrowid or 0)
        return Drawing(row_id, participant, room, int(label), u8, predicted, now, original is not None)

    def drawings(self, participant: str) -> list[Drawing]:
        """A participant's drawings, oldest first."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, participant, room, label, pixels, predicted, created, original IS NOT NULL "
                "FROM drawings WHERE participant=? ORDER BY id",
                (participant,),
            ).fetchall()
        return [_drawing(row) for row in rows]

    def count(self, participant: str) -> int:
        with self._transaction() as db:
            return int(db.execute("SELECT count(*) FROM drawings WHERE participant=?", (participant,)).fetchone()[0])

    def original(self, participant: str, drawing_id: int) -> bytes | None:
        """The original PNG of one of this participant's drawings (None: not theirs, or not kept)."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT original FROM drawings WHERE id=? AND participant=?", (int(drawing_id), participant)
            ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def relabel(self, participant: str, drawing_id: int, label: int) -> bool:
        """Change the label of one of this participant's drawings (a second tap on Draw); True if it was theirs."""
        if not 0 <= int(label) <= 9:
            raise DrawingStoreError(f"a label is a digit 0-9, not {label!r}", StoreProblem.BAD_DRAWING, label=label)
        with self._transaction(write=True) as db:
            changed = db.execute(
                "UPDATE drawings SET label=? WHERE id=? AND participant=?", (int(label), int(drawing_id), participant)
            ).rowcount
        return changed > 0

    def delete(self, participant: str, drawing_id: int) -> bool:
        """Delete one of this participant's drawings (another's id deletes nothing); True if one went."""
        with self._transaction(write=True) as db:
            gone = db.execute(
                "DELETE FROM drawings WHERE id=? AND participant=?", (int(drawing_id), participant)
            ).rowcount
        self._scrub()
        return gone > 0

    def delete_all(self, participant: str) -> int:
        """Delete every drawing of this participant (all rooms); how many went."""
        with self._transaction(write=True) as db:
            gone = db.execute("DELETE FROM drawings WHERE participant=?", (participant,)).rowcount
            db.execute("DELETE FROM consent WHERE participant=?", (participant,))
        self._scrub()
        return int(gone)

    def _scrub(self) -> None:
        """Copy the log's pages into the file (where secure_delete zeroed the deleted bytes) and empty the log,
        whose older page images still held them."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.DatabaseError as exc:
                raise self._corrupt(exc) from None

    def drawing_set(self, participant: str) -> DrawingSet:
        return _as_set(self.drawings(participant))

    # ---- the room's pool -------------------------------------------------------------------------------------
    def set_consent(self, participant: str, room: str, pooled: bool) -> None:
        """Whether this participant's drawings may go into the room's class set (the host's pool)."""
        with self._transaction(write=True) as db:
            db.execute(
                "INSERT INTO consent (participant, room, pooled) VALUES (?, ?, ?) "
                "ON CONFLICT (participant, room) DO UPDATE SET pooled=excluded.pooled",
                (participant, room, int(bool(pooled))),
            )

    def consents(self, participant: str, room: str) -> bool:
        with self._transaction() as db:
            row = db.execute(
                "SELECT pooled FROM consent WHERE participant=? AND room=?", (participant, room)
            ).fetchone()
        return bool(row and row[0])

    def pooled(self, room: str) -> DrawingSet:
        """The room's class set: the drawings made in this room by participants who said yes, oldest first."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT d.id, d.participant, d.room, d.label, d.pixels, d.predicted, d.created, 0 "
                "FROM drawings d JOIN consent c ON c.participant = d.participant AND c.room = d.room "
                "WHERE d.room=? AND c.pooled=1 ORDER BY d.id",
                (room,),
            ).fetchall()
        return _as_set([_drawing(row) for row in rows])

    def pool_size(self, room: str) -> tuple[int, int]:
        """(drawings, participants) in the room's class set."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT count(*), count(DISTINCT d.participant) FROM drawings d JOIN consent c "
                "ON c.participant = d.participant AND c.room = d.room WHERE d.room=? AND c.pooled=1",
                (room,),
            ).fetchone()
        return int(row[0]), int(row[1])

    # ---- participants across restarts -----------------------------------------------------------------------
    def remember_participant(self, token: str, participant: str, name: str) -> None:
        """Keep who holds this private token (by its hash), so after a restart the same link finds the same
        participant, and so their drawings."""
        with self._transaction(write=True) as db:
            db.execute(
                "INSERT INTO participants (key, id, name, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET name=excluded.name",
                (owner_key(token), participant, name, time.time()),
            )

    def recall_participant(self, token: str) -> tuple[str, str] | None:
        """(public id, name) of the participant who holds this token, if the file knows them."""
        with self._transaction() as db:
            row = db.execute("SELECT id, name FROM participants WHERE key=?", (owner_key(token),)).fetchone()
        return (str(row[0]), str(row[1])) if row else None


def _drawing(row: tuple) -> Drawing:
    drawing_id, participant, room, label, pixels, predicted, created, has_original = row
    u8 = np.frombuffer(pixels, dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE).copy()
    return Drawing(
        int(drawing_id),
        str(participant),
        str(room),
        int(label),
        u8,
        None if predicted is None else int(predicted),
        float(created),
        bool(has_original),
    )


def _as_set(drawings: list[Drawing]) -> DrawingSet:
    if not drawings:
        return DrawingSet.empty()
    return DrawingSet(
        np.stack([d.pixels for d in drawings]),
        np.array([d.label for d in drawings], dtype=np.int64),
        tuple(str(d.id) for d in drawings),
    )


def held_out(pixels: np.ndarray, fraction: float) -> bool:
    """Whether a drawing is kept out of fine-tuning to measure it: decided by its 28×28 input's SHA-256, so the
    same drawing always lands on the same side (from the store, a download or a folder of PNGs) and adding
    drawings never moves an old one across."""
    digest = hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def split(drawings: DrawingSet, fraction: float) -> tuple[DrawingSet, DrawingSet]:
    """(to train on, held out): see held_out."""
    mask = np.array([held_out(p, fraction) for p in drawings.pixels], dtype=bool)
    return drawings.take(~mask), drawings.take(mask)
