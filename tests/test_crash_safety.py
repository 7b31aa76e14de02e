"""kill -9 of a training server at any moment leaves every visible checkpoint loadable."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from simplecnn.runs import list_runs

ROOT = Path(__file__).resolve().parent.parent

SERVER = textwrap.dedent("""
    import sys, time
    from simplecnn import recipe
    from simplecnn.scheduler import TrainingScheduler
    s = TrainingScheduler(max_concurrent=1, runs_root=sys.argv[1])
    config = recipe("tutorial", epochs=50, limit_train=256, limit_test=64, batch_size=64, patience=50)
    runs = [s.submit(f"session{i}", config) for i in range(3)]
    while True:
        time.sleep(0.01)
        print(sum(len(r.epochs) for r in runs), flush=True)
""")


def test_kill_9_during_training_leaves_only_loadable_checkpoints(tmp_path):
    runs_dir = tmp_path / "runs"
    for delay in (0.5, 2.0, 3.7):  # before any save, between saves, while saving often
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(runs_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                                text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        start = time.time()
        while time.time() - start < 60:
            line = proc.stdout.readline()
            if line.strip().isdigit() and int(line) >= 1 and time.time() - start >= delay:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    offered = list_runs(runs_dir)
    assert offered, "completed epochs must have left checkpoints"
    for run in offered:
        assert load_checkpoint(run.path).history["test_accuracy"]
    on_disk = list(runs_dir.glob("*/best.pt"))
    assert sorted(on_disk) == sorted(r.path for r in offered)  # every best.pt on disk is whole
    assert load_checkpoint(DEFAULT_CHECKPOINT).accuracy >= 0.993
