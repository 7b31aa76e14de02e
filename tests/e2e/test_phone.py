"""A 390×844 touch phone in real Chromium: the answer in view, charts that scroll, taps that act at once.

Touches are real touch events (CDP Input.dispatchTouchEvent), not mouse events: Plotly and the canvas treat
the two differently, and the phone bugs this guards against (charts swallowing swipes, taps acting one tap
late, a hover-only Undo) only show with touch.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import CDPSession, FloatRect, Locator, Page, expect

from tests.support.browser import EXCEPTION, evaluate_on_fewer_test_images, open_page, press_stop, wait_idle
from ui.i18n import translate

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
CHART = '[data-testid="stPlotlyChart"]'


@pytest.fixture()
def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page, context.new_cdp_session(page)
    context.close()


def _touch(cdp: CDPSession, kind: str, x: float | None = None, y: float | None = None) -> None:
    points = [] if x is None else [{"x": x, "y": y}]
    cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})


def swipe_up(cdp: CDPSession, x: float, y: float, distance: float = 240, steps: int = 10) -> None:
    """A finger moving up the screen (which scrolls the page down); a negative distance moves it down."""
    _touch(cdp, "touchStart", x, y)
    for i in range(1, steps + 1):
        _touch(cdp, "touchMove", x, y - distance * i / steps)
        time.sleep(0.016)
    _touch(cdp, "touchEnd")
    time.sleep(0.6)  # let the scroll settle


def tap(cdp: CDPSession, x: float, y: float) -> None:
    _touch(cdp, "touchStart", x, y)
    time.sleep(0.05)
    _touch(cdp, "touchEnd")


def stroke(cdp: CDPSession, points: list[tuple[float, float]]) -> None:
    _touch(cdp, "touchStart", *points[0])
    for x, y in points[1:]:
        _touch(cdp, "touchMove", x, y)
        time.sleep(0.01)
    _touch(cdp, "touchEnd")


def settle(page: Page) -> None:
    """Until the rerun a touch caused has finished (the canvas sends its drawing a moment after the finger lifts)."""
    for _ in range(2):
        time.sleep(0.8)
        wait_idle(page)


def scroll_top(page: Page) -> float:
    """Streamlit scrolls its main area, not the window."""
    return page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop")


def in_viewport(locator: Locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


def box_of(locator: Locator) -> FloatRect:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not rendered"
    return box


def centre_on_screen(page: Page, locator: Locator) -> FloatRect:
    """Scroll so the element's top is 150 px below the top of the screen; return its box."""
    locator.scroll_into_view_if_needed()
    box = box_of(locator)
    page.evaluate("dy => { document.querySelector('[data-testid=\"stMain\"]').scrollTop += dy; }", box["y"] - 150)
    time.sleep(0.4)
    return box_of(locator)


def _seven(box: FloatRect) -> list[tuple[float, float]]:
    corners = [(0.25, 0.2), (0.75, 0.2), (0.5, 0.85)]
    points = []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:], strict=False):
        for i in range(12):
            t = i / 12
            points.append(
                (box["x"] + (x0 + (x1 - x0) * t) * box["width"], box["y"] + (y0 + (y1 - y0) * t) * box["height"])
            )
    return points


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_phone_draw_shows_the_answer_in_view_with_visible_undo_and_clear(server, phone, lang):
    page, cdp = phone
    open_page(page, f"{server}/draw?lang={lang}", translate(lang, "common.nav.draw"))
    canvas = page.locator("canvas.upper-canvas").first
    hint = page.get_by_text(translate(lang, "draw.hint")[:12])
    expect(hint).to_be_visible()
    assert in_viewport(hint) and in_viewport(canvas), "the hint and the canvas must both be on the first screen"
    expect(page.locator(".dc-toolbar")).to_be_hidden()  # the hover-only toolbar is gone
    settle(page)
    stroke(cdp, _seven(canvas.bounding_box()))
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=translate(lang, "draw.answer.prediction"))
    expect(metric.locator('[data-testid="stMetricValue"]')).to_have_text("7", timeout=30_000)
    confident = translate(lang, "draw.answer.confident", confidence=0.5).replace("50%", "").strip()
    expect(metric).to_contain_text(confident)
    wait_idle(page)
    assert scroll_top(page) == 0, "drawing must not scroll the page"
    assert in_viewport(metric), f"Prediction at {metric.bounding_box()}, outside the 390×844 screen"
    assert box_of(metric)["y"] < box_of(canvas)["y"], "the answer must sit above the canvas"
    assert in_viewport(canvas)
    undo, clear = (page.get_by_role("button", name=translate(lang, f"draw.{name}")) for name in ("undo", "clear"))
    for button in (undo, clear):
        expect(button).to_be_visible()
        expect(button).to_be_enabled()
        assert in_viewport(button)
    # A second stroke, then Undo: back to the 7, its answer still shown, without a new stroke.
    box = canvas.bounding_box()
    stroke(cdp, [(box["x"] + 0.1 * box["width"], box["y"] + (0.1 + 0.08 * i) * box["height"]) for i in range(10)])
    settle(page)
    undo.tap()
    settle(page)
    expect(metric.locator('[data-testid="stMetricValue"]')).to_have_text("7", timeout=30_000)
    expect(undo).to_be_enabled()  # one stroke left to undo
    clear.tap()
    expect(metric).to_have_count(0, timeout=20_000)
    expect(hint).to_be_visible()
    assert page.locator(EXCEPTION).count() == 0


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_phone_train_shows_the_progress_bar_in_view_after_start(server, phone, lang):
    page, _ = phone
    open_page(page, f"{server}/train?lang={lang}", translate(lang, "common.nav.train"))
    evaluate_on_fewer_test_images(page, lang)  # Stop evaluates what the run learned: on 500 images, not 10,000
    start = page.get_by_role("button", name=translate(lang, "train.start"))
    start.scroll_into_view_if_needed()
    start.tap()
    bar = page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first
    expect(bar).to_be_visible(timeout=60_000)
    page.wait_for_function(
        """() => { const b = document.querySelector('[data-testid="stMain"] [data-testid="stProgress"]');
                   if (!b) return false; const r = b.getBoundingClientRect();
                   return r.top >= 0 && r.bottom <= window.innerHeight; }""",
        timeout=10_000,
    )
    stop = page.get_by_role("button", name=translate(lang, "train.stop"), exact=True)
    expect(stop).to_be_visible(timeout=30_000)
    assert in_viewport(stop), "Stop must be in view next to the bar"
    press_stop(page, lang, tap=True)
    assert page.locator(EXCEPTION).count() == 0


@pytest.mark.parametrize("path,title,charts", [("/", "SimpleCNN Studio", 1), ("/evaluate", "Evaluate", 3)])
def test_phone_vertical_swipe_on_any_chart_scrolls_the_page(server, phone, path, title, charts):
    page, cdp = phone
    open_page(page, server + path, title)
    found = page.locator(CHART)
    expect(found.nth(charts - 1)).to_be_visible(timeout=60_000)
    wait_idle(page)
    for i in range(found.count()):  # every chart on the page, the interactive ones (confusion matrix, curves) too
        chart = found.nth(i)
        box = centre_on_screen(page, chart)
        before = scroll_top(page)
        # At the end of the page there is nothing left below: swipe the other way.
        room_below = page.evaluate(
            "() => { const m = document.querySelector('[data-testid=\"stMain\"]'); "
            "return m.scrollHeight - m.clientHeight - m.scrollTop; }"
        )
        direction = 1 if room_below > 200 else -1
        swipe_up(cdp, box["x"] + box["width"] / 2, min(box["y"] + box["height"] / 2, 600), 240 * direction)
        moved = (scroll_top(page) - before) * direction
        assert moved > 100, f"a 240 px swipe on chart {i} of {path} scrolled the page by {moved:.0f} px"


def _heatmap_counts(heatmap: Locator) -> list[list[int]]:
    texts = [
        t
        for t in heatmap.locator(".heatmaplayer text").evaluate_all("els => els.map(e => e.textContent)")
        if re.fullmatch(r"\d+", t or "")
    ]
    assert len(texts) == 100, texts
    return [[int(v) for v in texts[r * 10 : (r + 1) * 10]] for r in range(10)]


def test_phone_one_tap_on_a_confusion_cell_shows_its_images_in_view(server, phone):
    page, cdp = phone
    open_page(page, server + "/evaluate", "Evaluate")
    heatmap = page.locator(CHART).filter(has=page.locator(".heatmaplayer")).first
    expect(heatmap.locator(".heatmaplayer text").first).to_be_attached(timeout=60_000)
    counts = _heatmap_counts(heatmap)
    shown = page.get_by_text(re.compile(r"test images? of a \d predicted as \d"))
    default = re.search(r"of a (\d) predicted as (\d)", shown.inner_text())
    cells = sorted(
        (
            (counts[t][p], t, p)
            for t in range(10)
            for p in range(10)
            if t != p and counts[t][p] and (str(t), str(p)) != (default and default.groups())
        ),
        reverse=True,
    )
    assert cells, "need a second off-diagonal cell with images"
    _, true, pred = cells[0]
    centre_on_screen(page, heatmap)
    cell = heatmap.locator(".heatmaplayer text").nth(true * 10 + pred).bounding_box()  # the count in the cell
    tap(cdp, cell["x"] + cell["width"] / 2, cell["y"] + cell["height"] / 2)
    expect(page.get_by_text(f"of a {true} predicted as {pred}")).to_be_visible(timeout=20_000)  # the first tap
    wait_idle(page)
    first_image = page.locator('.st-key-eval_cell_images [data-testid="stImage"] img').first
    expect(first_image).to_be_visible()
    box = first_image.bounding_box()
    assert box["width"] >= 70, f"cell images {box['width']:.0f} px wide: too small to see"
    assert in_viewport(first_image), f"the cell's first image is at y={box['y']:.0f}, outside the screen"
    assert page.locator(EXCEPTION).count() == 0
