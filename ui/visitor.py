"""Who this visitor is, as far as the server can tell, and their budgets (simplecnn.visitors does the counting).

The browser: Streamlit's XSRF cookie carries a random token per browser (the same in every tab and session of
that browser; a new one after the cookies are cleared), so its hash keys the browser; a client that sends no
cookie (a script) is keyed by its session. The address: `st.context.ip_address` (None on loopback; behind a
reverse proxy on the same machine, the X-Forwarded-For address, which uvicorn takes only from loopback peers).
"""

from __future__ import annotations

import hashlib
import re
import uuid

import streamlit as st

from simplecnn.visitors import Client, RateLimiter

XSRF_COOKIE = "_streamlit_xsrf"
SESSION_KEY = "visitor_session_key"
DRAWINGS_PER_SECOND, DRAWING_BURST = 4.0, 12  # a stroke is one drawing; nobody draws faster than this
UPLOADS_PER_MINUTE, UPLOAD_BURST = 6.0, 6
ADDRESS_FACTOR = 8  # an address (a classroom behind one router) gets this many browsers' budget


def client() -> Client:
    """This page's visitor."""
    browser = _browser_key(st.context.cookies.get(XSRF_COOKIE))
    if browser is None:
        browser = "session:" + st.session_state.setdefault(SESSION_KEY, uuid.uuid4().hex)
    address = st.context.ip_address
    return Client(browser, address if isinstance(address, str) and address else None)


def _browser_key(cookie: str | None) -> str | None:
    """A hash of the browser's token in the XSRF cookie ("2|mask|masked token|time": token = mask XOR masked,
    the mask changing at every page load)."""
    if not isinstance(cookie, str) or not cookie:  # none sent (a script; a test harness)
        return None
    parts = cookie.split("|")
    try:
        if len(parts) == 4 and parts[0] == "2":
            mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
            token = bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked)) if mask else masked
        else:
            token = cookie.encode()
    except ValueError:
        token = cookie.encode()
    return "xsrf:" + hashlib.sha256(token).hexdigest()[:24]


@st.cache_resource(show_spinner=False)
def _limiters() -> dict[str, RateLimiter]:
    return {
        "drawing": RateLimiter(DRAWINGS_PER_SECOND, DRAWING_BURST),
        "drawing_address": RateLimiter(DRAWINGS_PER_SECOND * ADDRESS_FACTOR, DRAWING_BURST * ADDRESS_FACTOR),
        "upload": RateLimiter(UPLOADS_PER_MINUTE / 60, UPLOAD_BURST),
        "upload_address": RateLimiter(UPLOADS_PER_MINUTE * ADDRESS_FACTOR / 60, UPLOAD_BURST * ADDRESS_FACTOR),
    }


def allow(kind: str) -> bool:
    """Whether this visitor may do one more `kind` ("drawing" or "upload") now; counts it when so."""
    limiters, who = _limiters(), client()
    if not limiters[kind].allow(who.browser):
        return False
    return who.address is None or limiters[f"{kind}_address"].allow(who.address)


def wait_seconds(kind: str) -> float:
    """How long until this visitor may do the next `kind`."""
    return _limiters()[kind].wait_seconds(client().browser)


_MARKDOWN_ACTIVE = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|:~$&=\"'])")


def literal(text: object) -> str:
    """Visitor-typed text (a file name, a query value) for a Markdown message: every punctuation character that
    Markdown or Streamlit's extensions (links, images, :colour[…], $math$, www. autolinks) act on is escaped, so
    it shows exactly as typed."""
    cleaned = "".join(c if c.isprintable() else " " for c in str(text))[:200]
    return _MARKDOWN_ACTIVE.sub(r"\\\1", cleaned)


def code_text(text: object, limit: int = 80) -> str:
    """Visitor-typed text for a Markdown code span (`…{name}…`): nothing inside one is interpreted but a
    backtick, which would end it, so backticks become a look-alike."""
    cleaned = "".join(c if c.isprintable() else " " for c in str(text))[:limit]
    return cleaned.replace("`", "\u02cb")
