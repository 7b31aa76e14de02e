import threading
import time

import pytest

from simplecnn import recipe
from simplecnn.training.events import BatchEnd, RunEnded, RunStarted, RunStatus
from simplecnn.training.runs import list_runs, new_run_dir, prune_runs
from simplecnn.workshop.scheduler import AWAY_MESSAGE, SessionBusy, TrainingScheduler

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
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, away_after=3600)  # no page polls here
    yield s
    s.shutdown()


def test_fifo_queue_one_at_a_time_and_all_complete(scheduler, runs_dir, monkeypatch):
    from simplecnn.training import estimate as speed

    peak = []
    monkeypatch.setattr(speed, "known_speed", lambda config: None)
    monkeypatch.setattr(speed, "calibrate_in_background", lambda config: None)
    runs = [scheduler.submit(f"session-{i}", TINY) for i in range(4)]
    assert [scheduler.queue_position(r.id) for r in runs[1:]] == [1, 2, 3]
    assert scheduler.estimated_start(runs[3].id) is None  # no measured speed yet: no made-up ETA
    measured = speed.Speed("test", 1000.0, 5000.0, 0.5, time.time())  # as if this machine had been calibrated
    monkeypatch.setattr(speed, "known_speed", lambda config: measured)
    assert scheduler.estimated_start(runs[3].id) >= scheduler.estimated_start(runs[1].id) > 0

    def watch():
        while any(r.active for r in runs):
            peak.append(sum(r.status == RunStatus.RUNNING for r in runs))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert wait_for(lambda: not any(r.active for r in runs), 120)
    watcher.join()
    assert max(peak) == 1
    assert [r.status for r in runs] == [RunStatus.COMPLETED] * 4
    starts = [r.started for r in runs]
    assert starts == sorted(starts)  # first in, first out
    assert {r.checkpoint for r in runs} == {i.path for i in list_runs(runs_dir)}


def test_one_run_per_session_and_stop_a_queued_run(scheduler):
    first = scheduler.submit("a", TINY.replace(epochs=3, limit_train=2048))
    with pytest.raises(SessionBusy):
        scheduler.submit("a", TINY)
    queued = scheduler.submit("b", TINY)
    assert queued.status == RunStatus.QUEUED
    scheduler.cancel(queued.id)
    assert queued.status == RunStatus.CANCELLED and scheduler.queue_position(queued.id) is None
    scheduler.cancel(first.id)
    assert wait_for(lambda: first.status == RunStatus.CANCELLED, 30)


class FakeExecutor:
    """Yields `steps` reports `pause` seconds apart (or stops when cancelled): the scheduler's rules without
    training."""

    name = "fake"

    def __init__(self, steps=10, pause=0.1):
        self.steps, self.pause, self.probes = steps, pause, []

    def execute(self, config, cancel, out_path, probe=None):
        self.probes.append(probe)
        yield RunStarted("fake", False, 100, 10, self.steps, self.steps, 1)
        for step in range(1, self.steps + 1):
            if cancel.wait(self.pause):
                yield RunEnded(RunStatus.CANCELLED, "stopped by request", 0.0, 0, 0.0, None)
                return
            yield BatchEnd(1, step, self.steps, step, self.steps, 1.0, 0.5, 1e-3, step * self.pause)
        yield RunEnded(RunStatus.COMPLETED, "done", 0.9, 1, 1.0, None)


def test_a_training_run_is_not_cancelled_when_its_page_goes_away(runs_dir):
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, away_after=0.2, executor=FakeExecutor(20, 0.1))
    try:
        run = s.submit("left-for-a-while", TINY)  # never touched again while it trains (2 s > 10x away_after)
        assert wait_for(lambda: not run.active, 30)
        assert run.status == RunStatus.COMPLETED
    finally:
        s.shutdown()


def test_a_queued_run_whose_page_is_away_at_its_turn_is_skipped(runs_dir):
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, away_after=0.5, executor=FakeExecutor(10, 0.1))
    try:
        first = s.submit("a", TINY)
        away = s.submit("gone", TINY)  # never confirmed by its page
        here = s.submit("here", TINY)
        stop = threading.Event()

        def page():  # "here"'s page polls, as ui.session.keep_alive does
            while not stop.is_set():
                s.touch(here.id)
                time.sleep(0.1)

        poller = threading.Thread(target=page)
        poller.start()
        try:
            assert wait_for(lambda: not here.active, 30)
        finally:
            stop.set()
            poller.join()
        assert first.status == RunStatus.COMPLETED and here.status == RunStatus.COMPLETED
        assert away.status == RunStatus.CANCELLED and away.started is None and AWAY_MESSAGE in away.message
    finally:
        s.shutdown()


def test_host_sets_concurrency_and_pauses_new_starts(runs_dir):
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, executor=FakeExecutor(30, 0.1))
    try:
        s.set_paused(True)
        runs = [s.submit(f"p{i}", TINY) for i in range(3)]
        time.sleep(0.3)
        assert [r.status for r in runs] == [RunStatus.QUEUED] * 3
        s.set_paused(False)
        assert wait_for(lambda: runs[0].status == RunStatus.RUNNING, 5) and runs[1].status == RunStatus.QUEUED
        s.set_max_concurrent(3)
        assert wait_for(lambda: all(r.status == RunStatus.RUNNING for r in runs), 5)
        assert [r.id for r in s.runs()] == [r.id for r in runs]
    finally:
        s.shutdown()


def test_estimates_have_a_basis_or_are_none(runs_dir, monkeypatch):
    from simplecnn.training import estimate as speed

    asked: list = []
    monkeypatch.setattr(speed, "known_speed", lambda config: None)
    monkeypatch.setattr(speed, "calibrate_in_background", asked.append)
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, executor=FakeExecutor(5, 0.01))
    try:
        assert s.estimate_seconds(TINY) is None  # nothing measured yet: the UI says "measuring…"
        assert asked == [TINY]  # … while this machine's pace is measured in the background
        assert s.estimate_seconds(TINY.replace(budget=30.0)) == 30.0  # a time budget is exact by construction
        measured = speed.Speed("test", 1000.0, 4000.0, 0.5, time.time())
        monkeypatch.setattr(speed, "known_speed", lambda config: measured)
        expected = 256 / 1000.0 + 128 / 4000.0 + 0.5  # TINY: 256 training images, one epoch, 128 test images
        assert s.estimate_seconds(TINY) == pytest.approx(expected)
    finally:
        s.shutdown()


def test_the_probe_digit_reaches_training_and_is_scored_at_each_report(runs_dir, mnist):
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir)
    try:
        run = s.submit("watcher", TINY.replace(report_every=1), probe=mnist.test_x[:1])
        assert wait_for(lambda: not run.active, 120)
        assert run.status == RunStatus.COMPLETED
        curve = run.probe_curve()
        assert len(curve["x"]) >= 4 and all(len(p) == 10 and abs(sum(p) - 1) < 1e-3 for p in curve["p"])
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
        assert run.status == RunStatus.FAILED and "MNIST not found" in run.message
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
