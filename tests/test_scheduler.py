import threading
import time

import pytest

from simplecnn import recipe
from simplecnn.runs import list_runs, new_run_dir, prune_runs
from simplecnn.scheduler import SessionBusy, TrainingScheduler

TINY = recipe("tutorial", epochs=1, limit_train=256, limit_test=128, batch_size=64)


def wait_for(predicate, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture()
def scheduler(runs_dir):
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir)
    yield s
    s.shutdown()


def test_fifo_queue_one_at_a_time_and_all_complete(scheduler, runs_dir):
    peak = []
    runs = [scheduler.submit(f"session-{i}", TINY) for i in range(4)]
    assert [scheduler.queue_position(r.id) for r in runs[1:]] == [1, 2, 3]
    assert scheduler.estimated_start(runs[3].id) >= scheduler.estimated_start(runs[1].id) > 0

    def watch():
        while any(r.active for r in runs):
            peak.append(sum(r.status == "running" for r in runs))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert wait_for(lambda: not any(r.active for r in runs), 120)
    watcher.join()
    assert max(peak) == 1
    assert [r.status for r in runs] == ["completed"] * 4
    starts = [r.started for r in runs]
    assert starts == sorted(starts)  # first in, first out
    assert {r.checkpoint for r in runs} == {i.path for i in list_runs(runs_dir)}


def test_one_run_per_session_and_stop_a_queued_run(scheduler):
    first = scheduler.submit("a", TINY.replace(epochs=3, limit_train=2048))
    with pytest.raises(SessionBusy):
        scheduler.submit("a", TINY)
    queued = scheduler.submit("b", TINY)
    assert queued.status == "queued"
    scheduler.cancel(queued.id)
    assert queued.status == "cancelled" and scheduler.queue_position(queued.id) is None
    scheduler.cancel(first.id)
    assert wait_for(lambda: first.status == "cancelled", 30)


def test_runs_of_gone_sessions_are_cancelled(runs_dir):
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, stale_after=0.5)
    try:
        run = s.submit("gone", TINY.replace(epochs=20, limit_train=4096))
        assert wait_for(lambda: run.status == "cancelled", 30)
        assert "session" in run.message
    finally:
        s.shutdown()


def test_failed_data_load_is_reported_not_raised(runs_dir):
    from simplecnn.data import DataUnavailableError

    def no_data(*_):
        raise DataUnavailableError("MNIST not found in /nowhere")

    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, data_loader=no_data)
    try:
        run = s.submit("x", TINY)
        assert wait_for(lambda: not run.active, 10)
        assert run.status == "failed" and "MNIST not found" in run.message
    finally:
        s.shutdown()


def test_prune_by_count_and_age(runs_dir):
    import os

    folders = [new_run_dir(runs_dir, label=f"r{i}") for i in range(5)]
    for i, f in enumerate(folders):
        os.utime(f, (time.time() - 1000 + i, time.time() - 1000 + i))
    old = folders[0]
    os.utime(old, (time.time() - 10 * 86400,) * 2)
    removed = prune_runs(runs_dir, keep=3, max_age_days=7)
    assert old in removed and len(removed) == 2
    assert sorted(p.name for p in runs_dir.iterdir()) == sorted(f.name for f in folders[2:])
