"""What watching a run costs the server: the same run trained with its Train page open (the live panel's timed
reruns, over the protocol client, no rendering) and with its page closed right after "Start training".

    python benchmarks/watch_cost.py --pairs 3 --limit-train 6000 --watchers 1

Runs alternate in ABBA order (unwatched, watched, watched, unwatched, …) on one server, so a machine that
slows down mid-way hits both kinds; each run's time is the scheduler's own "completed after X s" (start of
training to its end). It prints the median of watched/unwatched per pair. Closing the page does not cancel
a run (the room's keep-alive rule), which is what makes the unwatched run possible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from st_client import StreamlitSession  # noqa: E402

from tests.support.app_server import running_app  # noqa: E402

DONE = re.compile(r"(run-\d+) (completed|early_stopped) after ([\d.]+) s")


def run_seconds(server, run_id: str, timeout: float = 900) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for found, _, seconds in DONE.findall(server.log_tail(10_000_000)):
            if found == run_id:
                return float(seconds)
        time.sleep(0.5)
    raise TimeoutError(f"{run_id} did not finish within {timeout:.0f} s")


async def one_run(url: str, server, n: int, watchers: int, limit_train: int) -> float:
    """Run number n (run-n on this server): start it from a Train page; keep `watchers` pages open on it."""
    session = await StreamlitSession.open(url, "train")
    # A fixed amount of work, not the Quick preset's 30 s budget: a budget run takes its budget by construction,
    # so its time could not show what watching costs.
    await session.set_number("tf_budget", 0)
    await session.set_number("tf_limit_train", limit_train)
    await session.click("train_start")
    token = session.query_string
    pages = [session]
    if watchers == 0:
        await session.close()
        pages = []
    else:
        pages += [await StreamlitSession.open(url, "train", query_string=token) for _ in range(watchers - 1)]
    seconds = await asyncio.to_thread(run_seconds, server, f"run-{n}")
    for page in pages:
        await page.close()
    return seconds


async def drive(url: str, server, args) -> list[dict]:
    pairs, n = [], 0
    await one_run(url, server, n := n + 1, 0, 1000)  # warm-up: loads MNIST, measures speed for estimates
    for k in range(args.pairs):
        # ABBA order: a machine whose load drifts during the benchmark favours neither kind.
        if k % 2 == 0:
            unwatched = await one_run(url, server, n := n + 1, 0, args.limit_train)
            watched = await one_run(url, server, n := n + 1, args.watchers, args.limit_train)
        else:
            watched = await one_run(url, server, n := n + 1, args.watchers, args.limit_train)
            unwatched = await one_run(url, server, n := n + 1, 0, args.limit_train)
        pairs.append({"unwatched_s": unwatched, "watched_s": watched, "ratio": round(watched / unwatched, 3)})
        print(pairs[-1], flush=True)
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--limit-train", type=int, default=6000, help="training images per run (budget off)")
    parser.add_argument("--watchers", type=int, default=1, help="pages open on the watched run")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    if not (1 <= args.pairs <= 10 and 1 <= args.watchers <= 30):
        parser.error("bounded: 1-10 pairs, 1-30 watchers")
    with tempfile.TemporaryDirectory() as tmp:
        with running_app(
            Path(tmp) / "server.log", env={"SIMPLECNN_RUNS": str(Path(tmp) / "runs"), "SIMPLECNN_LOG": "info"}
        ) as server:
            pairs = asyncio.run(drive(server.url, server, args))
    ratios = [p["ratio"] for p in pairs]
    summary = {
        "pairs": pairs,
        "watchers": args.watchers,
        "limit_train": args.limit_train,
        "median_watched_over_unwatched": statistics.median(ratios),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
