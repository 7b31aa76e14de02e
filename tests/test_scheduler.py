import threading
import time

import pytest

from simplecnn import recipe
from simplecnn.training.events import BatchEnd, RunEnded, RunStarted, RunStatus
from simplecnn.training.runs import list_runs, new_run_dir, prune_runs
from simplecnn.workshop.scheduler import CancelReason, SessionBusy, TrainingScheduler

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
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir)  # no page polls here
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
    scheduler.cancel(queued.id)  # its owner leaves the queue
    assert queued.status == RunStatus.CANCELLED and scheduler.queue_position(queued.id) is None
    assert queued.cancel_reason == CancelReason.REQUESTED and queued.started is None
    assert wait_for(lambda: first.images > 0, 60)
    assert not first.stopping and not queued.stopping
    scheduler.cancel(first.id)  # Stop while it trains: it ends STOPPED and keeps what it learned
    assert first.stopping or first.status == RunStatus.STOPPED  # "Stopping…" until its weights are evaluated
    assert wait_for(lambda: first.status == RunStatus.STOPPED, 60)
    assert first.cancel_reason == CancelReason.REQUESTED and first.checkpoint is not None and first.images > 0


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
                yield RunEnded(RunStatus.STOPPED, "stopped", 0.0, 0, 0.0, None, images=step * 10)
                return
            yield BatchEnd(
                1,
                step,
                self.steps,
                step,
                self.steps,
                1.0,
                0.5,
                1e-3,
                step * self.pause,
                None,
                step * 10,
                step / self.steps,
            )
        yield RunEnded(RunStatus.COMPLETED, "done", 0.9, 1, 1.0, None, images=self.steps * 10)


def test_a_training_run_is_not_cancelled_when_its_page_goes_away(runs_dir):
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, executor=FakeExecutor(20, 0.02))
    try:
        run = s.submit("left-for-a-while", TINY)  # never touched again while it trains
        assert wait_for(lambda: not run.active, 30)
        assert run.status == RunStatus.COMPLETED and run.images == 200 and run.progress == 1.0
    finally:
        s.shutdown()


def test_a_queued_run_keeps_its_place_while_its_page_is_away_and_its_result_waits(runs_dir, monkeypatch):
    import simplecnn.workshop.scheduler as scheduler_module

    monkeypatch.setattr(scheduler_module, "REAP_EVERY_S", 0.1)  # the reaper looks often: no 5 s wait below
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, executor=FakeExecutor(10, 0.01))
    ended = []
    s.on_end(ended.append)
    try:
        first = s.submit("a", TINY)
        asleep = s.submit("phone-asleep", TINY)  # never polled: its page is closed all the while
        last = s.submit("here", TINY)
        assert wait_for(lambda: not last.active, 30)
        assert [r.status for r in (first, asleep, last)] == [RunStatus.COMPLETED] * 3
        assert first.started < asleep.started < last.started  # in its place, not skipped
        assert [r.id for r in ended] == [first.id, asleep.id, last.id]
        # Its result waits for its owner: not forgotten an hour later unseen, forgotten an hour after being seen.
        monkeypatch.setattr(scheduler_module, "UNSEEN_KEEP_S", 3600 * 24)
        for run in (first, asleep, last):
            run.finished, run.last_seen = time.time() - 7200, time.time() - 7300
        s.touch(first.id)
        first.last_seen = time.time() - 3700
        assert wait_for(lambda: s.get(first.id) is None, 10)
        assert s.get(asleep.id) is asleep and not asleep.seen_since_it_ended
    finally:
        s.shutdown()


def test_the_wait_before_start_is_the_place_and_the_time_of_the_runs_ahead(runs_dir):
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, executor=FakeExecutor(400, 0.05))
    quick = TINY.replace(budget=30.0)
    try:
        alone = s.wait_if_started(quick)
        assert (alone.position, alone.ahead, alone.start_in, alone.done_in) == (1, 0, 0.0, 30.0)
        running = s.submit("a", quick)
        assert wait_for(lambda: running.status == RunStatus.RUNNING, 5)
        s.submit("b", quick)
        wait = s.wait_if_started(quick)
        assert (wait.position, wait.ahead) == (2, 2)
        assert 50 < wait.start_in <= 60 and wait.done_in == pytest.approx(wait.start_in + 30.0)
    finally:
        s.shutdown()


def test_budget_estimates_learn_the_overrun_of_recent_runs(runs_dir):
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, executor=FakeExecutor(10, 0.05))
    try:
        run = s.submit("a", TINY.replace(budget=0.1))  # the fake takes ~0.5 s: 0.4 s beyond its budget
        assert wait_for(lambda: not run.active, 10)
        assert 0.3 < s.overrun() < 2.0
        assert s.estimate_seconds(TINY.replace(budget=30.0)) == pytest.approx(30.0 + s.overrun())
    finally:
        s.shutdown()


def test_the_host_removes_a_queued_run_and_stops_a_training_one(runs_dir):
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, executor=FakeExecutor(200, 0.05))
    try:
        training, queued = s.submit("a", TINY), s.submit("b", TINY)
        assert wait_for(lambda: training.status == RunStatus.RUNNING, 5)
        s.cancel(queued.id, CancelReason.HOST)
        s.cancel(training.id, CancelReason.HOST)
        assert wait_for(lambda: not training.active, 10)
        assert (training.status, training.cancel_reason) == (RunStatus.STOPPED, CancelReason.HOST)
        assert (queued.status, queued.cancel_reason) == (RunStatus.CANCELLED, CancelReason.HOST)
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
        assert s.estimate_seconds(TINY.replace(budget=30.0)) == 30.0  # a time budget, before any overrun is known
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
