"""The Streamlit server's memory per page visit and during a Quick run, and the Quick run's time in a browser.

    python benchmarks/server_memory.py [--json out.json]

Starts `streamlit run app.py` on a loopback port (runs go to a temporary folder), opens Home, Train, Evaluate
and Draw once each in headless Chromium (then draws one stroke on Draw), reading the server's resident memory
(VmRSS, from /proc) after each; then presses "Start training" with the default Quick preset and reports the
page's estimate, the seconds from the click to "Done" and the server's peak RSS (VmHWM) over the run.
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

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PAGES = [("/", "SimpleCNN Studio"), ("/train", "Train"), ("/evaluate", "Evaluate"), ("/draw", "Draw")]


def _open(page, url: str, title: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name=title, level=1).wait_for(timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    time.sleep(2.0)  # let fragments and late elements settle
    page.wait_for_selector(IDLE, timeout=120_000)


def _stroke(page) -> None:
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=60_000)
    box = canvas.bounding_box()
    points = [(0.52, 0.15), (0.5, 0.5), (0.48, 0.85)]
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
    page.mouse.up()
    page.locator('[data-testid="stMetric"]').filter(has_text="Prediction").wait_for(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    time.sleep(2.0)


def _quick_run(page, server) -> dict:
    page.get_by_role("button", name="Start training").click()
    clicked = time.perf_counter()
    peak = 0.0
    while time.perf_counter() - clicked < 600:
        peak = max(peak, server.rss_mb() or 0.0)
        if page.get_by_text("Done —").count():
            break
        time.sleep(0.25)
    done = time.perf_counter() - clicked
    return {"click_to_done_s": round(done, 1), "rss_during_run_max_mb": round(peak, 1)}


def measure() -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {"rss_mb": {}}
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SIMPLECNN_RUNS": str(Path(tmp) / "runs")}
        with running_app(Path(tmp) / "server.log", env=env) as server, sync_playwright() as p:
            out["rss_mb"]["started"] = round(server.rss_mb() or 0.0, 1)
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            for path, title in PAGES:
                _open(page, server.url + path, title)
                out["rss_mb"][f"after {path}"] = round(server.rss_mb() or 0.0, 1)
            _stroke(page)
            out["rss_mb"]["after a stroke on /draw (inside view)"] = round(server.rss_mb() or 0.0, 1)
            _open(page, server.url + "/train", "Train")
            out["estimate_text"] = page.get_by_text("Expected time on this machine").first.inner_text()
            out["quick_run"] = _quick_run(page, server)
            out["rss_mb"]["after the Quick run"] = round(server.rss_mb() or 0.0, 1)
            out["server_peak_rss_mb"] = round(server.peak_rss_mb() or 0.0, 1)
            out["traceback_in_log"] = "Traceback" in server.log_tail(10_000_000)
            browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    result = measure()
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
