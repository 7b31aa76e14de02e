"""Issue 14, acceptance 1: with a Ray head running as its own process and SIMPLECNN_RAY_ADDRESS set in the app's
environment, the app trains a small run on Ray in real Chromium: live curve, progress, "Done", the run's info
names the Ray node, and the checkpoint (whose bytes came back from the worker) loads on Evaluate.

Needs a loopback-only network namespace, like tests/test_ray.py (whose session head it shares):
    unshare -n bash -c 'ip link set lo up; python3 -m pytest tests/e2e/test_ray_e2e.py'
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.support.app_server import running_app
from tests.support.browser import EXCEPTION, MAIN, open_page, open_settings_for, progress, set_number

pytestmark = [pytest.mark.e2e, pytest.mark.ray]


@pytest.fixture(scope="module")
def ray_server(ray_address, tmp_path_factory):
    """The app with SIMPLECNN_RAY_ADDRESS set: its own server, on the session's Ray head."""
    logs = tmp_path_factory.mktemp("ray-server")
    env = {
        "SIMPLECNN_RAY_ADDRESS": ray_address,
        "SIMPLECNN_RUNS": str(tmp_path_factory.mktemp("runs")),
        "SIMPLECNN_EVAL_LIMIT": "1000",
    }
    with running_app(logs / "streamlit.log", env=env) as app:
        yield app.url
        log = app.log_tail(10_000_000)
        assert not app.traceback(), "the server logged an exception:\n" + app.traceback()
    assert "connected to the Ray cluster at " + ray_address in log


def test_app_trains_on_ray_and_evaluates_the_checkpoint(ray_server, page):
    open_page(page, ray_server + "/train", "Train")
    open_settings_for(page, "Tutorial (15 epochs)")  # not the default Quick: a 30 s time budget
    set_number(page, "Training images (0 = all 60,000)", 2000)
    set_number(page, "Test images (0 = all 10,000)", 500)
    set_number(page, "Epochs", 2)
    page.get_by_role("button", name="Start training").click()

    main = page.locator(MAIN)
    expect(main.get_by_text("Ray node 127.0.0.1", exact=False).first).to_be_visible(timeout=120_000)
    expect(main.locator('[data-testid="stProgress"]').first).to_be_visible(timeout=60_000)
    curve = main.locator('[data-testid="stPlotlyChart"] .scatterlayer .trace path.js-line')
    expect(curve.first).to_be_attached(timeout=60_000)
    deadline = time.time() + 120
    while progress(page) == 0 and time.time() < deadline:  # batches reported while the run is on the cluster
        time.sleep(0.3)
    assert progress(page) > 0, "no live progress was shown"
    expect(main.get_by_text("Done —")).to_be_visible(timeout=240_000)
    assert page.locator(EXCEPTION).count() == 0

    # A finished run is its participant's model at once (ui.models), on every page and tab with the link.
    expect(main.get_by_text("This is now your model on Draw and Evaluate", exact=False)).to_be_visible(timeout=30_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Evaluate", exact=True).click()
    expect(page.get_by_role("heading", name="Evaluate", level=1)).to_be_visible(timeout=30_000)
    source = page.get_by_role("combobox", name="Model")
    expect(source).to_have_value(re.compile("Yours"), timeout=30_000)
    expect(page.get_by_text("Test accuracy", exact=True)).to_be_visible(timeout=60_000)  # it loaded and scored
    expect(main.get_by_text("Cannot use")).to_have_count(0)
    assert page.locator(EXCEPTION).count() == 0
