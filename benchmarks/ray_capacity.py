"""Runs per minute through the app's scheduler: local threads vs a local Ray head with 1 and 2 worker CPUs.

Each row submits the same N small runs from N sessions at once to a `TrainingScheduler` sized for its executor
(Ray: the cluster's capacity; local: this machine's default) and times first submit → last run finished, so
queueing, Ray's task start, worker start-up, MNIST transfer and checkpoint bytes are all inside the figure.
Rows run one after another on the same machine: compare them with each other, not with another day's numbers.

Must run in a loopback-only network namespace (root):
    unshare -n bash -c 'ip link set lo up; SIMPLECNN_DATA=../shared/data python3 benchmarks/ray_capacity.py'
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simplecnn.execution.base import Executor  # noqa: E402
from simplecnn.execution.choose import max_concurrent_for  # noqa: E402
from simplecnn.execution.local import LocalExecutor  # noqa: E402
from simplecnn.training.config import TrainConfig  # noqa: E402
from simplecnn.workshop.scheduler import TrainingScheduler  # noqa: E402
from tests.support.ray_head import ray_head, ray_unusable  # noqa: E402


def timed_batch(executor: Executor, config: TrainConfig, runs: int, max_concurrent: int | None) -> dict:
    """Submit `runs` runs at once; seconds from the first submit to the last finish, and per-run wall times."""
    with tempfile.TemporaryDirectory() as tmp:
        sched = TrainingScheduler(max_concurrent=max_concurrent, runs_root=tmp, away_after=3600, executor=executor)
        try:
            t0 = time.time()
            submitted = [sched.submit(f"bench-{i}", config.replace(seed=i)) for i in range(runs)]
            while any(r.active for r in submitted):
                time.sleep(0.2)
            seconds = max(r.finished or t0 for r in submitted) - t0
            failed = [r.message for r in submitted if not r.status.succeeded]
            return {
                "runs": runs,
                "max_concurrent": sched.max_concurrent,
                "seconds": round(seconds, 1),
                "runs_per_minute": round(runs * 60 / seconds, 2),
                "run_seconds": [round((r.finished or 0) - (r.started or 0), 1) for r in submitted],
                "failed_runs": failed,
                "node": submitted[0].info.node if submitted[0].info else None,
            }
        finally:
            sched.shutdown()


def ray_row(workers: int, config: TrainConfig, runs: int, warm: bool) -> dict:
    from simplecnn.execution.ray_client import RayExecutor

    with ray_head(num_cpus=workers) as cluster:
        executor = RayExecutor(cluster.address, connect_timeout=180)
        try:
            capacity = max_concurrent_for(executor)  # connects: not part of the timed batch
            if warm:  # one untimed run per slot: worker processes started, torch imported, MNIST decoded
                timed_batch(executor, config.replace(limit_train=128, limit_test=128), capacity or 1, capacity)
            row = timed_batch(executor, config, runs, capacity)
        finally:
            executor.close()
    label = f"ray, {workers} worker CPU{'s' * (workers > 1)} (1 thread per run){', warm workers' if warm else ''}"
    return {"executor": label, **row}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="runs submitted at once per row")
    parser.add_argument("--train", type=int, default=6000, help="training images per run (1 epoch)")
    parser.add_argument("--test", type=int, default=1000, help="test images per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker CPUs of the Ray head")
    parser.add_argument("--skip-local", action="store_true", help="no local-threads row")
    parser.add_argument("--warm", action="store_true", help="start the Ray workers before timing")
    parser.add_argument("--out", help="write the JSON here too")
    args = parser.parse_args(argv)
    reason = ray_unusable()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    config = TrainConfig(epochs=1, limit_train=args.train, limit_test=args.test, device="cpu")
    rows = []
    if not args.skip_local:
        rows.append(
            {"executor": "local threads (the app's default)", **timed_batch(LocalExecutor(), config, args.runs, None)}
        )
        print(json.dumps(rows[-1]), flush=True)
    for workers in args.workers:
        rows.append(ray_row(workers, config, args.runs, args.warm))
        print(json.dumps(rows[-1]), flush=True)
    run = {"epochs": 1, "train": args.train, "test": args.test, "batch": config.batch_size}
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": platform.node(),
        "cores": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "warm": args.warm,
        "run": run,
        "rows": rows,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
