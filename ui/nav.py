"""The app's pages, in one place: ui/studio.py hands them to st.navigation, pages link to them by name."""

from __future__ import annotations

import streamlit as st

from simplecnn import settings
from ui.i18n import t

PAGES_DIR = settings.ROOT / "pages"
# name -> (file in pages/, icon, URL path); the first one is the home page. Titles: common.nav.<name>.
PAGE_SPECS = {
    "home": ("home.py", ":material/home:", ""),
    "train": ("train.py", ":material/model_training:", "train"),
    "evaluate": ("evaluate.py", ":material/analytics:", "evaluate"),
    "draw": ("draw.py", ":material/draw:", "draw"),
    "my_drawings": ("my_drawings.py", ":material/photo_library:", "my_drawings"),
    "inside": ("inside.py", ":material/visibility:", "inside"),
    "board": ("board.py", ":material/leaderboard:", "board"),
    "lessons": ("lessons.py", ":material/school:", "lessons"),
}


def pages() -> dict[str, st.Page]:
    """The st.Page objects, built for this script run (titles may depend on the visitor's settings)."""
    built = {}
    for name, (file, icon, url) in PAGE_SPECS.items():
        kwargs = {"default": True} if not url else {"url_path": url}
        built[name] = st.Page(PAGES_DIR / file, title=t(f"common.nav.{name}"), icon=icon, **kwargs)
    return built


def page(name: str) -> st.Page:
    """A page to link to (st.page_link / st.switch_page); Streamlit matches it to the navigation's by its file."""
    return pages()[name]


def navigation() -> st.Page:
    """Register the pages with st.navigation and return the one this run shows."""
    return st.navigation(list(pages().values()))
