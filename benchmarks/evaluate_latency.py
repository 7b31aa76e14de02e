"""Seconds from navigating to /evaluate to the shipped model's "Test accuracy" metric on screen.

    python benchmarks/evaluate_latency.py [--warm 5] [--json out.json]

First on a just-started server (no page opened yet), then in `--warm` new browser contexts (new sessions) on
the same, now warm, server. Desktop 1280×900 and phone 390×844 contexts alternate for the warm visits.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def _visit(browser, url: str, context_args: dict) -> float:
    context = browser.new_context(**context_args)
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url + "/evaluate")
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy")
    metric.first.wait_for(state="visible", timeout=120_000)
    seconds = time.perf_counter() - start
    context.close()
    return round(seconds, 2)


def measure(warm: int) -> dict:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        browser.new_context().close()  # the browser's own start-up is not the server's
        env = {"SIMPLECNN_RUNS": str(Path(tmp) / "runs")}
        with running_app(Path(tmp) / "server.log", env=env) as server:
            cold = _visit(browser, server.url, DESKTOP)
            warm_runs = [_visit(browser, server.url, PHONE if i % 2 else DESKTOP) for i in range(warm)]
        browser.close()
    return {"cold_server_first_visit_s": cold, "warm_new_session_s": warm_runs}


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
