"""Draw on a 390×844 touch phone (issue 24): the whole unsure / not-a-digit message in view and unclipped, and
the page with the inside view at its first step at most 2,500 px tall. Real touch events (CDP)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import CDPSession, Page, expect

from tests.support.browser import IDLE, MAIN, PHONE, open_page
from ui.i18n import translate

pytestmark = pytest.mark.e2e

ANSWER = ".st-key-draw_answer"
MAX_DRAW_HEIGHT = 2500
SCREEN_HEIGHT = 844  # PHONE's


@pytest.fixture()
def phone(browser):
    context = browser.new_context(**PHONE, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page, context.new_cdp_session(page)
    context.close()


def _open_draw(page: Page, server: str) -> None:
    open_page(page, f"{server}/draw?lang=en", "Draw")
    time.sleep(0.8)  # the canvas component attaches its shadow root after the page is idle


def _stroke(cdp: CDPSession, points: list[tuple[float, float]]) -> None:
    def touch(kind: str, point: tuple[float, float] | None = None) -> None:
        touches = [] if point is None else [{"x": point[0], "y": point[1]}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touches})

    touch("touchStart", points[0])
    for point in points[1:]:
        touch("touchMove", point)
        time.sleep(0.01)
    touch("touchEnd")


def _on_canvas(page: Page, shape: list[tuple[float, float]]) -> list[tuple[float, float]]:
    box = page.locator("canvas.upper-canvas").first.bounding_box()
    assert box is not None
    return [(box["x"] + u * box["width"], box["y"] + v * box["height"]) for u, v in shape]


def _scribble() -> list[tuple[float, float]]:
    """A zigzag over the whole box: ink, but no digit."""
    return [(0.1 + 0.8 * (i % 2), 0.1 + 0.8 * i / 16) for i in range(17)]


def _seven() -> list[tuple[float, float]]:
    corners = [(0.25, 0.2), (0.75, 0.2), (0.5, 0.85)]
    return [
        (x0 + (x1 - x0) * i / 12, y0 + (y1 - y0) * i / 12)
        for (x0, y0), (x1, y1) in zip(corners, corners[1:], strict=False)
        for i in range(12)
    ]


def test_phone_scribble_message_is_whole_and_in_view(server, phone):
    page, cdp = phone
    _open_draw(page, server)
    _stroke(cdp, _on_canvas(page, _scribble()))
    message = page.locator(f'{ANSWER} [data-testid="stAlertContainer"]')
    expect(message).to_contain_text("best guess", timeout=30_000)
    page.wait_for_selector(IDLE)
    box = message.bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= SCREEN_HEIGHT, f"message at {box}, outside the screen"
    # Unclipped: no box between the message and the page cuts it off.
    clipped = page.evaluate(
        """(sel) => {
            for (let e = document.querySelector(sel); e && e !== document.body; e = e.parentElement) {
                if (e.scrollHeight > e.clientHeight + 1 && getComputedStyle(e).overflowY !== 'visible'
                    && e.dataset.testid !== 'stMain') return e.className || e.dataset.testid || e.tagName;
            }
            return null;
        }""",
        f'{ANSWER} [data-testid="stAlertContainer"]',
    )
    assert clipped is None, f"the message is clipped by {clipped}"


def test_phone_draw_with_the_inside_view_first_step_is_short(server, phone):
    page, cdp = phone
    _open_draw(page, server)
    _stroke(cdp, _on_canvas(page, _seven()))
    expect(page.locator(f'{ANSWER} [data-testid="stMetricValue"]')).to_have_text("7", timeout=30_000)
    step = translate("en", "inside.steps.sees", number=1)
    expect(page.get_by_text(step, exact=True)).to_be_visible(timeout=30_000)
    expect(page.locator('img[alt="' + translate("en", "inside.pre.ink") + '"]')).to_be_visible(timeout=30_000)
    page.wait_for_selector(IDLE)
    height = page.evaluate("(main) => document.querySelector(main).scrollHeight", MAIN)
    assert height <= MAX_DRAW_HEIGHT, f"/draw is {height} px tall at 390 px"
    images = page.locator(f"{MAIN} img")
    missing = [images.nth(i).evaluate("e => e.outerHTML.slice(0, 200)") for i in range(images.count())]
    missing = [html for html in missing if 'alt=""' in html or "alt=" not in html]
    assert not missing, f"image(s) on /draw without alt text: {missing}"
