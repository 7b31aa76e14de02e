"""Seconds each lesson's computation takes on this machine, with the defaults the lesson pages use.

    python benchmarks/lessons_cost.py [--json benchmarks/results/lessons-cost.json] [--only race,compare]

Each lesson must stay within about a minute of a 2-core CPU (the training ones are time-budgeted by design).
Figures are wall-clock and include the machine's other load (recorded beside them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simplecnn.checkpoint import load_model  # noqa: E402
from simplecnn.data import load_mnist, normalize  # noqa: E402
from simplecnn.model import LeNet5, SimpleCNN  # noqa: E402


def lessons(model, data) -> dict[str, Callable[[], object]]:
    from simplecnn.lessons import compare, layouts, loss, mistakes, modes, nograd, overfit, race, shapes

    x, y = normalize(data.test_pixels[: modes.IMAGES]), data.test_y[: modes.IMAGES]
    small = data.subset(overfit.TRAIN_IMAGES, overfit.TEST_IMAGES)
    return {
        "1 shapes": lambda: (shapes.layer_table(SimpleCNN()), shapes.layer_table(LeNet5()), shapes.check_conv(28, 3)),
        "2 train_vs_eval": lambda: modes.train_vs_eval(model, x, y),
        "3 no_grad": lambda: nograd.no_grad_costs(model, normalize(data.test_pixels[: nograd.IMAGES])),
        "4 loss_parts": lambda: loss.loss_parts(model, x[0], int(y[0])),
        "4 softmax_race": lambda: list(race.race(race.Mistake.SOFTMAX_AT_END, data)),
        "5 zero_grad": lambda: mistakes.accumulated_gradients(model, x[:64], y[:64]),
        "5 one_hot": lambda: mistakes.one_hot_outcome(model, x[:8], y[:8]),
        "5 device": lambda: mistakes.device_mismatch(model, x[:2]),
        "5 race_no_zero_grad": lambda: list(race.race(race.Mistake.NO_ZERO_GRAD, data)),
        "6 overfit": lambda: list(overfit.compare_remedies(overfit.Remedies(0.25, 0.5, True, 1e-4, 5), small)),
        "7 compare": lambda: list(compare.comparison_runs(data=data)),
        "8 layouts": lambda: layouts.layout_facts(model, normalize(data.train_pixels[:128])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--only", default="", help="comma-separated substrings of lesson names")
    args = parser.parse_args()
    model, data = load_model()[0], load_mnist()
    results = {}
    for name, compute in lessons(model, data).items():
        if args.only and not any(part in name for part in args.only.split(",")):
            continue
        load, start, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
        compute()
        results[name] = {
            "seconds": round(time.perf_counter() - start, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2),
            "load_average_before": load,
        }
        print(name, results[name], flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
