"""Peak memory of one training run above the server's own level, per batch size: the basis of the memory
allowance (simplecnn.training.footprint), which must stay above every point measured here.

    python benchmarks/run_memory.py [--batches 64,128,...] [--json out.json]

Each point is a fresh process, as a server is: MNIST loaded, one small warm-up run (allocator, kernels), then the
peak resident memory (VmHWM, reset through /proc/self/clear_refs) over a run of two batches and an evaluation
on 1,000 test images, minus the resident memory before it. With and without augmentation. Memory figures do not
depend on the machine being busy; they do depend on the training path (AVX2 kernels or plain PyTorch layers).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, sys
from simplecnn.data import load_mnist
from simplecnn.device import configure_threads
from simplecnn.training.config import RECIPES
from simplecnn.training.engine import train
from simplecnn.training.footprint import run_memory_mb

def mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

configure_threads()
data = load_mnist()
for _ in train(RECIPES["tutorial"].replace(epochs=1, batch_size=64, limit_train=128, limit_test=256), data):
    pass
batch, augment = int(sys.argv[1]), sys.argv[2] == "1"
config = RECIPES["tutorial"].replace(
    epochs=1, batch_size=batch, limit_train=2 * batch, limit_test=1000, augment=augment, report_every=1
)
before = mb("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")
for event in train(config, data):
    pass
print(json.dumps({"batch": batch, "augment": augment, "server_mb": round(before, 1),
                  "run_peak_mb": round(mb("VmHWM:") - before, 1), "estimate_mb": round(run_memory_mb(config), 1)}))
"""


def measure(batch: int, augment: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MALLOC_ARENA_MAX="2", OMP_WAIT_POLICY="PASSIVE")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(batch), "1" if augment else "0"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="64,128,256,512,1024,2048,4096,8192")
    parser.add_argument("--json", help="write the points here as well")
    args = parser.parse_args()
    points = []
    for augment in (False, True):
        for batch in (int(b) for b in args.batches.split(",")):
            points.append(measure(batch, augment))
            print(json.dumps(points[-1]), flush=True)
    under = [p for p in points if p["estimate_mb"] < p["run_peak_mb"]]
    summary = {"points": points, "estimate_below_measured": under, "kernels": os.environ.get("SIMPLECNN_WGRAD", "auto")}
    print(json.dumps({"estimate_below_measured": len(under)}))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
