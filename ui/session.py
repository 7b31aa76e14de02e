"""Who this page's participant is and which training run is theirs; keeping that run alive.

A run belongs to a participant (ui.participant: a private token in the URL), not to a browser session, so a
reload or a new tab finds it again. The keep-alive rule lives in the scheduler (a queued run is skipped if its
participant's page has not been seen when its turn comes); it is satisfied here, in `keep_alive()`, which every
page that shows a run calls; no page touches the scheduler's clock itself.
"""

from __future__ import annotations

import uuid

import streamlit as st

from simplecnn.workshop.room import Participant
from simplecnn.workshop.scheduler import Run
from ui import participant as participants
from ui import resources

SESSION_ID = "session_id"
RUN_ID = "train_run_id"


def participant(create: bool = False) -> Participant | None:
    """This page's participant (see ui.participant.current)."""
    return participants.current(create)


def session_id() -> str:
    """The id that owns runs: the participant's public id (a per-session id for a visitor who has not
    trained). Called by studio.py on every run, which also keeps the participant's token in the URL."""
    person = participant()
    if person is not None:
        return person.id
    if SESSION_ID not in st.session_state:
        st.session_state[SESSION_ID] = uuid.uuid4().hex
    return st.session_state[SESSION_ID]


def current_run() -> Run | None:
    """This participant's latest training run (queued, running or finished), or None."""
    person = participant()
    run_id = person.run_id if person is not None else st.session_state.get(RUN_ID)
    return resources.scheduler().get(run_id) if run_id else None


def set_current_run(run: Run) -> None:
    person = participant()
    if person is not None:
        person.run_id = run.id
    st.session_state[RUN_ID] = run.id


def keep_alive(run: Run | None) -> None:
    """Tell the scheduler the run's participant is still here (call on every poll of a page showing it)."""
    if run is not None and run.active:
        resources.scheduler().touch(run.id)
