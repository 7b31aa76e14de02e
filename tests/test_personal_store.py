"""The labelled-drawings store: durable (kill -9 loses nothing confirmed), private, bounded, and honest about a
damaged or foreign file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simplecnn.personal.store import (
    DrawingSet,
    DrawingStore,
    DrawingStoreError,
    StoreProblem,
    capped_original,
    held_out,
    split,
)

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n" + b"ORIGINAL-DRAWING-BYTES" * 40  # stands in for a canvas PNG (kept as given)


def pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


@pytest.fixture()
def store(tmp_path):
    s = DrawingStore(tmp_path / "drawings.sqlite")
    yield s
    s.close()


def file_bytes(path: Path) -> bytes:
    """The database and its write-ahead log, as they are on disk."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_a_drawing_is_kept_with_its_label_input_and_original_and_reopens(tmp_path):
    path = tmp_path / "d.sqlite"
    s = DrawingStore(path)
    kept = s.add("alice", "room", 7, pixels(1), PNG, predicted=1)
    s.add("alice", "room", 4, pixels(2) / 255.0)  # float [0, 1] input is stored as MNIST's bytes
    s.close()
    s = DrawingStore(path)  # a server restart
    mine = s.drawings("alice")
    assert [d.label for d in mine] == [7, 4] and mine[0].predicted == 1 and mine[0].has_original
    assert np.array_equal(mine[0].pixels, pixels(1)) and np.array_equal(mine[1].pixels, pixels(2))
    assert s.original("alice", kept.id) == PNG
    assert s.original("bob", kept.id) is None and s.drawings("bob") == []  # another participant sees nothing
    assert s.count("alice") == 2
    assert s.relabel("alice", kept.id, 1) and not s.relabel("bob", kept.id, 2)
    assert s.drawings("alice")[0].label == 1
    s.close()


def test_the_file_is_sqlite_in_wal_mode(store):
    store.add("a", "r", 3, pixels(3))
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_delete_removes_the_bytes_from_the_files_not_just_the_list(store):
    first = store.add("alice", "room", 7, pixels(1), PNG)
    second = store.add("alice", "room", 1, pixels(2), PNG.replace(b"ORIGINAL", b"SECONDXX"))
    assert b"ORIGINAL-DRAWING" in file_bytes(store.path)
    assert not store.delete("bob", first.id)  # not bob's
    assert store.delete("alice", first.id)
    data = file_bytes(store.path)
    assert b"ORIGINAL-DRAWING" not in data and pixels(1).tobytes() not in data
    assert b"SECONDXX-DRAWING" in data
    assert [d.id for d in store.drawings("alice")] == [second.id]
    assert store.delete_all("alice") == 1
    data = file_bytes(store.path)
    assert b"SECONDXX-DRAWING" not in data and pixels(2).tobytes() not in data
    assert store.drawings("alice") == []


def test_caps_per_participant_and_per_drawing(tmp_path):
    s = DrawingStore(tmp_path / "d.sqlite", max_per_participant=2)
    s.add("a", "r", 1, pixels(1))
    s.add("a", "r", 2, pixels(2))
    with pytest.raises(DrawingStoreError) as caught:
        s.add("a", "r", 3, pixels(3))
    assert caught.value.code == StoreProblem.TOO_MANY and caught.value.params["limit"] == 2
    s.add("b", "r", 3, pixels(3))  # the cap is per participant
    for bad in (lambda: s.add("b", "r", 10, pixels(4)), lambda: s.add("b", "r", 1, np.zeros((28, 27)))):
        with pytest.raises(DrawingStoreError) as caught:
            bad()
        assert caught.value.code == StoreProblem.BAD_DRAWING
    s.close()


def test_an_oversized_original_is_kept_smaller_or_not_at_all():
    from io import BytesIO

    from PIL import Image

    noise = np.random.default_rng(0).integers(0, 256, (1500, 1500), dtype=np.uint8)
    big = BytesIO()
    Image.fromarray(noise).save(big, format="PNG")
    kept = capped_original(big.getvalue(), limit=200_000)
    assert kept is not None and len(kept) <= 200_000
    assert max(Image.open(BytesIO(kept)).size) <= 280
    assert capped_original(b"not an image" * 50_000, limit=1000) is None
    assert capped_original(None) is None


def test_the_room_pool_takes_only_participants_who_said_yes(store):
    store.add("yes", "room", 1, pixels(1))
    store.add("yes", "other-room", 2, pixels(2))
    store.add("no", "room", 3, pixels(3))
    store.add("silent", "room", 4, pixels(4))
    store.set_consent("yes", "room", True)
    store.set_consent("no", "room", False)
    pool = store.pooled("room")
    assert list(pool.labels) == [1] and store.pool_size("room") == (1, 1)
    assert store.consents("yes", "room") and not store.consents("no", "room")
    store.set_consent("yes", "room", False)  # changing one's mind takes the drawings out again
    assert len(store.pooled("room")) == 0


def test_a_participant_is_recalled_by_their_token_after_a_restart(tmp_path):
    path = tmp_path / "d.sqlite"
    s = DrawingStore(path)
    s.remember_participant("secret-token", "ab12cd34", "Calm Otter 12")
    s.close()
    s = DrawingStore(path)
    assert s.recall_participant("secret-token") == ("ab12cd34", "Calm Otter 12")
    assert s.recall_participant("wrong-token") is None
    s.close()
    assert b"secret-token" not in file_bytes(path)  # only its hash is kept


@pytest.mark.parametrize("kind", ["garbage", "foreign", "damaged", "folder"])
def test_a_corrupt_or_foreign_file_is_a_clear_error(tmp_path, kind):
    path = tmp_path / "d.sqlite"
    if kind == "garbage":
        path.write_bytes(os.urandom(4096))
    elif kind == "foreign":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE notes (text)")
    elif kind == "damaged":
        s = DrawingStore(path)
        for i in range(40):
            s.add("a", "r", i % 10, pixels(i), PNG)
        s.close()
        data = bytearray(path.read_bytes())
        data[4096 * 2 : 4096 * 4] = os.urandom(8192)  # pages after the header
        path.write_bytes(bytes(data))
    else:
        path.mkdir()
    with pytest.raises(DrawingStoreError) as caught:
        DrawingStore(path)
    expected = {
        "garbage": StoreProblem.CORRUPT,
        "foreign": StoreProblem.FOREIGN,
        "damaged": StoreProblem.CORRUPT,
        "folder": StoreProblem.UNAVAILABLE,
    }
    assert caught.value.code == expected[kind]
    assert "\n" not in str(caught.value)


def test_held_out_is_decided_by_the_drawing_itself():
    drawings = DrawingSet(np.stack([pixels(i) for i in range(200)]), np.arange(200) % 10, tuple(map(str, range(200))))
    learn, held = split(drawings, 0.5)
    assert len(learn) + len(held) == 200 and 70 < len(held) < 130
    again, held_again = split(drawings.take(np.arange(200) % 3 != 0), 0.5)  # fewer drawings: none moves side
    assert set(held_again.names) <= set(held.names) and set(again.names) <= set(learn.names)
    assert all(held_out(p, 0.5) for p in held.pixels) and not any(held_out(p, 0.0) for p in drawings.pixels)


CHILD = """
import sys
import numpy as np
from simplecnn.personal.store import DrawingStore
store = DrawingStore(sys.argv[1], max_per_participant=10**6)
rng = np.random.default_rng(int(sys.argv[2]))
png = b"\\x89PNG\\r\\n\\x1a\\n" + bytes(3000)
while True:
    d = store.add("p", "r", int(rng.integers(10)), rng.integers(0, 256, (28, 28), dtype=np.uint8), png)
    print(d.id, flush=True)  # confirmed only once add() returned, i.e. after the commit
"""


def test_kill_9_while_labelling_loses_no_confirmed_drawing(tmp_path):
    path = tmp_path / "d.sqlite"
    confirmed: set[int] = set()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for trial in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(trial)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert child.stdout is not None
        for _ in range(5 + 7 * trial):
            confirmed.add(int(child.stdout.readline()))
        os.kill(child.pid, signal.SIGKILL)  # mid-stream: it is adding the next drawing right now
        confirmed.update(int(line) for line in child.stdout.read().split())
        child.wait()
        reopened = DrawingStore(path)
        kept = {d.id for d in reopened.drawings("p")}
        reopened.close()
        assert confirmed <= kept, f"trial {trial}: lost {sorted(confirmed - kept)}"


def test_a_room_takes_back_a_participant_the_store_remembers(tmp_path):
    from simplecnn.workshop.room import Room

    first = Room()
    person = first.join("Calm Otter 12")
    store = DrawingStore(tmp_path / "d.sqlite")
    store.remember_participant(person.token, person.id, person.name)
    restarted = Room()  # a new server process: it knows nobody
    assert restarted.find(person.token) is None
    found = store.recall_participant(person.token)
    assert found is not None
    again = restarted.adopt(person.token, *found)
    assert (again.id, again.name) == (person.id, person.name) and restarted.find(person.token) is again
    store.close()


def test_a_class_set_zip_says_nothing_about_who(tmp_path):
    import io
    import zipfile

    from simplecnn.personal.archive import read_drawings, set_zip_bytes

    store = DrawingStore(tmp_path / "d.sqlite")
    for who in ("alice", "bob"):
        store.add(who, "room", 3, pixels(len(who)))
        store.set_consent(who, "room", True)
    blob = set_zip_bytes(store.pooled("room"))
    assert b"alice" not in blob and b"bob" not in blob
    (tmp_path / "class.zip").write_bytes(blob)
    assert list(read_drawings(tmp_path / "class.zip").drawings.labels) == [3, 3]
    assert len([n for n in zipfile.ZipFile(io.BytesIO(blob)).namelist() if n.endswith(".png")]) == 2
    store.close()
