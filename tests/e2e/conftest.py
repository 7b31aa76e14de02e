"""A real `streamlit run app.py` server and headless Chromium for the end-to-end tests."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402  (shared with the load test)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The app on a free loopback port (health-checked at /_stcore/health), stopped at the end of the session.

    Runs go to a temporary folder; Evaluate uses the first 1,000 test images to keep the tests fast.
    """
    logs = tmp_path_factory.mktemp("server")
    env = {"SIMPLECNN_RUNS": str(tmp_path_factory.mktemp("runs")), "SIMPLECNN_EVAL_LIMIT": "1000"}
    with running_app(logs / "streamlit.log", env=env) as app:
        yield app.url
        log = app.log_tail(10_000_000)
        at = log.find("Traceback")
        assert at < 0, "the server logged an exception:\n" + log[max(0, at - 300) : at + 6000]


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
