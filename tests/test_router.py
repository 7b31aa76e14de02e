"""ui/router.py pokes a private Streamlit attribute; these tests fail loudly on a Streamlit where that changed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st

from ui import router

ROOT = Path(__file__).resolve().parent.parent


def test_installed_streamlit_is_a_verified_version():
    assert router.is_verified(), (
        f"Streamlit {st.__version__} is not in ui/router.VERIFIED_STREAMLIT {sorted(router.VERIFIED_STREAMLIT)}: "
        "check in a real browser that a fresh server whose first visit is /draw shows the app's four pages "
        "(tests/e2e/test_e2e.py::test_every_page_loads_without_exception[/draw-Draw]), then add the version."
    )


def test_pages_manager_still_has_the_private_attribute():
    from streamlit.runtime.pages_manager import PagesManager

    assert hasattr(PagesManager, "uses_pages_directory"), (
        "streamlit.runtime.pages_manager.PagesManager.uses_pages_directory is gone: ui/router.ensure_app_router "
        "no longer does anything; find the new way to leave the pages-folder mode."
    )


def test_ensure_app_router_leaves_pages_folder_mode_and_reruns(monkeypatch):
    from streamlit.runtime.pages_manager import PagesManager

    class Rerun(Exception):
        pass

    def rerun() -> None:
        raise Rerun

    monkeypatch.setattr(st, "rerun", rerun)
    monkeypatch.setattr(PagesManager, "uses_pages_directory", True, raising=False)
    with pytest.raises(Rerun):
        router.ensure_app_router()
    assert PagesManager.uses_pages_directory is False
    router.ensure_app_router()  # already in st.navigation mode: nothing to do, no rerun


def test_only_the_router_touches_streamlit_runtime():
    ui_files = [ROOT / "app.py", ROOT / "studio.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]
    offenders = [
        str(p.relative_to(ROOT))
        for p in ui_files
        if p.name != "router.py" and re.search(r"streamlit\.runtime|from streamlit import runtime", p.read_text())
    ]
    assert not offenders, f"streamlit.runtime internals used outside ui/router.py: {offenders}"
