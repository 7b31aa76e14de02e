"""Workshop load test: N participants click "Start training" (Quick preset) within the same minute, some of them
reload their page mid-run, while other sessions keep drawing digits on /draw.

    python benchmarks/load_test.py --sessions 30 --reloaders 10 --closers 5 --drawers 2 --train-seconds 1200

A reload is what a browser does: the websocket session ends and a new one opens with the same URL, whose query
string carries the participant's private token (`?p=...`); the new session must show the same run (its id and
a working Stop). A closer's page closes while its run waits in the queue and the link opens again --closed-for
seconds later: the run kept its place and shows, finished or not. A run counts as lost if it ends any other way
than completed or stopped by its participant.

It starts its own `streamlit run app.py` on a loopback port (runs go to a temporary folder) and reports:
runs started / queued / completed / cancelled, the most runs the server trained at once (from its scheduler
log), errors per session, p50/p95 time from lifting the pen to a shown prediction while training runs, and
the server's peak RSS. After --train-seconds every session whose run has not finished presses "Stop" (that
is "cancelled by its session"). Bounded: every wait has a timeout, and the script stops by itself. The drawers'
pages load before the participants arrive, so that the strokes are measured while the runs train.

Trainer sessions speak Streamlit's websocket protocol (benchmarks/st_client.py): the same messages the
browser sends (page load, preset, Start, the live panel's timed reruns, Stop), without rendering. Drawers
are real headless Chromium pages, because drawing needs the canvas. All clients share the server's machine,
so on a 2-core box 30 rendering browsers would measure the browsers rather than the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from st_client import StreamlitSession  # noqa: E402

from simplecnn.training.events import RunStatus  # noqa: E402
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402

EXCEPTION = '[data-testid="stException"]'
DRAWER_READY_TIMEOUT = 300  # seconds a trainer waits for the drawers' pages to load (a drawer that fails sets it too)
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


async def wait_idle(page, timeout: float = 60) -> None:
    await page.wait_for_selector(IDLE, timeout=timeout * 1000)


def classify(text: str) -> str:
    """The run's status as the participant's page shows it (RunStatus values; "unknown" otherwise)."""
    if "Queued: position" in text:
        return RunStatus.QUEUED
    if "Training failed" in text:
        return RunStatus.FAILED
    if "Stopped (" in text:
        return RunStatus.CANCELLED
    if "Done —" in text:
        return RunStatus.COMPLETED
    if "ETA" in text or "starting" in text:
        return RunStatus.RUNNING
    return "unknown"


def run_heading(text: str) -> str:
    """The live panel's "Run N · ..." heading (the run's id as the page shows it), or ''."""
    match = re.search(r"^Run (\d+) ·", text, re.MULTILINE)
    return match.group(1) if match else ""


async def reload(url: str, session: StreamlitSession, away: float = 0.0) -> tuple[StreamlitSession, float, bool]:
    """Close this page's websocket and open a new session with the same URL query (a browser reload; after `away`
    seconds: a page closed, then the link opened again). Returns the new session, seconds until it showed the run
    again, and whether it is the same run."""
    before, query = run_heading(session.shown_text()), session.query_string
    await session.close()
    await asyncio.sleep(away)
    started = time.perf_counter()
    session = await StreamlitSession.open(url, "train", query_string=query)
    same = bool(before) and run_heading(session.shown_text()) == before
    return session, time.perf_counter() - started, same


async def start_quick(url: str, args) -> StreamlitSession:
    """Open /train (Quick by default), apply the overrides, press Start training."""
    session = await StreamlitSession.open(url, "train")
    if "The Quick" not in session.shown_text():
        raise RuntimeError("the Train page did not open on the Quick preset")
    if not session.query_param("p"):
        raise RuntimeError("the Train page did not put a participant token in the URL")
    for key, value in (("tf_limit_train", args.limit_train), ("tf_limit_test", args.limit_test)):
        if value:
            await session.set_number(key, value)
    if args.budget:
        await session.set_number("tf_budget", float(args.budget))
    await session.click("train_start")
    return session


async def trainer(
    url: str, i: int, args, deadline: float, drawers_ready: asyncio.Event, training: asyncio.Event, results: list
) -> None:
    """One participant: open /train, pick Quick, press Start training, keep the page open until the run ends
    (the live panel's timed reruns are what keeps the run alive), press Stop after the deadline."""
    errors: list[str] = []
    seen: set[str] = set()
    status, session, clicked, ended = "not started", None, None, None
    reloads: list[dict] = []
    closes: list[dict] = []
    stopped = False
    try:
        # The drawers' pages first (a browser page takes seconds to load): their strokes are what is measured
        # while the runs train, however short the runs are.
        with contextlib.suppress(TimeoutError):  # a drawer that hangs reports itself; the trainers go on
            await asyncio.wait_for(drawers_ready.wait(), DRAWER_READY_TIMEOUT)
        await asyncio.sleep(i * args.stagger)  # "within the same minute", not in the same millisecond
        session = await start_quick(url, args)
        clicked, status = time.perf_counter(), "clicked"
        training.set()
        stop_deadline = None
        reload_at = time.perf_counter() + args.reload_after if i < args.reloaders else None
        closes_page = i >= args.sessions - args.closers  # the last to arrive: the likeliest to wait in the queue
        while True:
            status = classify(session.shown_text())
            seen.add(status)
            if status in (RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.FAILED):
                ended = time.perf_counter()
                break
            # A reload while queued counts too: on a slow box a run may wait its turn for minutes.
            if (
                reload_at is not None
                and time.perf_counter() >= reload_at
                and status in (RunStatus.RUNNING, RunStatus.QUEUED)
            ):
                reload_at = None
                session, seconds, same = await reload(url, session)
                reloads.append({"seconds": round(seconds, 2), "same_run": same})
                if not same:
                    errors.append("after a reload the page did not show the same run")
                continue
            if closes_page and status == RunStatus.QUEUED:  # the page closed while queued, the link opened later
                closes_page = False
                session, seconds, same = await reload(url, session, away=args.closed_for)
                closes.append({"away_s": args.closed_for, "seconds": round(seconds, 2), "same_run": same})
                if not same:
                    errors.append(f"after its page was closed for {args.closed_for:g} s the link did not show the run")
                continue
            if session.closed:
                raise ConnectionError(session.closed)
            if stop_deadline is None and time.time() > deadline:
                stopped = True
                await session.click("train_stop")
                stop_deadline = time.time() + 60
            elif stop_deadline is not None and time.time() > stop_deadline:
                errors.append("the run did not end within 60 s of Stop")
                break
            await asyncio.sleep(1.0)
    except Exception as exc:  # noqa: BLE001 - a failed session is a finding, not a crash of the test
        errors.append(f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}")
    finally:
        if session is not None:
            errors += [f"exception shown: {e}" for e in session.exceptions] + session.errors
            await session.close()
        results.append(
            {
                "session": i,
                "final": status,
                "was_queued": RunStatus.QUEUED in seen,
                "errors": errors,
                "reloads": reloads,
                "closes": closes,
                "stopped_by_participant": stopped,
                "seconds_to_end": round(ended - clicked, 1) if clicked and ended else None,
            }
        )


STROKES = {
    1: [[(0.52, 0.15), (0.5, 0.5), (0.48, 0.85)]],
    0: [
        [(0.5 + 0.24 * math.sin(t * 2 * math.pi / 40), 0.5 - 0.34 * math.cos(t * 2 * math.pi / 40)) for t in range(42)]
    ],
}


async def drawer(
    browser,
    url: str,
    i: int,
    ready: asyncio.Event,
    training: asyncio.Event,
    stop: asyncio.Event,
    latencies: list,
    results: list,
) -> None:
    """One session on /draw: once its page is ready (`ready` set, also if it failed), and training has begun,
    a digit every second until `stop`."""
    errors: list[str] = []
    correct = strokes = 0
    ctx = None
    try:
        ctx = await browser.new_context(viewport={"width": 1000, "height": 800})
        page = await ctx.new_page()
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        await page.goto(url + "/draw", timeout=120_000)
        canvas = page.locator("canvas.upper-canvas").first
        await canvas.wait_for(timeout=120_000)
        await wait_idle(page, 120)
        value = (
            page.locator('[data-testid="stMetric"]')
            .filter(has_text="Prediction")
            .locator('[data-testid="stMetricValue"]')
        )
        ready.set()
        await asyncio.wait_for(training.wait(), 300)  # the figure that matters is while training runs
        k = 0
        while not stop.is_set():
            digit = (1, 0)[k % 2]
            if k:
                await page.get_by_role("button", name="Clear").click(timeout=60_000)
                await value.first.wait_for(state="detached", timeout=60_000)
                await wait_idle(page, 60)
            await canvas.scroll_into_view_if_needed()
            box = await canvas.bounding_box()
            for stroke in STROKES[digit]:
                await page.mouse.move(box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"])
                await page.mouse.down()
                for x, y in stroke[1:]:
                    await page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=4)
                await page.mouse.up()
            lifted = time.perf_counter()
            await value.first.wait_for(state="visible", timeout=60_000)
            latencies.append(time.perf_counter() - lifted)
            strokes += 1
            correct += (await value.first.inner_text()).strip() == str(digit)
            k += 1
            await asyncio.sleep(1.0)
        n_exc = await page.locator(EXCEPTION).count()
        if n_exc:
            errors.append(f"{n_exc} exception element(s) on /draw")
    except Exception as exc:  # noqa: BLE001
        errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        ready.set()  # a drawer that failed to load holds no trainer back
        results.append({"drawer": i, "strokes": strokes, "correct": correct, "errors": errors})
        if ctx is not None:
            await ctx.close()


def max_concurrent_from_log(log: str) -> tuple[int, int]:
    """(most runs training at once, the scheduler's limit K) from the scheduler's INFO lines."""
    running = [int(m) for m in re.findall(r"scheduler: run-\d+ started \(running (\d+)/", log)]
    limits = [int(m) for m in re.findall(r"scheduler: run-\d+ started \(running \d+/(\d+)", log)]
    return (max(running) if running else 0), (limits[0] if limits else 0)


async def drive(url: str, args, server) -> dict:
    from playwright.async_api import async_playwright

    rss: list[float] = []
    latencies: list[float] = []
    trainers: list[dict] = []
    drawers: list[dict] = []
    stop, training = asyncio.Event(), asyncio.Event()
    ready = [asyncio.Event() for _ in range(args.drawers)]
    all_ready = asyncio.Event()

    async def drawers_ready():
        await asyncio.gather(*(event.wait() for event in ready))
        all_ready.set()

    async def sample_rss():
        while not stop.is_set():
            value = server.rss_mb()
            if value:
                rss.append(value)
            await asyncio.sleep(0.5)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        deadline = time.time() + args.train_seconds
        sampler = asyncio.create_task(sample_rss())
        draw_tasks = [
            asyncio.create_task(drawer(browser, url, i, ready[i], training, stop, latencies, drawers))
            for i in range(args.drawers)
        ]
        waiting = asyncio.create_task(drawers_ready())
        await asyncio.gather(
            *(trainer(url, i, args, deadline, all_ready, training, trainers) for i in range(args.sessions))
        )
        waiting.cancel()
        stop.set()
        await asyncio.gather(*draw_tasks, sampler)
        await browser.close()
    return {
        "trainers": sorted(trainers, key=lambda r: r["session"]),
        "drawers": drawers,
        "latencies": latencies,
        "rss_samples_peak": max(rss) if rss else None,
    }


def _find_all(text: str, needle: str) -> list[int]:
    found, at = [], text.find(needle)
    while at >= 0:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def summarize(raw: dict, log: str, peak_hwm: float | None, args, wall: float) -> dict:
    finals = [t["final"] for t in raw["trainers"]]
    reloads = [r for t in raw["trainers"] for r in t["reloads"]]
    closes = [c for t in raw["trainers"] for c in t["closes"]]
    # Lost: ended any other way than completed, or cancelled by its own participant's Stop.
    lost = [
        t["session"]
        for t in raw["trainers"]
        if not (
            t["final"] == RunStatus.COMPLETED or (t["final"] == RunStatus.CANCELLED and t["stopped_by_participant"])
        )
    ]
    lat = sorted(raw["latencies"])

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(math.ceil(q * len(lat))) - 1)]

    most, limit = max_concurrent_from_log(log)
    ends = [t["seconds_to_end"] for t in raw["trainers"] if t["final"] == RunStatus.COMPLETED and t["seconds_to_end"]]
    return {
        "sessions": args.sessions,
        "drawers": args.drawers,
        "wall_seconds": round(wall, 1),
        "runs_started": len(re.findall(r"scheduler: run-\d+ started", log)),
        "runs_queued": sum(t["was_queued"] for t in raw["trainers"]),
        "runs_completed": finals.count(RunStatus.COMPLETED),
        "runs_cancelled": finals.count(RunStatus.CANCELLED),
        "runs_failed": finals.count(RunStatus.FAILED),
        "runs_other": [f for f in finals if f not in (RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.FAILED)],
        "reloads": len(reloads),
        "reloads_same_run": sum(r["same_run"] for r in reloads),
        "reload_to_run_shown_max_s": max((r["seconds"] for r in reloads), default=None),
        "closed_while_queued": len(closes),
        "closed_then_same_run": sum(c["same_run"] for c in closes),
        "runs_lost": lost,
        "last_run_finished_after_s": max((t["seconds_to_end"] or 0 for t in raw["trainers"]), default=None),
        "max_running_at_once": most,
        "scheduler_limit": limit,
        "session_errors": {str(t["session"]): t["errors"] for t in raw["trainers"] if t["errors"]},
        "drawer_errors": {str(d["drawer"]): d["errors"] for d in raw["drawers"] if d["errors"]},
        "strokes": len(lat),
        "strokes_read_right": sum(d["correct"] for d in raw["drawers"]),
        "stroke_to_prediction_p50_s": round(statistics.median(lat), 3) if lat else None,
        "stroke_to_prediction_p95_s": round(pct(0.95), 3) if lat else None,
        "server_peak_rss_mb": round(max(filter(None, [peak_hwm, raw["rss_samples_peak"]])), 1)
        if (peak_hwm or raw["rss_samples_peak"])
        else None,
        "server_exceptions_in_log": log.count("Traceback"),
        # The first tracebacks themselves (a count alone says nothing about what to fix).
        "server_tracebacks": [log[at : at + 4000] for at in _find_all(log, "Traceback")[:3]],
        "completed_run_seconds_from_click_p50_max": [round(statistics.median(ends), 1), max(ends)] if ends else None,
        "scheduler_log": [line for line in log.splitlines() if "simplecnn.workshop.scheduler:" in line][-80:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30, help="sessions that click Start training")
    parser.add_argument("--drawers", type=int, default=2, help="sessions that keep drawing on /draw")
    parser.add_argument(
        "--reloaders",
        type=int,
        default=0,
        help="participants who reload their page (new session, same link) once their run trains",
    )
    parser.add_argument(
        "--reload-after",
        type=float,
        default=3.0,
        help="seconds after Start (once the run trains) before a reloader reloads",
    )
    parser.add_argument(
        "--closers",
        type=int,
        default=0,
        help="the last N participants close their page while their run is queued and open the link again later",
    )
    parser.add_argument("--closed-for", type=float, default=120.0, help="seconds a closer's page stays closed")
    parser.add_argument(
        "--train-seconds", type=float, default=1200, help="after this, sessions stop their unfinished runs"
    )
    parser.add_argument("--limit-train", type=int, default=0, help="override the Quick preset's training images")
    parser.add_argument(
        "--limit-test", type=int, default=0, help="override the Quick preset's test images (its evaluations)"
    )
    parser.add_argument("--budget", type=float, default=0, help="override the Quick preset's time budget (seconds)")
    parser.add_argument("--stagger", type=float, default=1.0, help="seconds between sessions' arrivals")
    parser.add_argument("--json", help="also write the summary to this file")
    args = parser.parse_args()
    if not (1 <= args.sessions <= 60 and 0 <= args.drawers <= 10 and args.train_seconds <= 3600):
        parser.error("bounded load only: 1–60 sessions, 0–10 drawers, at most 3600 s")
    if not (0 <= args.closers <= args.sessions and 0 <= args.closed_for <= 600):
        parser.error("--closers: 0 to --sessions; --closed-for: 0–600 s")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.time()
        with running_app(
            Path(tmp) / "server.log", env={"SIMPLECNN_RUNS": str(Path(tmp) / "runs"), "SIMPLECNN_LOG": "info"}
        ) as server:
            raw = asyncio.run(drive(server.url, args, server))
            peak = server.peak_rss_mb()
            log = server.log_tail(10_000_000)
        summary = summarize(raw, log, peak, args, time.time() - started)
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    ok = (
        not summary["session_errors"]
        and not summary["drawer_errors"]
        and summary["runs_failed"] == 0
        and not summary["runs_other"]
        and not summary["runs_lost"]
        and summary["server_exceptions_in_log"] == 0
        and summary["max_running_at_once"] <= summary["scheduler_limit"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
