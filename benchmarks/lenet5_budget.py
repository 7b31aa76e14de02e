"""Issue 27's acceptance figure: `python -m simplecnn train --model lenet5 --budget 30 --json`, whole process.

    python benchmarks/lenet5_budget.py [--runs 3] [--budget 30] [--json benchmarks/results/lenet5-budget30.json]

Each run is a fresh process, timed from spawn to exit (imports, data load, training, evaluation and save); its
best.pt is then scored on all 10,000 test images by `python -m simplecnn evaluate`. The load average before and
after each run is recorded: on a shared 2-core machine the wall-clock figures are only as quiet as the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def simplecnn(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "simplecnn", *args], cwd=ROOT, capture_output=True, text=True)
    return done, time.perf_counter() - start


def one_run(budget: float, folder: Path) -> dict:
    load_before = os.getloadavg()[0]
    done, wall = simplecnn("train", "--model", "lenet5", "--budget", f"{budget:g}", "--json", "--out", str(folder))
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-500:], "whole_process_seconds": wall}
    summary = json.loads(done.stdout.splitlines()[-1])
    scored, _ = simplecnn("evaluate", "--checkpoint", str(folder / "best.pt"), "--json")
    return {
        "whole_process_seconds": round(wall, 2),
        "test_accuracy_10k": json.loads(scored.stdout)["accuracy"],
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        **{k: summary[k] for k in ("model", "recipe", "parameters", "seconds", "train_images", "best_accuracy")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(args.budget, Path(tmp)))
        print(json.dumps(runs[-1]), flush=True)
    result = {"command": f"python -m simplecnn train --model lenet5 --budget {args.budget:g} --json", "runs": runs}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
