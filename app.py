"""SimpleCNN Studio: `streamlit run app.py`.

The launcher: Streamlit's `st.App` serves ui/studio.py (the navigation over pages/) and, in its startup hook,
warms the server (simplecnn.workshop.warmup) before it answers, so the first visitor does not pay for importing
torch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from simplecnn import settings
from simplecnn.perf.malloc import limit_arenas

settings.server_process_defaults()  # before torch loads OpenMP
limit_arenas()  # before any thread starts

import streamlit as st  # noqa: E402

from simplecnn.workshop.warmup import warm_up  # noqa: E402

log = logging.getLogger("simplecnn.app")


@asynccontextmanager
async def _warm(_app: Any) -> AsyncIterator[None]:
    seconds = await asyncio.to_thread(warm_up)
    log.info("server warmed up in %.1f s", seconds)
    yield


app = st.App("ui/studio.py", lifespan=_warm)
