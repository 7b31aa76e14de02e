"""Who this browser session is and which training run is theirs; keeping that run alive.

The keep-alive rule (the scheduler cancels a run nobody has polled for a while) is satisfied here, in
`keep_alive()`, which every page that shows a run calls; no page touches the scheduler's clock itself.
"""
from __future__ import annotations

import uuid
from typing import Optional

import streamlit as st

from simplecnn.scheduler import Run
from ui import resources

SESSION_ID = "session_id"
RUN_ID = "train_run_id"


def session_id() -> str:
    if SESSION_ID not in st.session_state:
        st.session_state[SESSION_ID] = uuid.uuid4().hex
    return st.session_state[SESSION_ID]


def current_run() -> Optional[Run]:
    """This session's training run (queued, running or finished), or None."""
    run_id = st.session_state.get(RUN_ID)
    return resources.scheduler().get(run_id) if run_id else None


def set_current_run(run: Run) -> None:
    st.session_state[RUN_ID] = run.id


def keep_alive(run: Optional[Run]) -> None:
    """Tell the scheduler this session still watches its run (call on every poll of a page showing it)."""
    if run is not None and run.active:
        resources.scheduler().touch(run.id)
