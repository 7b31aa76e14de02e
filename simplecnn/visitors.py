"""Who a visitor is, as far as the server can tell, and how much each one may ask for.

A `Client` is a browser (a key from its cookie, else its session) and, when the server can tell, a network
address. Budgets are kept per key in bounded tables (the oldest keys are forgotten first), so a flood of new
keys costs a bounded amount of memory. Nothing here knows about Streamlit; ui/ builds the Client.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000  # per table: a few hundred bytes each


@dataclass(frozen=True)
class Client:
    """`browser`: a stable key for one browser (or one session when the browser sent no cookie);
    `address`: the network address, None when the server cannot tell (loopback without a proxy header)."""

    browser: str
    address: str | None = None

    def keys(self) -> tuple[str, ...]:
        return (f"browser:{self.browser}",) + ((f"address:{self.address}",) if self.address else ())


LOCAL = Client("local")  # the CLI, tests and anything else that is not a visitor


class _Table:
    """key -> state, the least recently touched keys forgotten beyond `max_keys`."""

    def __init__(self, make: Callable[[], list[float]], max_keys: int = MAX_KEYS) -> None:
        self._make, self._max = make, max_keys
        self._rows: OrderedDict[str, list[float]] = OrderedDict()

    def row(self, key: str) -> list[float]:
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = self._make()
            while len(self._rows) > self._max:
                self._rows.popitem(last=False)
        else:
            self._rows.move_to_end(key)
        return row

    def drop(self, key: str) -> None:
        self._rows.pop(key, None)

    def __len__(self) -> int:
        return len(self._rows)


class RateLimiter:
    """A token bucket per key: `rate` actions per second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = float(rate), float(burst), clock
        self._table = _Table(lambda: [self.burst, self._clock()])
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Take one token for `key`; False (and nothing taken) when its bucket is empty."""
        with self._lock:
            row = self._refill(key)
            if row[0] < 1.0:
                return False
            row[0] -= 1.0
            return True

    def wait_seconds(self, key: str) -> float:
        with self._lock:
            tokens = self._refill(key)[0]
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _refill(self, key: str) -> list[float]:
        row, now = self._table.row(key), self._clock()
        row[0], row[1] = min(self.burst, row[0] + (now - row[1]) * self.rate), now
        return row


class Backoff:
    """Failures per key make that key wait: after `free` failures, `base` seconds doubling per failure up to
    `max_delay`. A success clears the key. Other keys are never slowed by this one."""

    def __init__(
        self, base: float = 1.0, max_delay: float = 60.0, free: int = 0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.base, self.max_delay, self.free, self._clock = base, max_delay, free, clock
        self._table = _Table(lambda: [0.0, 0.0])  # failures, next allowed time
        self._lock = threading.Lock()

    def wait_seconds(self, key: str) -> float:
        with self._lock:
            return max(0.0, self._table.row(key)[1] - self._clock())

    def fail(self, key: str) -> float:
        """Record a failure; returns the seconds `key` must now wait."""
        with self._lock:
            row = self._table.row(key)
            row[0] += 1
            over = int(row[0]) - self.free
            delay = 0.0 if over <= 0 else min(self.max_delay, self.base * 2.0 ** (over - 1))
            row[1] = self._clock() + delay
            return delay

    def succeed(self, key: str) -> None:
        with self._lock:
            self._table.drop(key)


def wait_text_seconds(seconds: float) -> int:
    """Seconds to tell a person (rounded up, at least 1)."""
    return max(1, math.ceil(seconds))
