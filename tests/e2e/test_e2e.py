"""End-to-end: the real app in headless Chromium (mouse strokes on the canvas, live training, Stop)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import (
    EXCEPTION,
    MAIN,
    draw,
    open_page,
    open_settings_for,
    press_stop,
    progress,
    set_number,
    wait_idle,
)

pytestmark = pytest.mark.e2e


# /draw first: the server's very first request must also go through ui/studio.py's st.navigation,
# with the four pages in the sidebar.
@pytest.mark.parametrize(
    "path,title", [("/draw", "Draw"), ("/", "SimpleCNN Studio"), ("/train", "Train"), ("/evaluate", "Evaluate")]
)
def test_every_page_loads_without_exception(server, page, path, title):
    open_page(page, server + path, title)
    nav = page.locator('[data-testid="stSidebarNav"] a')
    expect(nav).to_have_count(8, timeout=20_000)
    expect(nav).to_contain_text(
        ["Home", "Train", "Evaluate", "Draw", "My drawings", "Inside", "Class board", "Lessons"]
    )
    assert page.url.split("?")[0].rstrip("/") == (server + path).rstrip("/")  # /train adds ?p=<participant>
    assert page.locator(EXCEPTION).count() == 0
    if path == "/":
        expect(page.get_by_text("467,818")).to_be_visible()
        # 25 MNIST samples are drawn as one Plotly image.
        expect(page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first).to_be_visible(timeout=30_000)


def test_evaluate_draws_the_confusion_matrix_and_cells_are_clickable(server, page):
    open_page(page, server + "/evaluate", "Evaluate")
    heatmap = page.locator('[data-testid="stPlotlyChart"]').filter(has=page.locator(".heatmaplayer")).first
    expect(heatmap.locator(".heatmaplayer image, .heatmaplayer .hm").first).to_be_attached(timeout=30_000)
    expect(page.get_by_text("Test accuracy", exact=True)).to_be_visible()
    cell_images = page.locator('.st-key-eval_cell_images [data-testid="stImage"] img')
    expect(cell_images.first).to_be_visible()  # the default cell (the most frequent mistake), beside the matrix
    heatmap_box, image_box = heatmap.bounding_box(), cell_images.first.bounding_box()
    assert image_box["x"] > heatmap_box["x"] + heatmap_box["width"] / 2, "desktop: images next to the matrix"
    assert image_box["y"] < heatmap_box["y"] + heatmap_box["height"]
    assert image_box["width"] >= 70
    assert page.locator(EXCEPTION).count() == 0
    # Click the cell "true 3, predicted 5": the images behind it are listed.
    heatmap.scroll_into_view_if_needed()
    box = heatmap.locator(".heatmaplayer text").nth(3 * 10 + 5).bounding_box()  # the count in cell (3, 5)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 20, y)
    page.mouse.move(x, y, steps=5)
    expect(heatmap.locator(".hoverlayer")).to_contain_text("true 3, predicted 5", timeout=10_000)
    page.mouse.click(x, y)
    expect(page.get_by_text("of a 3 predicted as 5")).to_be_visible(timeout=20_000)
    assert page.locator(EXCEPTION).count() == 0


def _click_cell(page: Page, heatmap, true: int, predicted: int) -> None:
    heatmap.scroll_into_view_if_needed()
    box = heatmap.locator(".heatmaplayer text").nth(true * 10 + predicted).bounding_box()  # the count in the cell
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 20, y)
    page.mouse.move(x, y, steps=5)
    expect(heatmap.locator(".hoverlayer")).to_contain_text(f"true {true}, predicted {predicted}", timeout=10_000)
    page.mouse.click(x, y)


def test_a_confusion_cell_image_opens_its_inside_view(server, page):
    """Issue 15 AC2: click an off-diagonal cell, then one of its images: that image's inside view opens."""
    open_page(page, server + "/evaluate", "Evaluate")
    heatmap = page.locator('[data-testid="stPlotlyChart"]').filter(has=page.locator(".heatmaplayer")).first
    expect(heatmap.locator(".heatmaplayer text").first).to_be_attached(timeout=30_000)
    caption = page.get_by_text(re.compile(r"of a \d predicted as \d")).first  # the default: most mistakes
    true, predicted = (int(v) for v in re.search(r"of a (\d) predicted as (\d)", caption.inner_text()).groups())
    _click_cell(page, heatmap, true, predicted)  # an off-diagonal cell that has images
    wait_idle(page)
    expect(page.get_by_text(f"of a {true} predicted as {predicted}")).to_be_visible(timeout=20_000)
    link = page.locator('.st-key-eval_cell_images a[href*="inside?test="]').first
    index = int(re.search(r"inside\?test=(\d+)", link.get_attribute("href") or "").group(1))
    with page.context.expect_page() as opened:
        link.click()
    inside = opened.value
    expect(inside.get_by_role("heading", name="Inside", level=1)).to_be_visible(timeout=60_000)
    expect(inside.get_by_text(f"Test image {index}: true digit {true}")).to_be_visible(timeout=60_000)
    expect(inside.get_by_text("Inside the network")).to_be_visible(timeout=60_000)
    assert inside.locator(EXCEPTION).count() == 0 and page.locator(EXCEPTION).count() == 0
    inside.close()


def test_drawn_digits_are_read(server, page):
    open_page(page, server + "/draw", "Draw")
    expect(page.get_by_text("Draw one digit (0–9)")).to_be_visible()
    value = (
        page.locator('[data-testid="stMetric"]').filter(has_text="Prediction").locator('[data-testid="stMetricValue"]')
    )
    for i, digit in enumerate((1, 7, 0)):
        if i:
            time.sleep(0.8)  # the canvas sends the last stroke a moment after mouse-up
            wait_idle(page)
            page.get_by_role("button", name="Clear").click()
            expect(value).to_have_count(0, timeout=20_000)  # a blank canvas: a hint, no guess
            wait_idle(page)
        draw(page, digit)
        expect(value).to_have_text(str(digit), timeout=30_000)
        assert page.locator(EXCEPTION).count() == 0


def test_training_runs_live_and_stops(server, page):
    open_page(page, server + "/train", "Train")
    open_settings_for(page, "Tutorial (15 epochs)")  # not the default Quick: a 30 s time budget
    set_number(page, "Training images (0 = all 60,000)", 2000)
    set_number(page, "Test images (0 = all 10,000)", 500)
    set_number(page, "Epochs", 30)
    set_number(page, "Early-stopping patience (epochs)", 30)
    page.get_by_role("button", name="Start training").click()

    main = page.locator(MAIN)
    bar = main.locator('[data-testid="stProgress"]').first
    expect(bar).to_be_visible(timeout=60_000)
    # Issue 11: after Start the live run is what the participant sees (desktop here; the phone in test_room).
    page.wait_for_function(
        """() => { const b = document.querySelector('[data-testid="stMain"] [data-testid="stProgress"]');
                   if (!b) return false; const r = b.getBoundingClientRect();
                   return r.top >= 0 && r.bottom <= window.innerHeight; }""",
        timeout=10_000,
    )
    curve = main.locator('[data-testid="stPlotlyChart"] .scatterlayer .trace path.js-line')
    expect(curve.first).to_be_attached(timeout=60_000)
    expect(main.get_by_text("2,000 training / 500 test images")).to_be_visible(timeout=20_000)
    first = progress(page)
    deadline = time.time() + 60
    while progress(page) <= first and time.time() < deadline:
        time.sleep(0.5)
    assert progress(page) > first, "the progress bar did not move"
    assert page.locator(EXCEPTION).count() == 0
    # Watch it learn (issue 15): the watched digit's ten probabilities over time, one point per report (≥ 5).
    expect(main.locator('[data-testid="stPlotlyChart"]').filter(has_text="How it reads").first).to_be_attached(
        timeout=30_000
    )
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
            .some(p => p.data && p.data.length === 10 && p.data[0].x.length >= 5)""",
        timeout=90_000,
    )

    # Leave for Draw and come back (same session): the run, its curves and the form are still there, moving.
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Draw", exact=True).click()
    expect(page.get_by_role("heading", name="Draw", level=1)).to_be_visible()
    expect(page.get_by_text("Training:")).to_be_visible(timeout=20_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Train", exact=True).click()
    expect(page.get_by_role("heading", name="Train", level=1)).to_be_visible()
    expect(curve.first).to_be_attached(timeout=20_000)
    subset = page.get_by_label("Training images (0 = all 60,000)", exact=True)
    try:
        expect(subset).to_have_value("2000", timeout=15_000)
    except AssertionError:
        page.screenshot(path="/tmp/e2e-persist-failure.png")
        raise AssertionError(f"the form lost its value after a page switch: {subset.input_value()!r}") from None
    back = progress(page)
    deadline = time.time() + 60
    while progress(page) <= back and time.time() < deadline:
        time.sleep(0.5)
    assert progress(page) > back, "the progress bar stopped moving after a page switch"

    press_stop(page)
    # Stop keeps what was learned: the run evaluates its weights and says so (issue 24).
    expect(page.get_by_text(re.compile(r"^Stopped")).first).to_be_visible(timeout=60_000)
    assert page.locator(EXCEPTION).count() == 0
