"""kill -9 of a training server in the middle of writing a checkpoint leaves every visible checkpoint loadable.

The subject is the atomic save (temp file + rename): the server below lets a given number of checkpoint file
writes finish, then writes half of the next one to disk and waits there to be killed, so the kill lands inside a
write every time. A save that wrote `best.pt` in place would leave a truncated `best.pt` here, and the test fails.
"""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from simplecnn.checkpoint import load_checkpoint
from simplecnn.training.runs import list_runs

ROOT = Path(__file__).resolve().parent.parent

SERVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from simplecnn import recipe
    from simplecnn.workshop.scheduler import TrainingScheduler

    real_write = Path.write_bytes
    whole_saves = int(sys.argv[2])

    def write_then_hang(self, data):  # checkpoints (zip files): the first saves whole, the next stops halfway
        global whole_saves
        if not data.startswith(b"PK") or whole_saves > 0:
            whole_saves -= data.startswith(b"PK")
            return real_write(self, data)
        with open(self, "wb") as out:
            out.write(data[: len(data) // 2])
            out.flush()
        print("MIDWRITE", flush=True)
        time.sleep(3600)

    Path.write_bytes = write_then_hang
    s = TrainingScheduler(max_concurrent=1, runs_root=sys.argv[1], away_after=3600)
    config = recipe("tutorial", epochs=50, limit_train=256, limit_test=64, batch_size=64, patience=50)
    s.submit("session", config)
    while True:
        time.sleep(1)
""")


def _start(runs_dir: Path, whole_saves: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SERVER, str(runs_dir), str(whole_saves)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def _kill_mid_write(proc: subprocess.Popen) -> None:
    """Wait until the server is halfway through a checkpoint write, then kill -9 it there."""
    try:
        line = proc.stdout.readline()  # blocks until MIDWRITE, or "" if the server died first
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert line.startswith("MIDWRITE"), "the server never got to write a checkpoint"


def test_kill_9_while_saving_leaves_only_loadable_checkpoints(tmp_path):
    # Two servers at once, each with its runs folder: one killed inside its very first save (no checkpoint yet),
    # one inside a later save (the previous best must survive whole).
    first, later = tmp_path / "first", tmp_path / "later"
    servers = [_start(first, whole_saves=0), _start(later, whole_saves=1)]
    for proc in servers:
        _kill_mid_write(proc)
    assert sorted(later.glob("*/best.pt")), "the finished save of the second server must have left a checkpoint"
    for runs_dir in (first, later):
        on_disk = sorted(runs_dir.glob("*/best.pt"))
        for path in on_disk:
            assert load_checkpoint(path).history["test_accuracy"]  # whole: loads, with its history
        assert sorted(r.path for r in list_runs(runs_dir)) == on_disk
