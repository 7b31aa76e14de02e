"""The workshop host's sign-in: the password compared in constant time, wrong tries slowed down per visitor.

The delay belongs to the visitor who typed the wrong password (their browser; their network address only after
many wrong tries from it), never to everyone: an anonymous visitor guessing in a loop slows only themself,
and the true host, signing in from another browser, is never refused because of them.
"""

from __future__ import annotations

import enum
import hmac
import time
from collections.abc import Callable

from simplecnn.visitors import Backoff, Client

UNKNOWN = Client("unknown")  # a caller that cannot say who is signing in shares one delay with all such callers

ADDRESS_FREE_TRIES = 20  # wrong tries from one network address before the address itself is slowed down


class SignIn(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    WAIT = "wait"  # too many wrong tries from this visitor: try again later


class HostGate:
    """Checks the host password. Each wrong try makes its browser wait 1 s, 2 s, 4 s … up to `max_delay`; a
    network address that sent ADDRESS_FREE_TRIES wrong tries waits too (a script that drops its cookies)."""

    def __init__(self, password: str, max_delay: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._password = password
        self._browsers = Backoff(max_delay=max_delay, clock=clock)
        self._addresses = Backoff(max_delay=max_delay, free=ADDRESS_FREE_TRIES, clock=clock)

    @property
    def enabled(self) -> bool:
        return bool(self._password)

    def wait_seconds(self, client: Client = UNKNOWN) -> float:
        """How long this visitor must wait before their next try (0: they may try now)."""
        waits = [self._browsers.wait_seconds(client.browser)]
        if client.address:
            waits.append(self._addresses.wait_seconds(client.address))
        return max(waits)

    def sign_in(self, attempt: str, client: Client = UNKNOWN) -> SignIn:
        if not self.enabled:
            return SignIn.WRONG
        if self.wait_seconds(client) > 0:
            return SignIn.WAIT
        if hmac.compare_digest(str(attempt).encode(), self._password.encode()):
            self._browsers.succeed(client.browser)
            return SignIn.OK
        self._browsers.fail(client.browser)
        if client.address:
            self._addresses.fail(client.address)
        return SignIn.WRONG
