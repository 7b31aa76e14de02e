"""Per-visitor budgets: the host's sign-in delay belongs to the visitor who guessed; one browser (or address)
cannot fill the training queue; the host cancels all of a visitor's runs at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from simplecnn.training.config import RECIPES, TrainConfig
from simplecnn.training.events import Event
from simplecnn.visitors import Client
from simplecnn.workshop.host import ADDRESS_FREE_TRIES, HostGate, SignIn
from simplecnn.workshop.scheduler import CancelReason, ClientBusy, Quota, TrainingScheduler


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_wrong_password_loop_never_locks_out_the_host_in_another_browser():
    clock = Clock()
    gate = HostGate("s3cret", clock=clock)
    attacker, host = Client("attacker-browser"), Client("host-browser")
    for _ in range(50):  # an anonymous visitor tries again the moment each delay ends, for ~40 minutes
        assert gate.sign_in("guess", attacker) == SignIn.WRONG
        assert gate.sign_in("s3cret", attacker) == SignIn.WAIT  # their own delay holds even the right password
        assert gate.sign_in("s3cret", host) == SignIn.OK  # whenever the host tries, they get in
        clock.now += gate.wait_seconds(attacker)
    assert gate.wait_seconds(attacker) == 0 and gate.sign_in("guess", attacker) == SignIn.WRONG
    assert 59 <= gate.wait_seconds(attacker) <= 60  # capped at a minute


def test_an_address_that_guesses_often_waits_even_with_fresh_browsers():
    clock = Clock()
    gate = HostGate("s3cret", clock=clock)
    for i in range(ADDRESS_FREE_TRIES + 1):  # a script that drops its cookie before each try
        assert gate.sign_in("guess", Client(f"fresh-{i}", "203.0.113.9")) == SignIn.WRONG
    assert gate.sign_in("s3cret", Client("another-fresh", "203.0.113.9")) == SignIn.WAIT
    assert gate.sign_in("s3cret", Client("host", "198.51.100.1")) == SignIn.OK  # elsewhere: never slowed


class Idle:
    """An executor whose runs end at once (the queue is what these tests look at)."""

    name = "idle"

    def execute(
        self, config: TrainConfig, cancel: threading.Event, out_path: Path, probe: torch.Tensor | None = None
    ) -> Iterator[Event]:
        return iter(())


@pytest.fixture()
def paused(tmp_path):
    sched = TrainingScheduler(max_concurrent=1, runs_root=tmp_path, executor=Idle(), quota=Quota(2, 8))
    sched.set_paused(True)  # nothing starts: every submitted run stays queued
    yield sched
    sched.shutdown(1)


def _flood(sched: TrainingScheduler, clients: list[Client], who: str = "flood") -> tuple[int, int]:
    queued = refused = 0
    for i, client in enumerate(clients):
        try:
            sched.submit(f"{who}-{i}", RECIPES["quick"], client=client)  # each new session: a new participant
            queued += 1
        except ClientBusy:
            refused += 1
    return queued, refused


def test_twenty_sessions_of_one_browser_queue_at_most_its_cap(paused):
    assert _flood(paused, [Client("one-browser")] * 20) == (2, 18)
    real = paused.submit("real", RECIPES["quick"], client=Client("real-browser"))
    assert paused.queue_position(real.id) == 3


def test_twenty_cookieless_sessions_from_one_address_queue_at_most_its_cap(paused):
    clients = [Client(f"session-{i}", "203.0.113.9") for i in range(20)]
    assert _flood(paused, clients) == (8, 12)
    real = paused.submit("real", RECIPES["quick"], client=Client("real", "198.51.100.1"))
    assert paused.queue_position(real.id) == 9
    local = [Client(f"local-{i}") for i in range(5)]
    assert _flood(paused, local, "local") == (5, 0)  # no address known: capped per browser only


def test_the_host_cancels_all_of_a_visitors_runs_at_once(paused):
    flood = [paused.submit(f"s{i}", RECIPES["quick"], client=Client("one-browser")) for i in range(2)]
    other = paused.submit("other", RECIPES["quick"], client=Client("another"))
    assert {r.id for r in paused.related_runs(flood[1].id)} == {r.id for r in flood}
    assert paused.cancel_related(flood[0].id, CancelReason.HOST) == 2
    assert not any(r.active for r in flood) and other.active
    assert _flood(paused, [Client("one-browser")] * 3, "again") == (2, 1)  # cancelled runs no longer count
