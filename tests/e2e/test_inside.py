"""End-to-end: /inside?test=N in headless Chromium renders its pictures, one step at a time, and fits a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import EXCEPTION, draw, wait_idle

pytestmark = pytest.mark.e2e

IMAGES = '[data-testid="stMain"] [data-testid="stImage"] img'


def loaded_images(page: Page) -> int:
    """Images the browser has actually decoded (a broken or pending src has naturalWidth 0)."""
    return page.eval_on_selector_all(IMAGES, "els => els.filter(e => e.complete && e.naturalWidth > 0).length")


def open_inside(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Inside", level=1)).to_be_visible(timeout=60_000)
    wait_idle(page, 120)


def step(page: Page, name: str) -> None:
    page.get_by_text(name, exact=True).click()
    wait_idle(page, 180)


def test_inside_of_a_test_image_renders_its_pictures_one_step_at_a_time(server, page):
    open_inside(page, server + "/inside?test=3")
    expect(page.get_by_text("Test image 3: true digit 0")).to_be_visible()
    # Opened from a test image: the decision (attribution overlay, logits and probabilities).
    expect(page.get_by_text("Which pixels made it a 0", exact=False)).to_be_visible(timeout=30_000)
    page.wait_for_function(f"document.querySelectorAll('{IMAGES}').length >= 2", timeout=30_000)
    # The feature maps: one picture per tab, all four conv stages included.
    step(page, "3 Feature maps")
    for stage in ("conv1", "conv2", "conv3", "conv4"):
        expect(page.get_by_role("tab", name=stage, exact=True)).to_be_attached()
    page.get_by_role("tab", name="conv4", exact=True).click()
    expect(page.get_by_text("conv4: 64 channels at 14×14")).to_be_visible()
    before = loaded_images(page)
    assert before >= 2  # hidden tabs' pictures load lazily; the visible ones must have decoded

    # Heavy steps compute only once chosen: the 5 nearest training digits and the map appear.
    step(page, "4 Why")
    expect(page.get_by_text("The 5 training digits nearest")).to_be_visible(timeout=180_000)
    wait_idle(page, 180)
    expect(page.get_by_text("the cross is your digit", exact=False)).to_be_visible()
    step(page, "6 Nudge")
    expect(page.get_by_text("nudged →", exact=False)).to_be_visible(timeout=60_000)
    wait_idle(page, 120)
    assert page.locator(EXCEPTION).count() == 0


def test_inside_fits_a_phone(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        open_inside(page, server + "/inside?test=0")
        page.wait_for_function(f"document.querySelectorAll('{IMAGES}').length >= 2", timeout=30_000)
        width = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollWidth")
        assert width <= 392, f"the page is {width} px wide on a 390 px phone"
        assert page.locator(EXCEPTION).count() == 0
    finally:
        context.close()


def test_drawing_a_7_shows_its_inside_view(server, page):
    """Issue 15 AC1: a 7 drawn on /draw gets, under its answer, the preprocessing steps (step 1), the attribution
    map (step 2) and the feature maps of all four conv stages (step 3), as rendered pictures, with no exception."""
    page.goto(server + "/draw")
    expect(page.get_by_role("heading", name="Draw", level=1)).to_be_visible(timeout=60_000)
    wait_idle(page, 120)
    draw(page, 7)
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
    value = metric.locator('[data-testid="stMetricValue"]')
    expect(value).to_have_text("7", timeout=60_000)
    expect(page.get_by_text("Inside the network")).to_be_visible(timeout=60_000)
    for caption in ("your ink", "cropped", "longer side 20 px", "ours → reads 7", "plain resize →"):
        expect(page.get_by_text(caption, exact=False).first).to_be_attached()
    wait_idle(page, 120)
    page.wait_for_function(f"document.querySelectorAll('{IMAGES}').length >= 6", timeout=30_000)
    assert loaded_images(page) >= 6  # the answer's 28×28 view and the five preprocessing pictures
    step(page, "2 Decision")
    expect(page.get_by_text("Which pixels made it a 7", exact=False)).to_be_attached()
    step(page, "3 Feature maps")
    for stage in ("conv1", "conv2", "conv3", "conv4"):
        expect(page.get_by_role("tab", name=stage, exact=True)).to_be_attached()
    assert page.locator(EXCEPTION).count() == 0
