"""Every lesson opens in real Chromium on a 1280 px desktop and on a 390 px touch phone: no exception, the
tutorial's code and a computed result shown, nothing wider than the screen; on the phone a tap picks a lesson."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import EXCEPTION, MAIN, PHONE, open_page, wait_idle
from ui.i18n import translate
from ui.lessons import LESSONS

pytestmark = pytest.mark.e2e
LANG = "en"
CODE = '[data-testid="stCode"]'
RESULT = '[data-testid="stMetric"], [data-testid="stDataFrame"], [data-testid="stButton"]'


def _check(page: Page, lesson: str, width: int) -> None:
    """The lesson shown: its code, a computed result, no exception, nothing wider than the screen."""
    main = page.locator(MAIN)
    expect(main.locator(CODE).first).to_be_visible(timeout=60_000)
    expect(main.locator(RESULT).first).to_be_attached(timeout=60_000)
    wait_idle(page)
    assert page.locator(EXCEPTION).count() == 0, f"{lesson} at {width} px shows an exception"
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= width + 1, f"{lesson} at {width} px is {wide} px wide"


def test_every_lesson_on_a_desktop(server, page):
    """Each lesson's own link (?lesson=) opens it."""
    for lesson in LESSONS:
        open_page(page, f"{server}/lessons?lesson={lesson}&lang={LANG}", translate(LANG, "common.nav.lessons"))
        _check(page, lesson, 1280)


def test_every_lesson_on_a_touch_phone(server, browser):
    """A tap opens the picker and a tap on an option opens that lesson (its ?lesson= follows), for every lesson
    (each lesson's link is the desktop test's)."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        open_page(page, f"{server}/lessons?lesson={LESSONS[-1]}&lang={LANG}", translate(LANG, "common.nav.lessons"))
        _check(page, LESSONS[-1], 390)
        for lesson in LESSONS[:-1]:
            page.locator(f'{MAIN} [data-testid="stSelectbox"]').first.tap()
            title = translate(LANG, "lessons.numbered", number=LESSONS.index(lesson) + 1, title=_title(lesson))
            page.get_by_role("option", name=title).tap()
            page.wait_for_url(f"**lesson={lesson}**", timeout=30_000)
            wait_idle(page)
            _check(page, lesson, 390)
    finally:
        context.close()


def _title(lesson: str) -> str:
    return translate(LANG, f"lessons.{lesson}.title")
