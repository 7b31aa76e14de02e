"""Seconds from navigating to /evaluate to the shipped model's "Test accuracy" metric on screen.

    python benchmarks/evaluate_latency.py [--warm 5] [--json out.json]

First on a just-started server (no page opened yet), then in `--warm` new browser contexts (new sessions, and a
browser that has never seen the app: it downloads Streamlit's frontend again) on the same, now warm, server.
Desktop 1280×900 and phone 390×844 contexts alternate for the warm visits. Then `--warm` new tabs of one browser
that has opened the app before (new sessions; the frontend's files come from the browser's cache). As a floor,
the same new-context visit to a bare Streamlit app (`st.title` + `st.metric`) on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


BARE_APP = 'import streamlit as st\nst.title("Evaluate")\nst.metric("Test accuracy", "99.65%")\n'


# Playwright's wait_for checks the page at growing intervals (0, 20, 50, 100, 100, then every 500 ms after
# `goto` returns at the load event), so it notices an element up to ~0.5 s after it is painted (a traced visit:
# docs/pages.md). So the page itself records
# the animation frame in which the metric is first on screen (a MutationObserver, then requestAnimationFrame);
# that frame's wall time, counted from our goto() call, is the figure. wait_for's figure is kept beside it.
SHOWN_AT = """
(() => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.top >= innerHeight || r.bottom <= 0) return false;
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.visibility === "hidden" || s.display === "none" || Number(s.opacity) === 0) return false;
    }
    return true;
  };
  const check = () => {
    if (window.__metricShownAt) return;
    for (const el of document.querySelectorAll('[data-testid="stMetric"]')) {
      if (el.textContent.includes("Test accuracy") && visible(el)) {
        requestAnimationFrame(() => { window.__metricShownAt ??= performance.timeOrigin + performance.now(); });
        observer.disconnect();
        return;
      }
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, {childList: true, subtree: true, characterData: true});
})();
"""


def _time_metric(page, url: str) -> tuple[float, float]:
    """(seconds from goto() to the frame that first shows the metric, seconds until Playwright's wait_for saw it)."""
    page.add_init_script(SHOWN_AT)
    start_epoch, start = time.time(), time.perf_counter()
    page.goto(url)
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy")
    metric.first.wait_for(state="visible", timeout=120_000)
    polled = time.perf_counter() - start
    shown_epoch_ms = page.wait_for_function("window.__metricShownAt", timeout=10_000).json_value()
    return round(shown_epoch_ms / 1000 - start_epoch, 2), round(polled, 2)


def _visit(browser, url: str, context_args: dict) -> tuple[float, float]:
    context = browser.new_context(**context_args)
    seconds = _time_metric(context.new_page(), url + "/evaluate")
    context.close()
    return seconds


def _tabs(browser, url: str, n: int) -> list[tuple[float, float]]:
    context = browser.new_context(**DESKTOP)
    seconds = []
    for i in range(n + 1):  # the first visit fills this browser's cache; then one tab at a time, closed after
        page = context.new_page()
        took = _time_metric(page, url + "/evaluate")
        page.close()
        seconds += [took] if i else []
    context.close()
    return seconds


def _bare_floor(browser, tmp: Path, n: int) -> list[tuple[float, float]]:
    (tmp / "bare").mkdir()
    (tmp / "bare" / "app.py").write_text(BARE_APP)
    with running_app(tmp / "bare.log", cwd=tmp / "bare") as server:
        _visit(browser, server.url, DESKTOP)
        return [_visit(browser, server.url, DESKTOP) for _ in range(n)]


def measure(warm: int) -> dict:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        browser.new_context().close()  # the browser's own start-up is not the server's
        env = {"SIMPLECNN_RUNS": str(Path(tmp) / "runs")}
        with running_app(Path(tmp) / "server.log", env=env) as server:
            cold = _visit(browser, server.url, DESKTOP)
            warm_runs = [_visit(browser, server.url, PHONE if i % 2 else DESKTOP) for i in range(warm)]
            tabs = _tabs(browser, server.url, warm)
        floor = _bare_floor(browser, Path(tmp), warm)
        browser.close()
    rows = {
        "cold_server_first_visit": [cold],
        "warm_new_session": warm_runs,
        "warm_new_tab": tabs,
        "bare_streamlit_app_new_session": floor,
    }
    out: dict = {}
    for name, pairs in rows.items():
        out[f"{name}_shown_s"] = [shown for shown, _ in pairs]
        out[f"{name}_playwright_wait_for_s"] = [polled for _, polled in pairs]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=5, help="new sessions on the warm server")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    result = measure(args.warm)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
