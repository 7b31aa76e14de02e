"""kill -9 of a training server in the middle of writing a checkpoint leaves every visible checkpoint loadable.

The subject is the atomic save (temp file + rename): the server below writes each checkpoint slowly, in chunks,
and says when it starts, so the kill lands inside a write every time. A save that wrote `best.pt` in place
would leave a truncated `best.pt` here, and the test fails.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from simplecnn.checkpoint import load_checkpoint
from simplecnn.training.runs import list_runs

ROOT = Path(__file__).resolve().parent.parent

SERVER = textwrap.dedent("""
    import io, os, sys, time
    import torch
    from simplecnn import recipe
    from simplecnn.workshop.scheduler import TrainingScheduler

    real_save = torch.save

    def slow_save(obj, f, *args, **kwargs):  # same bytes, written in slow chunks: a kill lands mid-write
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        own = isinstance(f, (str, os.PathLike))
        out = open(f, "wb") if own else f
        print("SAVING", flush=True)
        for i in range(0, len(data), 1 << 16):
            out.write(data[i:i + (1 << 16)])
            out.flush()
            time.sleep(0.03)
        if own:
            out.close()

    torch.save = slow_save
    s = TrainingScheduler(max_concurrent=1, runs_root=sys.argv[1], away_after=3600)
    config = recipe("tutorial", epochs=50, limit_train=256, limit_test=64, batch_size=64, patience=50)
    run = s.submit("session", config)
    while True:
        time.sleep(0.01)
        print("EPOCHS", len(run.epochs), flush=True)
""")


def _kill_during_save(runs_dir: Path, saves_before: int) -> None:
    """Start the server, let `saves_before` checkpoint writes finish, kill -9 it inside the next one."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(runs_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    saves, start = 0, time.time()
    try:
        while time.time() - start < 120:
            line = proc.stdout.readline()
            if line.startswith("SAVING"):
                saves += 1
                if saves > saves_before:
                    time.sleep(0.1)  # a few chunks into the write
                    break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert saves > saves_before, "the server never got to save a checkpoint"


def test_kill_9_while_saving_leaves_only_loadable_checkpoints(tmp_path):
    runs_dir = tmp_path / "runs"
    _kill_during_save(runs_dir, saves_before=0)  # inside the very first save: no checkpoint yet
    _kill_during_save(runs_dir, saves_before=1)  # inside a later save: the previous best must survive whole
    on_disk = sorted(runs_dir.glob("*/best.pt"))
    assert on_disk, "the finished saves of the second server must have left a checkpoint"
    for path in on_disk:
        assert load_checkpoint(path).history["test_accuracy"]  # whole: loads, with its history
    assert sorted(r.path for r in list_runs(runs_dir)) == on_disk
