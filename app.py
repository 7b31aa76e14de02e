"""SimpleCNN Studio: `streamlit run app.py`.

This file is the launcher: Streamlit's `st.App` serves `studio.py` (the router over `pages/`) and, in its startup
hook, warms the server (simplecnn.warmup) before it answers, so the first visitor does not pay for importing torch.
`streamlit run studio.py` also works (no warm-up).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

# Before torch loads OpenMP (the warm-up imports it): see studio.py for why the server uses PASSIVE.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each new thread its own malloc arena (up to 8 per core), and each keeps the memory its thread
    freed. A server runs a script thread per page visit and a thread per training run: measured on this 2-core box,
    2 arenas (like MALLOC_ARENA_MAX=2) held the server at 656 instead of 671 MB after every page and 860 instead of
    884-895 MB at the peak of a Quick run. Best effort: a libc without mallopt (musl, macOS) keeps its defaults."""
    if "MALLOC_ARENA_MAX" in os.environ:  # the operator's choice wins (glibc read it at start)
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8 = M_ARENA_MAX in glibc's malloc.h
    except (OSError, AttributeError):
        pass


_limit_malloc_arenas()  # before any thread starts

import streamlit as st  # noqa: E402

from simplecnn.warmup import warm_up  # noqa: E402

log = logging.getLogger("simplecnn.app")


@asynccontextmanager
async def _warm(_app: Any) -> AsyncIterator[None]:
    seconds = await asyncio.to_thread(warm_up)
    log.info("server warmed up in %.1f s", seconds)
    yield


app = st.App("studio.py", lifespan=_warm)
