"""A real `streamlit run app.py` server and headless Chromium for the end-to-end tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app

HOST_PASSWORD = "e2e-host-password"


@pytest.fixture(scope="session")
def host_password() -> str:
    """The session server's workshop host password (the host controls are on for every test)."""
    return HOST_PASSWORD


@pytest.fixture(scope="session")
def server(tmp_path_factory, host_password):
    """The app on a free loopback port (health-checked at /_stcore/health), shared by every browser test that needs
    no other settings, and stopped at the end of the session.

    Runs go to a temporary folder; Evaluate and the Inside view use the first 1,000 images to keep the tests fast.
    A test that changes the room's rules puts them back (tests/e2e/test_room.py).
    """
    logs = tmp_path_factory.mktemp("server")
    env = {
        "SIMPLECNN_RUNS": str(tmp_path_factory.mktemp("runs")),
        "SIMPLECNN_EVAL_LIMIT": "1000",
        "SIMPLECNN_HOST_PASSWORD": host_password,
    }
    with running_app(logs / "streamlit.log", env=env) as app:
        yield app.url
        assert not app.traceback(), "the server logged an exception:\n" + app.traceback()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not executable:
        pytest.fail(f"Chromium not found at {CHROMIUM}; install it (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
