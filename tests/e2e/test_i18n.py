"""The app in the visitor's language, in real Chromium: ?lang=, the browser's language, the sidebar switch.

Visible text = innerText of the main area and the sidebar, without Material icons (their ligature names, such
as "model_training", are glyphs on screen, not words).
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from simplecnn.data import TEST_SIZE
from tests.support.browser import EXCEPTION, open_settings_for, press_stop, wait_idle
from tests.support.browser import draw as _draw
from tests.support.browser import set_number as _set_number
from tests.support.i18n_text import english_words, has_cjk
from ui.i18n import translate

pytestmark = pytest.mark.e2e

PAGES = ["", "train", "evaluate", "draw", "my_drawings", "inside", "board", "lessons"]
MAX_ENGLISH = 5  # words of 3+ letters outside the proper-noun list, per page, in zh-TW
_VISIBLE_TEXT = """() => ['[data-testid="stMain"]', '[data-testid="stSidebar"]']
    .map((s) => document.querySelector(s)).filter(Boolean).map((el) => {
        const icons = [...el.querySelectorAll('[data-testid="stIconMaterial"]')];
        const names = icons.map((i) => i.textContent);
        icons.forEach((i) => { i.textContent = ''; });
        const code = [...el.querySelectorAll('[data-testid="stCode"], [data-testid="stCodeBlock"]')];
        code.forEach((c) => { c.style.display = 'none'; });  // the tutorial's code, quoted as it was written
        const text = el.innerText;
        code.forEach((c) => { c.style.display = ''; });
        icons.forEach((i, k) => { i.textContent = names[k]; });
        return text;
    }).join('\\n')"""

_CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .every((chart) => chart.querySelector('.main-svg'))"""


def visible_text(page: Page) -> str:
    return page.evaluate(_VISIBLE_TEXT)


def open_in(page: Page, url: str, title: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=60_000)
    wait_idle(page)


def _title(lang: str, path: str) -> str:
    return translate(lang, f"common.nav.{path or 'home'}") if path else "SimpleCNN Studio"


@pytest.mark.parametrize("lang", ["zh-TW", "en"])
def test_every_page_speaks_the_language_of_its_link(server, page, lang):
    for path in PAGES:
        open_in(page, f"{server}/{path}?lang={lang}", _title(lang, path))
        page.wait_for_function(_CHARTS_DRAWN)  # charts draw after the script run: their text counts too
        wait_idle(page)
        text = visible_text(page)
        if lang == "en":
            assert not has_cjk(text), f"/{path}: Chinese in English mode: {text[:300]!r}"
        else:
            words = english_words(text)
            assert has_cjk(text) and len(words) <= MAX_ENGLISH, f"/{path}: English words {words}"
        assert f"lang={lang}" in page.url
        assert page.locator(EXCEPTION).count() == 0


@pytest.mark.parametrize("locale,lang", [("zh-TW", "zh-TW"), ("en-US", "en")])
def test_without_lang_the_browser_language_decides(server, browser, locale, lang):
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        open_in(page, server + "/train", translate(lang, "common.nav.train"))
        nav = page.locator('[data-testid="stSidebarNav"] a')
        expect(nav).to_contain_text([translate(lang, f"common.nav.{p or 'home'}") for p in PAGES])
        assert has_cjk(visible_text(page)) == (lang == "zh-TW")
    finally:
        context.close()


def test_switching_keeps_the_drawn_answer_and_follows_reloads_and_page_moves(server, page):
    open_in(page, server + "/draw?lang=en", "Draw")
    _draw(page, 7)
    value = page.locator('.st-key-draw_answer [data-testid="stMetricValue"]')
    expect(value).to_have_text("7", timeout=30_000)
    time.sleep(0.8)
    wait_idle(page)
    page.locator('[data-testid="stSidebar"]').get_by_role(
        "radio", name=translate("en", "common.language.zh-TW")
    ).click()
    expect(page.get_by_role("heading", name=translate("zh-TW", "common.nav.draw"), level=1)).to_be_visible()
    wait_idle(page)
    expect(value).to_have_text("7")  # the drawing and its answer are still there
    expect(page.locator(".st-key-draw_answer")).to_contain_text(translate("zh-TW", "draw.answer.prediction"))
    assert "lang=zh-TW" in page.url
    page.reload()
    expect(page.get_by_role("heading", name=translate("zh-TW", "common.nav.draw"), level=1)).to_be_visible()
    page.locator('[data-testid="stSidebarNav"] a').nth(2).click()  # Evaluate, via the navigation
    expect(page.get_by_role("heading", name=translate("zh-TW", "common.nav.evaluate"), level=1)).to_be_visible()
    assert "lang=zh-TW" in page.url
    assert page.locator(EXCEPTION).count() == 0


def _batches_done(page: Page) -> int:
    """Batches done so far, from the progress bar's text in either language ("epoch 2/30, batch 5/16")."""
    text = page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first.inner_text()
    found = re.search(r"(\d+)/\d+\D+?(\d+)/(\d+)", text)
    if not found:
        return 0
    epoch, batch, per_epoch = (int(v) for v in found.groups())
    return (epoch - 1) * per_epoch + batch


def _moves(page: Page, timeout: float = 60) -> None:
    first = _batches_done(page)
    deadline = time.time() + timeout
    while _batches_done(page) <= first and time.time() < deadline:
        time.sleep(0.5)
    assert _batches_done(page) > first, "the run stopped moving"


def test_switching_language_mid_run_keeps_the_run_and_its_live_chart(server, page):
    open_in(page, server + "/train?lang=en", "Train")
    open_settings_for(page, translate("en", "train.preset.quick", seconds=30))
    _set_number(page, translate("en", "train.field.budget_off"), 300)
    _set_number(page, translate("en", "train.field.limit_test_all", count=TEST_SIZE), 500)  # Stop evaluates these
    page.get_by_role("button", name=translate("en", "train.start")).click()
    main = page.locator('[data-testid="stMain"]')
    curve = main.locator('[data-testid="stPlotlyChart"] .scatterlayer .trace path.js-line')
    expect(curve.first).to_be_attached(timeout=60_000)
    _moves(page)
    page.locator('[data-testid="stSidebar"]').get_by_role(
        "radio", name=translate("en", "common.language.zh-TW")
    ).click()
    zh_title = translate("zh-TW", "common.nav.train")
    expect(page.get_by_role("heading", name=zh_title, level=1)).to_be_visible()
    stop = page.get_by_role("button", name=translate("zh-TW", "train.stop"), exact=True)
    expect(stop).to_be_visible(timeout=20_000)  # the same run, still training, now in Chinese
    expect(curve.first).to_be_attached(timeout=20_000)
    expect(main.locator('[data-testid="stPlotlyChart"]').first).to_contain_text(
        translate("zh-TW", "charts.loss_curve.title")
    )
    _moves(page)
    page.reload()
    expect(page.get_by_role("heading", name=zh_title, level=1)).to_be_visible(timeout=60_000)
    expect(stop).to_be_visible(timeout=30_000)
    page.locator('[data-testid="stSidebarNav"] a').nth(3).click()  # Draw, then back to Train
    expect(page.get_by_role("heading", name=translate("zh-TW", "common.nav.draw"), level=1)).to_be_visible()
    expect(page.get_by_text(translate("zh-TW", "common.badge.training", where=""))).to_be_visible(timeout=20_000)
    page.locator('[data-testid="stSidebarNav"] a').nth(1).click()
    expect(page.get_by_role("heading", name=zh_title, level=1)).to_be_visible()
    _moves(page)
    press_stop(page, "zh-TW")
    assert "lang=zh-TW" in page.url
    assert page.locator(EXCEPTION).count() == 0
