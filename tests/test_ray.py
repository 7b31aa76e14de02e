"""Training on a Ray cluster (issue 14), against a real local head started here as its own process.

The tests marked `ray` need Ray (`pip install -r requirements-ray.txt`) and a network namespace that has only
loopback (Ray binds to the machine's interface address otherwise):
    unshare -n bash -c 'ip link set lo up; python3 -m pytest -m ray'
Elsewhere they skip with the reason, except under CI (`CI` set), where they fail.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from simplecnn import settings
from simplecnn.cli import main
from simplecnn.execution.choose import executor_from_env, max_concurrent_for
from simplecnn.execution.local import LocalExecutor
from simplecnn.execution.ray_client import RayExecutor
from simplecnn.execution.ray_resources import NODE_DIED, WORKER_DIED, cluster_capacity, infeasible, task_resources
from simplecnn.files import write_atomic
from simplecnn.training.config import TrainConfig
from simplecnn.training.events import BatchEnd, RunEnded, RunStarted, RunStatus
from tests.support.ray_head import training_worker_pids

TINY = TrainConfig(epochs=1, limit_train=512, limit_test=128, report_every=1, device="cpu")
LONG = TINY.replace(epochs=200)  # minutes of work: only ever stopped, killed or cut off


# ---- without Ray -----------------------------------------------------------------------------------------------
def test_no_address_means_local_threads():
    assert isinstance(executor_from_env({}), LocalExecutor)
    assert isinstance(executor_from_env({"SIMPLECNN_RAY_ADDRESS": "  "}), LocalExecutor)
    assert max_concurrent_for(LocalExecutor()) is None


def test_address_means_ray_without_connecting_yet():
    ex = executor_from_env({"SIMPLECNN_RAY_ADDRESS": "auto", "SIMPLECNN_RAY_CPUS": "2"})
    assert isinstance(ex, RayExecutor) and ex.name == "ray"
    assert ex.address == "auto" and ex.cpus_per_run == 2 and isinstance(ex.fallback, LocalExecutor)


def test_resources_cpu_threads_or_a_gpu_share():
    assert task_resources("cpu", 2, 0.25, cluster_gpus=1) == {"num_cpus": 2}
    assert task_resources("auto", 1, 0.25, cluster_gpus=0) == {"num_cpus": 1}
    assert task_resources("auto", 1, 0.25, cluster_gpus=1) == {"num_cpus": 1, "num_gpus": 0.25}
    assert task_resources("cuda:0", 4, 0.5, cluster_gpus=0) == {"num_cpus": 1, "num_gpus": 0.5}


def test_capacity_counts_cpu_slots_or_gpu_shares():
    laptops = [{"CPU": 2.0}, {"CPU": 8.0}]
    assert cluster_capacity(laptops, cpus_per_run=1, gpu_fraction=0.25) == 10
    assert cluster_capacity(laptops, cpus_per_run=2, gpu_fraction=0.25) == 5
    assert cluster_capacity([{"CPU": 16.0, "GPU": 1.0}], cpus_per_run=1, gpu_fraction=0.25) == 4
    assert cluster_capacity([{"CPU": 2.0, "GPU": 1.0}], cpus_per_run=1, gpu_fraction=0.25) == 2


def test_requests_no_node_can_take_fail_at_once():
    nodes = [{"CPU": 2.0}]
    assert infeasible({"num_cpus": 2}, nodes) is None
    assert "no GPU" in infeasible({"num_cpus": 1, "num_gpus": 0.25}, nodes)
    assert "4 CPUs" in infeasible({"num_cpus": 4}, nodes)
    assert infeasible({"num_cpus": 1, "num_gpus": 0.25}, [{"CPU": 8.0, "GPU": 1.0}]) is None


def test_checkpoint_bytes_replace_the_file_atomically(tmp_path):
    path = write_atomic(tmp_path / "run" / "best.pt", b"first")
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second" and [p.name for p in path.parent.iterdir()] == ["best.pt"]


# ---- a real head (tests/support/ray_head.py; the session's `ray_address` in tests/conftest.py) ------------------
# Every test here trains through one executor, so through one bridge: one Ray job, whose worker processes (each
# imports torch and decodes MNIST once) stay warm from test to test. The last test kills the head under it.
@pytest.fixture(scope="module")
def ray_executor(ray_address):
    with pytest.MonkeyPatch.context() as env:
        # The bridge (Ray's driver) gives up 5 s after the head is gone (the last test), not 20.
        env.setenv(settings.RAY_RECONNECT.name, "5")
        ex = RayExecutor(ray_address, connect_timeout=120)
        ex.connect()  # the bridge starts now, with the setting above
    yield ex
    ex.close()


def run_until(ex, config: TrainConfig, out: Path, when=None) -> tuple[list, float]:
    """All events of one run; `when(event, cancel)` may act mid-run. Returns (events, seconds after the action)."""
    cancel, events, acted = threading.Event(), [], None
    for event in ex.execute(config, cancel, out):
        events.append(event)
        if acted is None and when is not None and when(event, cancel):
            acted = time.monotonic()
    return events, (time.monotonic() - acted) if acted else 0.0


@pytest.mark.ray
def test_run_on_ray_streams_events_and_brings_the_checkpoint_back(ray_executor, tmp_path):
    from simplecnn.checkpoint import load_checkpoint

    out = tmp_path / "run" / "best.pt"
    events, _ = run_until(ray_executor, TINY.replace(epochs=2), out)
    started, ended = events[0], events[-1]
    assert isinstance(started, RunStarted) and "Ray node 127.0.0.1" in started.node
    assert "Ray node" in started.device  # the page shows the device line: it names the node too
    assert sum(isinstance(e, BatchEnd) for e in events) == 8  # 4 batches x 2 epochs, each reported
    assert isinstance(ended, RunEnded) and ended.status == RunStatus.COMPLETED, ended.message
    assert ended.checkpoint == out
    ckpt = load_checkpoint(out)  # written here from the bytes the worker sent back
    assert ckpt.accuracy == pytest.approx(ended.best_accuracy) and ckpt.metrics["epoch"] == ended.best_epoch


@pytest.mark.ray
def test_a_finetune_runs_on_ray_and_reports_before_and_after(ray_executor, tmp_path):
    import numpy as np

    from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
    from simplecnn.personal.finetune import FINETUNE, prepare
    from simplecnn.personal.store import DrawingSet
    from simplecnn.training.events import BeforeAfter

    pixels = np.random.default_rng(0).integers(0, 256, (8, 28, 28), dtype=np.uint8)
    drawings = DrawingSet(pixels, np.arange(8) % 10, tuple(f"d{i}" for i in range(8)))
    inputs = prepare(load_checkpoint(DEFAULT_CHECKPOINT).state_dict, "digest", "shipped", drawings)
    config = FINETUNE.replace(budget=0.0, limit_train=512, limit_test=128, batch_size=64, device="cpu")
    out = tmp_path / "ft" / "best.pt"
    events = list(ray_executor.execute(config, threading.Event(), out, finetune=inputs))
    assert isinstance(events[-2], BeforeAfter) and events[-2].held_out == len(inputs.held_labels)
    assert isinstance(events[-1], RunEnded) and events[-1].status == RunStatus.COMPLETED, events[-1].message
    assert "Ray node" in events[0].node and load_checkpoint(out).config["recipe"] == "finetune"


@pytest.mark.ray
def test_stop_ends_a_ray_run_within_10_seconds(ray_executor, tmp_path):
    def stop_at_first_batch(event, cancel):
        if isinstance(event, BatchEnd):  # an event before the end: they stream as they happen
            cancel.set()
            return True
        return False

    events, seconds = run_until(ray_executor, LONG, tmp_path / "best.pt", stop_at_first_batch)
    assert "Ray node" in events[0].node
    assert events[-1].status == RunStatus.CANCELLED and events[-1].message == "stopped by request"
    assert seconds < 10


@pytest.mark.ray
def test_more_runs_than_capacity_wait_in_order_and_all_complete(ray_executor, tmp_path):
    from simplecnn.workshop.scheduler import TrainingScheduler

    capacity = max_concurrent_for(ray_executor)
    assert capacity == 2  # --num-cpus 2, one CPU per run
    sched = TrainingScheduler(max_concurrent=capacity, runs_root=tmp_path, away_after=600, executor=ray_executor)
    try:
        runs = [sched.submit(f"session-{i}", TINY.replace(seed=i)) for i in range(4)]
        assert [r.status for r in runs[:2]] == [RunStatus.RUNNING] * 2
        assert [sched.queue_position(r.id) for r in runs[2:]] == [1, 2]
        deadline = time.time() + 240
        while any(r.active for r in runs) and time.time() < deadline:
            time.sleep(0.5)
        assert [r.status for r in runs] == [RunStatus.COMPLETED] * 4, [r.message for r in runs]
        assert runs[2].started >= min(runs[0].finished, runs[1].finished)  # waited for a free slot
        assert runs[3].started >= runs[2].started  # in order
        assert all(r.checkpoint and r.checkpoint.is_file() and "Ray node" in r.info.node for r in runs)
    finally:
        sched.shutdown()


@pytest.mark.ray
def test_killed_worker_fails_the_run_and_the_next_run_completes(ray_executor, tmp_path):
    killed = []

    def kill_worker(event, cancel):
        if isinstance(event, BatchEnd):
            pids = training_worker_pids()
            assert len(pids) == 1, pids
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
            return True
        return False

    events, seconds = run_until(ray_executor, LONG, tmp_path / "a" / "best.pt", kill_worker)
    assert killed and events[-1].status == RunStatus.FAILED
    assert events[-1].message == WORKER_DIED and seconds < 30
    events, _ = run_until(ray_executor, TINY, tmp_path / "b" / "best.pt")
    assert events[-1].status == RunStatus.COMPLETED, events[-1].message


class _Lent:
    """The module's executor, lent to the CLI: the CLI's close() at its end is recorded, the bridge stays."""

    name = "ray"

    def __init__(self, executor: RayExecutor) -> None:
        self.executor, self.closed = executor, False

    def execute(self, *args, **kwargs):
        return self.executor.execute(*args, **kwargs)

    def close(self) -> None:
        self.closed = True


@pytest.mark.ray
def test_cli_trains_on_ray_and_says_so(ray_address, ray_executor, tmp_path, monkeypatch, capsys):
    """The CLI picks Ray from $SIMPLECNN_RAY_ADDRESS (no fallback) and trains there. It trains on the module's
    executor, through the same RayExecutor code: a bridge of its own would be another Ray job, whose worker
    process imports torch afresh (the slowest step of a run this small)."""
    from simplecnn.execution import choose

    real, chosen, lent = choose.executor_from_env, [], _Lent(ray_executor)

    def executor_from_env(*args, **kwargs):
        chosen.append(real(*args, **kwargs))
        return lent

    monkeypatch.setattr(choose, "executor_from_env", executor_from_env)
    monkeypatch.setenv("SIMPLECNN_RAY_ADDRESS", ray_address)
    argv = ["train", "--epochs", "1", "--limit-train", "512", "--limit-test", "128", "--device", "cpu"]
    code = main([*argv, "--out", str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    [picked] = chosen
    assert isinstance(picked, RayExecutor) and picked.address == ray_address and picked.fallback is None
    assert lent.closed  # the CLI closes its executor (its bridge) when the run ends
    assert "Epoch [ 1/1]" in out and "Traceback" not in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["executor"] == "ray" and "Ray node 127.0.0.1" in summary["node"]
    assert summary["status"] == RunStatus.COMPLETED and Path(summary["checkpoint"]) == tmp_path / "best.pt"


@pytest.mark.ray
def test_unreachable_cluster_trains_here_or_fails_the_cli_in_one_line(ray_usable, tmp_path, monkeypatch, capsys):
    """No cluster at the address: the app's executor trains locally and says why; the CLI refuses in one line."""
    # Ray's driver (the bridge) gives up after 1 s, not 5 + 5 + 20 (connect, pubsub, the app's RAY_RECONNECT):
    # the same failure, sooner.
    monkeypatch.setenv(settings.RAY_RECONNECT.name, "1")
    monkeypatch.setenv("RAY_gcs_rpc_server_connect_timeout_s", "1")
    nowhere = "127.0.0.1:9"  # the discard port: nothing listens there in a fresh namespace
    ex = RayExecutor(nowhere, fallback=LocalExecutor(), connect_timeout=60)
    try:
        assert max_concurrent_for(ex) is None  # the scheduler keeps its local default
        events, _ = run_until(ex, TINY, tmp_path / "a" / "best.pt")
    finally:
        ex.close()
    assert events[-1].status == RunStatus.COMPLETED and "on this machine (Ray unavailable)" in events[0].device
    assert "cannot be reached" in (ex.unavailable or "")
    monkeypatch.setenv("SIMPLECNN_RAY_ADDRESS", nowhere)
    capsys.readouterr()
    code = main(
        ["train", "--epochs", "1", "--limit-train", "512", "--limit-test", "128", "--out", str(tmp_path / "cli")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: the Ray cluster at {nowhere} cannot be reached (") and len(last) < 250, last


@pytest.mark.ray
def test_cluster_going_away_fails_the_run_then_trains_here(ray_head_now, ray_executor, tmp_path):
    """The session's head, killed mid-run: the run fails with one line, later runs train locally and say so.

    Last in this module: it kills the head under the module's executor (warm workers; a bridge that gives up 5 s
    after the head is gone). A later module that needs a head gets a fresh one (tests/conftest.py)."""
    ex = ray_executor
    ex.fallback, ex.retry_after = LocalExecutor(), 3600  # as the app's executor falls back; no retry in this test

    def kill_cluster(event, cancel):
        if isinstance(event, BatchEnd):
            os.killpg(ray_head_now.proc.pid, signal.SIGKILL)  # the head machine is gone, no goodbye
            return True
        return False

    events, seconds = run_until(ex, LONG, tmp_path / "a" / "best.pt", kill_cluster)
    assert "Ray node" in events[0].node
    assert events[-1].status == RunStatus.FAILED and seconds < 60
    assert events[-1].message in (NODE_DIED, WORKER_DIED) or "went away" in events[-1].message
    events, _ = run_until(ex, TINY, tmp_path / "b" / "best.pt")
    assert events[-1].status == RunStatus.COMPLETED, events[-1].message
    assert "on this machine (Ray unavailable)" in events[0].device
