"""Seconds from the end of a stroke on /draw to the answer on screen, frame-accurate, over N strokes.

    python benchmarks/draw_latency.py [--strokes 30] [--training] [--desktop] [--url URL] [--json out.json]

Each stroke: Clear (the answer slot shows the hint again), then one touch stroke of a digit shape on the canvas
(real touch events, CDP Input.dispatchTouchEvent; a 390×844 phone unless --desktop). The page itself records
(a) the `touchend` event's time and (b) the animation frame in which the answer slot (`.st-key-draw_answer`) first
shows a visible metric: (b) − (a) is the figure, so neither Playwright's polling (which notices an element up to
~0.5 s late, see evaluate_latency.py) nor the benchmark's own process is part of it. The first stroke warms the
session and is not counted.

--training first starts a long run on the server (a second, protocol-level session presses Start on /train with a
time budget), so the strokes are timed while a run trains; it is stopped at the end.
It starts its own `streamlit run app.py` on a loopback port unless --url points at a running server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # st_client
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "has_touch": True}
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
ANSWER = ".st-key-draw_answer"
LANG = "lang=en"  # the button names below are the English ones

# (a) and (b) above, recorded by the page: a MutationObserver notices the answer, requestAnimationFrame gives the
# frame it is painted in. `visible` also rejects a faded (stale) element.
RECORDER = """
(() => {
  window.__strokeEnd = null; window.__answerAt = null;
  const ended = () => { window.__strokeEnd = performance.timeOrigin + performance.now(); window.__answerAt = null; };
  addEventListener('touchend', ended, true);
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.bottom <= 0 || r.top >= innerHeight) return false;
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.visibility === 'hidden' || s.display === 'none' || Number(s.opacity) < 0.99) return false;
    }
    return true;
  };
  const check = () => {
    if (window.__strokeEnd === null || window.__answerAt !== null) return;
    const el = document.querySelector('ANSWER [data-testid="stMetric"]');
    if (el && visible(el))
      requestAnimationFrame(() => { window.__answerAt ??= performance.timeOrigin + performance.now(); });
  };
  const all = {childList: true, subtree: true, characterData: true, attributes: true};
  new MutationObserver(check).observe(document, all);
})();
""".replace("ANSWER", ANSWER)

# One-stroke digit shapes, as fractions of the canvas: 7, 1, L (a 6-ish hook), 2, Z.
SHAPES = (
    [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)],
    [(0.5, 0.15), (0.5, 0.85)],
    [(0.3, 0.15), (0.3, 0.85), (0.75, 0.85)],
    [(0.25, 0.3), (0.5, 0.15), (0.75, 0.3), (0.25, 0.85), (0.75, 0.85)],
    [(0.25, 0.2), (0.75, 0.2), (0.25, 0.8), (0.75, 0.8)],
)


def polyline(box: dict, corners: list[tuple[float, float]], per_segment: int = 10) -> list[tuple[float, float]]:
    points = []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:], strict=False):
        for i in range(per_segment):
            t = i / per_segment
            points.append((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))
    points.append(corners[-1])
    return [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]


def touch_stroke(cdp, points: list[tuple[float, float]]) -> None:
    def send(kind: str, point: tuple[float, float] | None) -> None:
        touches = [] if point is None else [{"x": point[0], "y": point[1]}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touches})

    send("touchStart", points[0])
    for point in points[1:]:
        send("touchMove", point)
        time.sleep(0.008)
    send("touchEnd", None)


def clear(page) -> None:
    button = page.get_by_role("button", name="Clear")
    if button.count() and button.is_enabled():
        button.click()
        page.wait_for_function(f"!document.querySelector('{ANSWER} [data-testid=\"stMetric\"]')", timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    time.sleep(0.5)  # the canvas widget is re-created on Clear: let it settle
    page.wait_for_selector(IDLE, timeout=60_000)


def time_strokes(url: str, strokes: int, context_args: dict) -> list[float]:
    from playwright.sync_api import sync_playwright

    seconds = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(**context_args)
        page = context.new_page()
        page.add_init_script(RECORDER)
        cdp = context.new_cdp_session(page)
        page.goto(f"{url}/draw?{LANG}")
        page.wait_for_selector("canvas.upper-canvas", timeout=120_000)
        page.wait_for_selector(IDLE, timeout=120_000)
        for i in range(strokes + 1):
            clear(page)
            box = page.locator("canvas.upper-canvas").first.bounding_box()
            assert box is not None, "the canvas is not on the page"
            touch_stroke(cdp, polyline(dict(box), SHAPES[i % len(SHAPES)]))
            page.wait_for_function("window.__answerAt !== null", timeout=60_000, polling=100)
            took = page.evaluate("(window.__answerAt - window.__strokeEnd) / 1000")
            if i:  # the first stroke warms this session (component code, the model's first call)
                seconds.append(round(took, 3))
            page.wait_for_selector(IDLE, timeout=60_000)
        browser.close()
    return seconds


class Trainer:
    """A protocol-level session (benchmarks/st_client.py) that starts a long budget run on /train and stops it."""

    def __init__(self, url: str, budget: float) -> None:
        self.url, self.budget = url, budget
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.session: Any = None  # a st_client.StreamlitSession once started

    def __enter__(self) -> Trainer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(180)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(180)
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _start(self) -> None:
        from st_client import StreamlitSession

        self.session = await StreamlitSession.open(self.url, "train", query_string=LANG)
        await self.session.set_number("tf_budget", self.budget)
        await self.session.click("train_start")
        for _ in range(600):  # until it trains (the first run loads MNIST)
            if "ETA" in self.session.shown_text() or "left" in self.session.shown_text():
                return
            await asyncio.sleep(0.5)
        raise RuntimeError("the run did not start training")

    async def _stop(self) -> None:
        assert self.session is not None
        await self.session.click("train_stop")
        await self.session.close()


def summary(values: list[float]) -> dict:
    ordered = sorted(values)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {
        "strokes": len(values),
        "p50_s": round(statistics.median(values), 3),
        "p95_s": pct(0.95),
        "max_s": ordered[-1],
        "values_s": values,
    }


def measure(url: str | None, strokes: int, training: bool, desktop: bool) -> dict:
    with ExitStack() as stack:
        if url is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = stack.enter_context(running_app(tmp / "server.log", env={"SIMPLECNN_RUNS": str(tmp / "runs")})).url
        if training:
            stack.enter_context(Trainer(url, budget=max(120.0, strokes * 6.0)))
        values = time_strokes(url, strokes, DESKTOP if desktop else PHONE)
    return {"device": "desktop 1280×900" if desktop else "phone 390×844 touch", "while_training": training} | summary(
        values
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strokes", type=int, default=30)
    parser.add_argument("--training", action="store_true", help="time the strokes while a run trains")
    parser.add_argument("--desktop", action="store_true", help="a 1280×900 page instead of a 390×844 phone")
    parser.add_argument("--url", help="a running server (default: start one)")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    result = measure(args.url, args.strokes, args.training, args.desktop)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
