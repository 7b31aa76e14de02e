"""axe-core on every page, on a 390×844 touch phone and a 1280 px desktop: images without alt text and text
without enough contrast (WCAG AA), plus the height of buttons a finger presses.

    npm install axe-core@4            # once, anywhere
    python benchmarks/accessibility.py --axe node_modules/axe-core/axe.min.js [--json out.json]

It starts its own `streamlit run app.py` on a loopback port. /draw is checked after one stroke (its answer, chart
and the inside view's first step are on screen), /inside on a test image. Exit status 1 if any page has a violation.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402

PAGES = ("/", "/train", "/evaluate", "/draw", "/inside?test=3", "/board")
RULES = ["image-alt", "color-contrast", "role-img-alt", "svg-img-alt", "input-image-alt", "area-alt", "object-alt"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
VIEWS: dict[str, dict[str, Any]] = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 900}},
}
RUN_AXE = """async (rules) => {
  const r = await axe.run(document, {runOnly: {type: 'rule', values: rules}});
  return r.violations.map(v => ({rule: v.id, nodes: v.nodes.length,
    examples: v.nodes.slice(0, 3).map(n => [n.target.join(' '), (n.any[0] || {}).message || ''])}));
}"""
SMALL_BUTTONS = """() => [...document.querySelectorAll('[data-testid="stMain"] button')]
  .filter(b => b.offsetParent && !b.closest('[data-testid="stFullScreenFrame"] [data-testid="stElementToolbar"]'))
  .map(b => [b.innerText.trim().slice(0, 30), Math.round(b.getBoundingClientRect().height)])
  .filter(([text, h]) => text && h < 44)"""


def _settle(page) -> None:
    page.wait_for_selector(IDLE)
    time.sleep(2)
    page.wait_for_selector(IDLE)


def _stroke_a_seven(page) -> None:
    box = page.locator("canvas.upper-canvas").first.bounding_box()
    page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    for u, v in ((0.75, 0.2), (0.5, 0.85)):
        page.mouse.move(box["x"] + u * box["width"], box["y"] + v * box["height"], steps=12)
    page.mouse.up()
    time.sleep(3)


def check(url: str, axe: str) -> dict:
    from playwright.sync_api import sync_playwright

    found: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for view, options in VIEWS.items():
            page = browser.new_context(**options).new_page()
            page.set_default_timeout(90_000)
            for path in PAGES:
                page.goto(url + path + ("&" if "?" in path else "?") + "lang=en")
                page.wait_for_selector("h1")
                _settle(page)
                if path == "/draw":
                    _stroke_a_seven(page)
                    _settle(page)
                page.add_script_tag(content=axe)
                found[f"{view} {path}"] = {
                    "violations": page.evaluate(RUN_AXE, RULES),
                    "buttons_under_44px": page.evaluate(SMALL_BUTTONS) if view == "phone" else [],
                    "images": page.evaluate("() => document.querySelectorAll('[data-testid=\"stMain\"] img').length"),
                }
            page.context.close()
        browser.close()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--axe", required=True, help="axe.min.js (npm install axe-core)")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    axe = Path(args.axe).read_text()
    env = {"SIMPLECNN_RUNS": tempfile.mkdtemp(), "SIMPLECNN_EVAL_LIMIT": "1000"}
    with running_app(Path(tempfile.mkdtemp()) / "streamlit.log", env=env) as app:
        found = check(app.url, axe)
    text = json.dumps(found, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 1 if any(page["violations"] for page in found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
