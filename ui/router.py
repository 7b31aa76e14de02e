"""The one place that touches Streamlit's private runtime: make every page run under studio.py's st.navigation.

Streamlit quirk (verified on 1.67): while a `pages/` folder exists, the first script run of a server process uses
the old pages-folder mode until some run calls st.navigation. If that first visit is to /draw, Streamlit runs
pages/draw.py on its own (no studio.py, the folder's sidebar "app draw evaluate home train") and stays in that mode.
We keep the design's `pages/` folder; leaving that mode and rerunning makes the run go through studio.py, which
routes back to the same URL path. tests/test_router.py fails loudly on a Streamlit where this changes.
"""

from __future__ import annotations

import streamlit as st

# Streamlit versions (major, minor) on which the workaround below was verified in a real browser.
VERIFIED_STREAMLIT = {(1, 67)}


def streamlit_version() -> tuple[int, int]:
    major, minor = (int(part) for part in st.__version__.split(".")[:2])
    return major, minor


def is_verified() -> bool:
    """Whether the installed Streamlit is one the workaround was checked on (tests/test_router.py asserts it)."""
    return streamlit_version() in VERIFIED_STREAMLIT


def ensure_app_router() -> None:
    """Call first in every page (no-op once studio.py's st.navigation owns routing)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager  # private: this module is its only user
    except ImportError:  # moved in a newer Streamlit: the pages still run; tests/test_router.py fails loudly
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
