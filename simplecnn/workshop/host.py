"""The workshop host's sign-in: the password compared in constant time, wrong tries slowed down."""

from __future__ import annotations

import enum
import hmac
import threading
import time


class SignIn(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    WAIT = "wait"  # too many wrong tries: try again later


class HostGate:
    """Checks the host password with a delay that doubles after each wrong try (process-wide, so opening new
    sessions does not reset it): 1 s, 2 s, 4 s … up to `max_delay`."""

    def __init__(self, password: str, max_delay: float = 60.0, clock=time.monotonic) -> None:
        self._password = password
        self._max_delay, self._clock = max_delay, clock
        self._failures = 0
        self._next_try = 0.0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._password)

    def sign_in(self, attempt: str) -> SignIn:
        if not self.enabled:
            return SignIn.WRONG
        with self._lock:
            if self._clock() < self._next_try:
                return SignIn.WAIT
            if hmac.compare_digest(str(attempt).encode(), self._password.encode()):
                self._failures, self._next_try = 0, 0.0
                return SignIn.OK
            self._failures += 1
            self._next_try = self._clock() + min(self._max_delay, 2.0 ** (self._failures - 1))
            return SignIn.WRONG
