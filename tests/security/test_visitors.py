"""Per-visitor budgets: each key is slowed or refused on its own; the tables stay bounded."""

from __future__ import annotations

from simplecnn.visitors import Backoff, Client, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_the_rate_per_key():
    clock = Clock()
    limit = RateLimiter(rate=1.0, burst=3, clock=clock)
    assert [limit.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("b")  # another key has its own bucket
    clock.now += 1.0
    assert limit.allow("a") and not limit.allow("a")


def test_backoff_doubles_per_failure_for_that_key_only():
    clock = Clock()
    backoff = Backoff(base=1.0, max_delay=8.0, clock=clock)
    assert [backoff.fail("attacker") for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff.wait_seconds("attacker") == 8.0
    assert backoff.wait_seconds("host") == 0.0
    backoff.succeed("attacker")
    assert backoff.wait_seconds("attacker") == 0.0


def test_backoff_can_allow_some_free_failures():
    backoff = Backoff(base=1.0, free=2, clock=Clock())
    assert [backoff.fail("k") for _ in range(4)] == [0.0, 0.0, 1.0, 2.0]


def test_tables_forget_the_oldest_keys_beyond_their_size():
    limit = RateLimiter(rate=1.0, burst=1, clock=Clock())
    limit._table._max = 100
    for i in range(1000):
        limit.allow(f"k{i}")
    assert len(limit._table) == 100


def test_client_keys_name_the_browser_and_the_address_when_known():
    assert Client("b1").keys() == ("browser:b1",)
    assert Client("b1", "10.0.0.7").keys() == ("browser:b1", "address:10.0.0.7")
