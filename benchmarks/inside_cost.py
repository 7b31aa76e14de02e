"""What the inside view adds to /draw's stroke → prediction time, in a real browser, side by side.

Two copies of the app run at once: /draw as it is (`ui.inside.render_inside_view` under each answer), and /draw
with that call removed. Strokes alternate between them, so machine load hits both alike; the time is mouse-up →
script finished → every picture decoded.

    SIMPLECNN_DATA=/work/shared/data python3 benchmarks/inside_cost.py --strokes 15
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402

# /draw shows the inside view under each answer; the "plain" copy of the app has this block removed.
INSIDE_BLOCK = """
if prediction is not None:
    # What the network does with this digit (issue 15): cheap views at once, heavy ones when their section opens.
    render_inside_view(loaded.model, x, image, key="draw_inside")
"""
STROKES = {
    1: [[(0.52, 0.15), (0.5, 0.5), (0.48, 0.85)]],
    7: [[(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.62, 0.5), (0.5, 0.85)]],
    0: [[(0.5 + 0.24 * math.sin(t * math.pi / 20), 0.5 - 0.34 * math.cos(t * math.pi / 20)) for t in range(42)]],
}  # one stroke each: the prediction appears when it ends


def app_copy(with_inside: bool) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="inside-cost-"))
    for name in ("app.py", "pages", "ui", "simplecnn", "checkpoints", ".streamlit"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, folder / name)
    if not with_inside:
        draw = folder / "pages" / "draw.py"
        text = draw.read_text()
        if INSIDE_BLOCK not in text:
            raise SystemExit("pages/draw.py changed: update INSIDE_BLOCK in benchmarks/inside_cost.py")
        draw.write_text(text.replace(INSIDE_BLOCK, "\n"))
    return folder


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    try:
        with running_app(folder / "streamlit.log", env={"PYTHONPATH": str(folder)}, cwd=folder) as app:
            yield app.url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Notes when the script run that the stroke starts has finished (a run can be over before Python could look).
WATCH_RUN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__run = {ran: false, done: false};
  new MutationObserver((_, obs) => {
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running') window.__run.ran = true;
    else if (window.__run.ran && state === 'notRunning') { window.__run.done = true; obs.disconnect(); }
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def idle(page, timeout_s: float = 120) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_s * 1000)


def all_images_decoded(page) -> None:
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMain"] img')]
        .every(e => e.complete)""",
        timeout=60_000,
    )


def stroke_time(page, digit: int) -> tuple[float, float]:
    """(mouse-up → the Prediction metric shows, mouse-up → run finished and every picture decoded) in seconds,
    for the last stroke of the digit (the one that completes it). Expects a cleared canvas."""
    canvas = page.locator("canvas.upper-canvas").first
    box = canvas.bounding_box()
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
    start = predicted = 0.0
    for i, stroke in enumerate(STROKES[digit]):
        page.mouse.move(box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=6)
        page.evaluate(WATCH_RUN)
        start = time.perf_counter()
        page.mouse.up()
        if i == len(STROKES[digit]) - 1 and metric.count() == 0:
            metric.first.wait_for(timeout=60_000)
        predicted = time.perf_counter()
        page.wait_for_function("window.__run.done", timeout=120_000)
        all_images_decoded(page)
    return predicted - start, time.perf_counter() - start


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))], 3)


def _time_views(model, x, image, timed) -> None:
    """Each view of one digit, as ui/inside.py computes it."""
    from simplecnn import explain
    from simplecnn.figures import inside as plots

    act = timed("activations", lambda: explain.activations(model, x))
    timed(
        "preprocessing + plain resize",
        lambda: explain.score(model, explain.pixels_of(explain.preprocess_view(image).plain)),
    )
    attr = timed("attribution (IG, 16 steps)", lambda: explain.integrated_gradients(model, x))
    timed(
        "pictures (4 stages, filters, fc128, overlay)",
        lambda: [
            *(plots.feature_maps(act.stage(n)) for n in explain.CONV_STAGES),
            plots.filters(explain.conv1_filters(model)),
            plots.activations_strip(act.fc128),
            plots.attribution_overlay(explain.pixels_of(x), attr.pixels),
        ],
    )
    timed("nearest 5 training digits", lambda: explain.nearest_training_digits(model, x))
    emap = explain.embedding_map(model)
    base = plots.embedding_map(emap.points, emap.labels)  # drawn once per model (ui/inside.py keeps it)
    timed("map: place the digit", lambda: plots.mark_map(base, emap.points, emap.place(act.fc128)))
    setting = explain.Transform(2, 1, 15, 0.9, 1, 0.1)
    timed("robustness (one setting)", lambda: explain.robustness(model, x, setting))
    timed("adversarial (eps 0.15)", lambda: explain.adversarial(model, x, 0.15))


def view_times(digits: int) -> dict:
    """Median and max ms of each view's computation over test digits, on one thread as ui/inside.py runs them."""
    import numpy as np

    from simplecnn import explain
    from simplecnn.checkpoint import load_model
    from simplecnn.data import load_mnist
    from simplecnn.inference.synthetic import make_drawing

    model, _ = load_model()
    data, rng = load_mnist(), np.random.default_rng(0)
    explain.split_embeddings(model, "train"), explain.embedding_map(model)  # cached: the per-view cost only
    views: dict[str, list[float]] = {}

    def timed(name: str, fn):
        start = time.perf_counter()
        with explain.single_threaded():
            out = fn()
        views.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return out

    for i in range(digits + 1):
        x = data.test_x[i : i + 1]
        _time_views(model, x, make_drawing(explain.pixels_of(x), rng, encoding="alpha"), timed)
        if i == 0:
            views.clear()  # warm-up: captum import, first allocations
    return {
        name: {"median_ms": round(sorted(v)[len(v) // 2], 1), "max_ms": round(max(v), 1)} for name, v in views.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=15, help="measured digits per variant")
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    parser.add_argument("--views", type=int, default=0, help="instead: time each view's computation on N digits")
    args = parser.parse_args()
    if args.views:
        print(json.dumps(view_times(args.views), indent=1))
        return
    from playwright.sync_api import sync_playwright

    with serve(app_copy(False)) as plain_url, serve(app_copy(True)) as inside_url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pages = {}
        for name, url in (("plain", plain_url), ("inside", inside_url)):
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(url + "/draw")
            page.locator("canvas.upper-canvas").first.wait_for(timeout=120_000)
            idle(page)
            stroke_time(page, 1)  # warm-up: first imports, captum, first pictures
            pages[name] = page
        times: dict[str, dict[str, list[float]]] = {n: {"prediction": [], "complete": []} for n in pages}
        for i in range(args.strokes):
            for name, page in pages.items():
                page.get_by_role("button", name="Clear").click()
                time.sleep(0.5)
                idle(page)
                predicted, complete = stroke_time(page, (1, 7, 0)[i % 3])
                times[name]["prediction"].append(predicted)
                times[name]["complete"].append(complete)
        browser.close()
    summary: dict = {"strokes": args.strokes}
    for what in ("prediction", "complete"):
        plain, inside = times["plain"][what], times["inside"][what]
        extra = [b - a for a, b in zip(plain, inside, strict=True)]
        summary[what] = {
            "plain_p50_s": _pct(plain, 0.5),
            "plain_p95_s": _pct(plain, 0.95),
            "inside_p50_s": _pct(inside, 0.5),
            "inside_p95_s": _pct(inside, 0.95),
            "extra_p50_s": _pct(extra, 0.5),
            "extra_p95_s": _pct(extra, 0.95),
        }
    summary["raw"] = times
    print(json.dumps(summary, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
