"""End-to-end (issue 28), in real Chromium: label a drawing on Draw, fine-tune on my drawings with a small budget
and see the before/after (AC2); a second browser context opens the run's shared link read-only, and the link
dies when the owner deletes the run (AC4)."""

from __future__ import annotations

import os
import sqlite3
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from simplecnn.personal.store import DrawingStore
from tests.support.browser import EXCEPTION, MAIN, PHONE, draw, open_page, wait_idle

pytestmark = pytest.mark.e2e


def _more_drawings(path: str, n: int = 20) -> None:
    """Labelled drawings beside the one labelled in the browser, for the same participant (stored as the page
    would: the browser part is the tap, not drawing twenty digits)."""
    with sqlite3.connect(path) as db:
        (person,) = db.execute("SELECT DISTINCT participant FROM drawings").fetchone()
    rng = np.random.default_rng(7)
    store = DrawingStore(path)
    for i in range(n):
        pixels = np.zeros((28, 28), np.uint8)
        pixels[4:24, 12 + i % 4 : 16 + i % 4] = 200 + rng.integers(0, 55)  # a 1, written a bit differently
        store.add(person, "room", 1, pixels)
    store.close()


def test_label_fine_tune_before_after_and_a_shared_link_that_dies(server, browser):
    owner = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    owner.set_default_timeout(30_000)
    open_page(owner, server + "/draw", "Draw")
    draw(owner, 7)
    time.sleep(0.8)  # the canvas sends the last stroke a moment after mouse-up
    wait_idle(owner)
    tap = owner.locator(".st-key-personal_label_7 button").first
    expect(tap).to_be_visible(timeout=30_000)
    tap.click()
    expect(owner.get_by_text("Kept as a 7")).to_be_visible(timeout=30_000)  # confirmed only once committed
    _more_drawings(os.environ["SIMPLECNN_DRAWINGS"])

    owner.get_by_role("link", name="My drawings").first.click()
    expect(owner.get_by_role("heading", name="My drawings", level=1)).to_be_visible(timeout=30_000)
    wait_idle(owner)
    owner.locator(".st-key-personal_ft_budget").get_by_text("15 s").click()
    wait_idle(owner)
    owner.get_by_role("button", name="Fine-tune on my drawings").click()
    result = owner.locator('[data-testid="stMetric"]').filter(has_text="Your held-out drawings")
    expect(result).to_be_visible(timeout=180_000)
    expect(owner.locator('[data-testid="stMetric"]').filter(has_text="MNIST test images")).to_be_visible()
    expect(result.locator('[data-testid="stMetricValue"]')).to_contain_text("→")
    assert owner.locator(EXCEPTION).count() == 0

    link = owner.locator('[data-testid="stCode"]').first.inner_text().strip()
    assert "/board?run=" in link and "p=" not in link  # never the owner's private token
    viewer = browser.new_context(**PHONE).new_page()
    viewer.set_default_timeout(30_000)
    open_page(viewer, link, "A shared training run")
    expect(viewer.get_by_text("Best test accuracy")).to_be_visible()
    main = viewer.locator(MAIN)
    expect(main.get_by_role("button", name="Try this model on Draw")).to_be_visible(timeout=30_000)
    expect(main.locator('[data-testid="stButton"]')).to_have_count(1)  # only "Try this model on Draw"

    owner.get_by_role("button", name="Delete this run").first.click()
    expect(owner.get_by_text("its link no longer works")).to_be_visible(timeout=30_000)
    time.sleep(0.5)
    open_page(viewer, link, "A shared training run")
    expect(viewer.get_by_text("This link no longer works")).to_be_visible()
    viewer.context.close()
    owner.context.close()
