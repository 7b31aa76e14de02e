"""SimpleCNN Studio's main script: the navigation over pages/, the sidebar run badge. Served by app.py's `st.App`,
which warms the server first. All computing lives in `simplecnn`.

It sits in ui/, not beside pages/: Streamlit treats a `pages/` folder next to the main script as the old
pages-folder mode, and here st.navigation owns the routing."""

from __future__ import annotations

from simplecnn import settings

settings.server_process_defaults()  # before torch loads OpenMP (AppTest and tools run this script without app.py)

# Import pandas once, up front (app.py's warm-up already has, before the first visitor). Streamlit imports it
# lazily (st.dataframe; Draw's canvas component), and Plotly, validating a chart's data in another script thread,
# picks up a half-imported pandas from sys.modules: "partially initialized module 'pandas' has no attribute
# 'Series'" (seen in the browser tests). It costs memory (docs/performance.md), but /draw loads it anyway.
import pandas  # noqa: E402, F401
import streamlit as st  # noqa: E402

from simplecnn.training.events import RunStatus  # noqa: E402
from ui import charts, i18n, nav, session  # noqa: E402
from ui import participant as participants  # noqa: E402
from ui.i18n import t  # noqa: E402

st.set_page_config(page_title="SimpleCNN Studio", page_icon="🔢", layout="wide")

# The language first (docs/i18n.md): the navigation's titles are already in it.
person = session.participant()
i18n.setup(person.language if person is not None else None, participants.room().language)
page = nav.navigation()

session.session_id()
charts.install_page_helpers()  # phones: swipes on charts scroll, taps select; canvas toolbar hidden


def _remember_language(lang: str) -> None:
    """The participant keeps the choice: a reload, or their phone with the same link, finds it."""
    person = session.participant()
    if person is not None:
        person.language = lang


def _training_badge() -> None:
    """Sidebar status of this session's run; polling it keeps the run alive while other pages are open."""
    run = session.current_run()
    if run is None:
        return
    session.keep_alive(run)
    if run.active:
        where = i18n.status_text(run.status) if run.status == RunStatus.QUEUED else f"{run.progress:.0%}"
        st.caption(t("common.badge.training", where=where))
        st.progress(run.progress)
    else:
        st.caption(t("common.badge.last", status=i18n.status_text(run.status)))


with st.sidebar:
    i18n.language_switch(on_choose=_remember_language)
    if page.url_path != "train":  # the Train page shows (and polls) the run itself, every second
        run = session.current_run()
        # Other pages poll slowly, just to keep the run alive (unpolled runs are cancelled) and show progress.
        st.fragment(_training_badge, run_every=5 if run is not None and run.active else None)()

page.run()
