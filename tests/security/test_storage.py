"""A full disk or a read-only folder gives one line without any server path and leaves no half-made folder:
for checkpoints, training runs and the cache."""

from __future__ import annotations

import errno
import subprocess
import time
from pathlib import Path

import pytest

from simplecnn.bounded import store_cached
from simplecnn.checkpoint import atomic_save
from simplecnn.errors import StorageError
from simplecnn.files import write_atomic
from simplecnn.model import SimpleCNN
from simplecnn.training.config import RECIPES
from simplecnn.training.events import RunStatus
from simplecnn.workshop.scheduler import TrainingScheduler


def _mount(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


@pytest.fixture()
def small_disk(tmp_path):
    """A 1 MB filesystem (a checkpoint is 1.9 MB): a real full disk where the test may mount one."""
    where = tmp_path / "small"
    if not _mount(where, "size=1m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield where
    subprocess.run(["umount", str(where)], check=False)


@pytest.fixture()
def read_only(tmp_path):
    where = tmp_path / "ro"
    if not _mount(where, "size=1m,ro"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield where
    subprocess.run(["umount", str(where)], check=False)


def _fails_with(monkeypatch, code: int) -> None:
    def write_bytes(self, data):
        raise OSError(code, "simulated", str(self))

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


@pytest.mark.parametrize(
    "code, words", [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"), (errno.EACCES, "no permission")]
)
def test_a_failed_write_is_one_line_without_a_path_and_leaves_nothing(tmp_path, monkeypatch, code, words):
    target = tmp_path / "new" / "deeper" / "best.pt"
    _fails_with(monkeypatch, code)
    with pytest.raises(StorageError) as err:
        atomic_save(SimpleCNN().state_dict(), target)
    assert words in str(err.value) and str(tmp_path) not in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []  # neither the folders it made nor a temp file


def test_a_real_full_disk_and_a_read_only_folder(small_disk, read_only):
    with pytest.raises(StorageError, match="disk is full") as err:
        atomic_save(SimpleCNN().state_dict(), small_disk / "run" / "best.pt")
    assert str(small_disk) not in str(err.value) and list(small_disk.iterdir()) == []
    with pytest.raises(StorageError, match="read-only") as err:
        write_atomic(read_only / "x.json", "{}", what="runs")
    assert str(read_only) not in str(err.value)
    assert store_cached(small_disk / "embed.pt", b"\0" * (2 << 20)) is False  # the cache: skipped, never raised


def _run(runs_root: Path):
    sched = TrainingScheduler(max_concurrent=1, runs_root=runs_root, memory_limit_mb=0)
    try:
        run = sched.submit("someone", RECIPES["tutorial"].replace(epochs=1, limit_train=256, limit_test=256))
        while run.active:
            time.sleep(0.2)
        return run
    finally:
        sched.shutdown(5)


def test_a_training_run_on_a_full_disk_fails_in_one_line_and_leaves_no_folder(small_disk, read_only):
    run = _run(small_disk)
    assert run.status == RunStatus.FAILED and run.message.startswith("the disk is full"), run.message
    assert str(small_disk) not in run.message and list(small_disk.iterdir()) == []
    run = _run(read_only / "runs")
    assert run.status == RunStatus.FAILED and run.message == "the runs folder is read-only"
