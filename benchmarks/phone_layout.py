"""What a visitor sees at 390 px, and what a name made of markup becomes, in real Chromium against a local server.

    python benchmarks/phone_layout.py [--json benchmarks/results/phone-layout-DATE.json] [--shots DIR]

Issue 24 (acceptance 7): on a 390×844 touch phone, /draw with a drawn 7 and the inside view at its Robustness step:
is the result row in the viewport while the slider that changes it is; /board: is the accuracy column's header
inside the 390 px. Issue 23 (acceptance 5): a participant named `<a href="https://example.com/">CLICK</a>` trains
a short run; the board's table, chart legend, hover label and picker show that literal text, and the page holds no
`<a>` element made from it. Screenshots of each view go to --shots. Exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402
from tests.support.browser import IDLE, MAIN, PHONE, draw, open_page, wait_idle  # noqa: E402
from ui.i18n import translate  # noqa: E402

LINK = '<a href="https://example.com/">CLICK</a>'


def _in_view(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] >= 0
        and box["x"] + box["width"] <= size["width"]
    )


def _links_from_the_name(page) -> int:
    """<a> elements anywhere in the document (shadow roots included) whose text or href comes from the name."""
    return page.evaluate(
        """() => { let n = 0; const walk = (root) => { for (const a of root.querySelectorAll('a')) {
                     const href = a.getAttribute('href') || '';
                     if (a.textContent.includes('CLICK') || href.includes('example.com')) n++; }
                   for (const e of root.querySelectorAll('*')) if (e.shadowRoot) walk(e.shadowRoot); };
                   walk(document); return n; }"""
    )


def draw_robustness(browser, server: str, shots: Path) -> dict:
    page = browser.new_context(**PHONE, device_scale_factor=2).new_page()
    page.set_default_timeout(60_000)
    open_page(page, f"{server}/draw?lang=en", "Draw")
    time.sleep(0.8)  # the canvas component attaches after the page is idle
    draw(page, 7)
    page.locator('.st-key-draw_answer [data-testid="stMetricValue"]').wait_for()
    page.get_by_text(translate("en", "inside.steps.robust", number=5), exact=True).click()
    wait_idle(page)
    slider = page.get_by_role("slider").nth(2)  # rotation
    slider.scroll_into_view_if_needed()
    slider.focus()
    for _ in range(6):  # 30 degrees, as a thumb would
        page.keyboard.press("ArrowRight")
    time.sleep(0.5)
    page.wait_for_selector(IDLE)
    slider.scroll_into_view_if_needed()
    result = page.locator('[class*="_robust_row"]').first
    facts = {
        "slider_in_view": _in_view(page, slider),
        "result_in_view_with_slider": _in_view(page, result),
        "result_text": result.inner_text(),
        "page_height_px": page.evaluate("(m) => document.querySelector(m).scrollHeight", MAIN),
    }
    page.screenshot(path=str(shots / "draw-robustness-390.png"))
    page.context.close()
    return facts


def train_as(browser, server: str, name_text: str) -> None:
    page = browser.new_context(**PHONE).new_page()
    page.set_default_timeout(60_000)
    open_page(page, f"{server}/train?lang=en", "Train")
    name = page.get_by_label(translate("en", "train.name.ask"))
    name.fill(name_text)
    name.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name=translate("en", "train.start")).tap()
    stop = page.get_by_role("button", name=translate("en", "train.stop"), exact=True)
    stop.wait_for()
    stop.wait_for(state="detached", timeout=240_000)  # Quick's 30 s, then its evaluation
    page.context.close()


def board_phone(browser, server: str, shots: Path) -> dict:
    page = browser.new_context(**PHONE, device_scale_factor=2).new_page()
    page.set_default_timeout(60_000)
    open_page(page, f"{server}/board?lang=en", translate("en", "common.nav.board"))
    table = page.locator('[data-testid="stDataFrame"]').first
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    headers = table.locator('[role="columnheader"]').all_inner_texts()
    page.screenshot(path=str(shots / "board-390.png"))
    facts = {"table_box": box, "header_order": headers}
    page.context.close()
    return facts


def board_markup(browser, server: str, shots: Path) -> dict:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(60_000)
    open_page(page, f"{server}/board?lang=en", translate("en", "common.nav.board"))
    table_text = page.locator('[data-testid="stDataFrame"]').first.inner_text()
    picker = page.locator('[data-testid="stMultiSelect"]').first
    picker.scroll_into_view_if_needed()
    picker.click()
    page.get_by_role("option").first.click()  # "Select all": a chart of two runs has a legend
    wait_idle(page)
    page.keyboard.press("Escape")
    wait_idle(page)
    chart = page.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    time.sleep(1)
    legend = " ".join(chart.locator(".legend text").all_text_contents())
    hover = ""
    paths = chart.locator(".scatterlayer .trace path.js-line")
    for i in range(paths.count()):
        for share in (0.5, 0.25, 0.75, 0.95):
            point = paths.nth(i).evaluate(
                """(p, share) => { const q = p.getPointAtLength(p.getTotalLength() * share); const m = p.getScreenCTM();
                                   return {x: q.x * m.a + q.y * m.c + m.e, y: q.x * m.b + q.y * m.d + m.f}; }""",
                share,
            )
            page.mouse.move(point["x"], point["y"])
            time.sleep(0.4)
            hover = " ".join(chart.locator(".hoverlayer text").all_text_contents())
            if "CLICK" in hover:
                break
        if "CLICK" in hover:
            break
    chart.screenshot(path=str(shots / "board-chart-hover-1280.png"))
    page.screenshot(path=str(shots / "board-markup-1280.png"), full_page=True)
    facts = {
        "table_is_canvas_drawn": LINK not in table_text,  # its cells are pixels: no element, no link (screenshot)
        "in_picker": LINK in picker.inner_text(),
        "in_legend": LINK in legend,
        "in_hover": LINK in hover,
        "hover_text": hover[:200],
        "legend_text": legend[:200],
        "link_elements_from_the_name": _links_from_the_name(page),
        "body_shows_literal": LINK in page.inner_text("body"),
    }
    page.context.close()
    return facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--shots", type=Path, default=Path(tempfile.mkdtemp(prefix="phone-layout-")))
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as tmp,
        running_app(
            Path(tmp) / "streamlit.log", env={"SIMPLECNN_RUNS": tmp + "/runs", "SIMPLECNN_EVAL_LIMIT": "1000"}
        ) as app,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        result: dict[str, object] = {"draw_robustness_390": draw_robustness(browser, app.url, args.shots)}
        train_as(browser, app.url, LINK)
        train_as(browser, app.url, "Ada")
        result["board_390"] = board_phone(browser, app.url, args.shots)
        result["board_markup"] = board_markup(browser, app.url, args.shots)
        result["server_traceback"] = bool(app.traceback())
        browser.close()
    r, m = cast(dict, result["draw_robustness_390"]), cast(dict, result["board_markup"])
    result["ok"] = bool(
        r["slider_in_view"]
        and r["result_in_view_with_slider"]
        and m["in_picker"]
        and m["link_elements_from_the_name"] == 0
        and m["in_legend"]
        and m["in_hover"]
        and not result["server_traceback"]
    )
    result["date"] = datetime.date.today().isoformat()
    result["shots"] = str(args.shots)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
