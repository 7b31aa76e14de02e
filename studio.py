"""SimpleCNN Studio's router script: the pages, the sidebar run badge. Served by app.py's `st.App` (which warms the
server first); `streamlit run studio.py` serves it without the warm-up. All computing lives in `simplecnn`."""

from __future__ import annotations

import os

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. A server is a busy machine (script
# runs, polling sessions, training, maybe a browser on the same cores), and there spinning threads steal the cores
# their partners need: a 2-thread training step ran 3-5x faster with PASSIVE at load average ~15 (83-90 vs 16-30
# img/s, measured 2026-11-29). On an idle machine ACTIVE is 3-15% faster (754-864 vs 732-738 img/s), so the
# library and CLI leave the setting alone. A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Import pandas once, up front (app.py's warm-up already has, before the first visitor). Streamlit imports it
# lazily (st.dataframe; Draw's canvas component), and Plotly, validating a chart's data in another script thread,
# picks up a half-imported pandas from sys.modules: "partially initialized module 'pandas' has no attribute
# 'Series'" (seen in the browser tests). It costs 67 MB, but /draw loads it anyway.
import pandas  # noqa: F401
import streamlit as st

from simplecnn.train import RunStatus
from ui import charts, session

st.set_page_config(page_title="SimpleCNN Studio", page_icon="🔢", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:", url_path="evaluate"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
    st.Page("pages/inside.py", title="Inside", icon=":material/visibility:", url_path="inside"),
    st.Page("pages/board.py", title="Class board", icon=":material/leaderboard:", url_path="board"),
]
page = st.navigation(PAGES)

session.session_id()
charts.install_page_helpers()  # phones: swipes on charts scroll, taps select; canvas toolbar hidden


def _training_badge() -> None:
    """Sidebar status of this session's run; polling it keeps the run alive while other pages are open."""
    run = session.current_run()
    if run is None:
        return
    session.keep_alive(run)
    if run.active:
        where = run.status.label if run.status == RunStatus.QUEUED else f"{run.progress:.0%}"
        st.caption(f"Training: {where}")
        st.progress(run.progress)
    else:
        st.caption(f"Last training run: {run.status.label}")


if page.url_path != "train":  # the Train page shows (and polls) the run itself, every second
    with st.sidebar:
        run = session.current_run()
        # Other pages poll slowly, just to keep the run alive (unpolled runs are cancelled) and show progress.
        st.fragment(_training_badge, run_every=5 if run is not None and run.active else None)()

page.run()
