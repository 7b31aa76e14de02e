"""Who the participant is (from the private token in the page's URL), the room, and the host's sign-in.

The token is the `p` query parameter: a reload, a reconnect, a new tab or the same link on a phone carry it,
so they find the same participant and so the same run. It is also kept in the session, so a page switch that
drops the query string puts it back. The room's logic lives in `simplecnn.workshop.room`; this module only connects
it to Streamlit.
"""

from __future__ import annotations

import random
import re

import streamlit as st

from simplecnn import settings
from simplecnn.settings import HOST_PASSWORD
from simplecnn.workshop.host import HostGate
from simplecnn.workshop.room import Participant, Room
from simplecnn.workshop.scheduler import TrainingScheduler
from ui import resources
from ui.i18n import t

TOKEN_PARAM = "p"
TOKEN_KEY = "participant_token"
HOST_KEY = "room_host_signed_in"
NEW_KEY = "participant_is_new"  # set when this session had to make a new participant


@st.cache_resource(show_spinner=False)
def room() -> Room:
    """The one room of this server process."""
    return Room()


@st.cache_resource(show_spinner=False)
def _adopting(room_id: int, scheduler_id: int, _room: Room, _scheduler: TrainingScheduler) -> bool:
    """Once per (room, scheduler): a run that ends with a checkpoint becomes its participant's model in use
    (Room.adopt_result), told by the scheduler from the worker thread, whether or not their page is open."""
    _scheduler.on_end(lambda run: _room.adopt_result(run.session, run.id, run.checkpoint))
    return True


def connect_results() -> None:
    the_room, scheduler = room(), resources.scheduler()
    _adopting(id(the_room), id(scheduler), the_room, scheduler)


def host_password() -> str:
    """SIMPLECNN_HOST_PASSWORD from the environment, else from st.secrets; '' when neither sets it."""
    value = settings.host_password()
    if value:
        return value
    try:
        return str(st.secrets.get(HOST_PASSWORD.name, "") or "")
    except Exception:  # noqa: BLE001 - no secrets.toml (or an unreadable one) means: no host password
        return ""


@st.cache_resource(show_spinner=False)
def _gate(password: str) -> HostGate:
    return HostGate(password)


def host_gate() -> HostGate:
    """The process-wide gate (wrong tries slow down the browser that made them, see simplecnn.workshop.host)."""
    return _gate(host_password())


def is_host() -> bool:
    return host_gate().enabled and bool(st.session_state.get(HOST_KEY))


def friendly_name(rng: random.Random | None = None) -> str:
    """A random default name in the visitor's language ('Curious Otter 42', '好奇的水獺 42')."""
    rng = rng or random.Random()
    adjective = rng.choice(re.split(r"[,\uff0c\u3001]\s*", t("common.names.adjectives")))
    animal = rng.choice(re.split(r"[,\uff0c\u3001]\s*", t("common.names.animals")))
    return t("common.names.pattern", adjective=adjective, animal=animal, number=rng.randint(10, 99))


def url_token() -> str | None:
    value = st.query_params.get(TOKEN_PARAM)
    return str(value) if value else None


def ensure() -> Participant:
    """This page's participant, made (with a random friendly name) if the page has none yet."""
    person = current(create=True)
    assert person is not None  # current(create=True) always finds or makes one
    return person


def current(create: bool = False) -> Participant | None:
    """The participant of this page: the URL's token first, then the session's; with `create`, a new
    participant (random friendly name) when neither finds one. Keeps the token in the URL."""
    connect_results()
    person = room().find(url_token()) or room().find(st.session_state.get(TOKEN_KEY))
    if person is None and create:
        st.session_state[NEW_KEY] = bool(url_token())  # a link this server does not know (e.g. it restarted)
        person = room().join(friendly_name())
    if person is not None:
        st.session_state[TOKEN_KEY] = person.token
        if url_token() != person.token:
            st.query_params[TOKEN_PARAM] = person.token
    return person
