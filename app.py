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

import streamlit as st  # noqa: E402

from simplecnn.warmup import warm_up  # noqa: E402

log = logging.getLogger("simplecnn.app")


@asynccontextmanager
async def _warm(_app: Any) -> AsyncIterator[None]:
    seconds = await asyncio.to_thread(warm_up)
    log.info("server warmed up in %.1f s", seconds)
    yield


app = st.App("studio.py", lifespan=_warm)
