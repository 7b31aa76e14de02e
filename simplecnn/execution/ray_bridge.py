"""The Ray driver of one app process (`python -m simplecnn.execution.ray_bridge`, started by RayExecutor).

Ray's driver ends its own process when the cluster's control store stays unreachable, so it must not live inside
the Streamlit server. The bridge reads commands from the app on stdin, puts MNIST into the object store once,
submits one streaming task per run (simplecnn.execution.ray_worker), forwards its items as (kind, run, payload)
frames on stdout and cancels on request. It imports no torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from simplecnn import settings
from simplecnn.execution.ray_resources import (
    CANCEL_GRACE_S,
    DEFAULT_GPU_FRACTION,
    NODE_DIED,
    WORKER_DIED,
    cluster_capacity,
    infeasible,
    task_resources,
)
from simplecnn.execution.ray_worker import run_on_worker
from simplecnn.training.events import RunStatus


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else 'no detail'}"[:300]


def _mnist_payload(data_root: str | None) -> tuple[str | None, dict | None]:
    """The four raw MNIST files as bytes and their hash, or (None, None) when this machine lacks them."""
    raw_dir = settings.mnist_raw_dir(data_root)
    try:
        payload = {name: (raw_dir / name).read_bytes() for name in settings.MNIST_RAW_FILES}
    except OSError:
        return None, None
    digest = hashlib.sha1()
    for name in settings.MNIST_RAW_FILES:
        digest.update(payload[name])
    return digest.hexdigest()[:16], payload


class _Bridge:
    """State of the bridge process: the pipe to the app, the runs in flight."""

    def __init__(self, out: IO[bytes], cpus_per_run: int, gpu_fraction: float) -> None:
        self.out, self.cpus_per_run, self.gpu_fraction = out, cpus_per_run, gpu_fraction
        self.lock = threading.Lock()
        self.cancels: dict[str, threading.Event] = {}
        self.threads: list[threading.Thread] = []
        self.data_key: str | None = None
        self.data_ref: list | None = None
        self.remote: Any = None
        self.gpus = 0.0
        self.nodes: list[dict[str, float]] = []

    def send(self, kind: str, run: str | None, payload: Any) -> None:
        with self.lock:
            pickle.dump((kind, run, payload), self.out, protocol=pickle.HIGHEST_PROTOCOL)
            self.out.flush()

    def connect(self, address: str, data_root: str | None) -> dict:
        import ray

        ray.init(
            address=address,
            logging_level=logging.ERROR,
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"py_modules": [str(Path(__file__).resolve().parent)]},
        )
        self.remote = ray.remote(num_returns="streaming", max_retries=0)(run_on_worker)
        self.data_key, payload = _mnist_payload(data_root)
        if payload is not None:
            self.data_ref = [ray.put(payload)]
        return self.describe()

    def describe(self) -> dict:
        import ray

        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        self.nodes = nodes
        self.gpus = sum(n.get("GPU", 0.0) for n in nodes)
        return {
            "capacity": cluster_capacity(nodes, self.cpus_per_run, self.gpu_fraction),
            "nodes": len(nodes),
            "cpus": sum(n.get("CPU", 0.0) for n in nodes),
            "gpus": self.gpus,
            "data": "object store" if self.data_ref else "each worker's SIMPLECNN_DATA",
        }

    def start(self, run: str, config: dict, probe: list[float] | None, finetune: dict | None = None) -> None:
        resources = task_resources(config.get("device", "auto"), self.cpus_per_run, self.gpu_fraction, self.gpus)
        threads = int(resources["num_cpus"])
        cancel = self.cancels[run] = threading.Event()
        problem = infeasible(resources, self.nodes)
        if problem:  # Ray would keep such a task pending for ever, with the run shown as running
            self.send(RunStatus.FAILED, run, problem)
            return
        try:
            gen = self.remote.options(**resources).remote(
                config, probe, self.data_key, self.data_ref, threads, finetune
            )
        except Exception as exc:  # noqa: BLE001 - reported to the app as this run's failure
            self.send(RunStatus.FAILED, run, f"Ray refused the task ({_one_line(exc)})")
            return
        thread = threading.Thread(target=self.follow, args=(run, gen, cancel), daemon=True)
        self.threads.append(thread)
        thread.start()

    def follow(self, run: str, gen: Any, cancel: threading.Event) -> None:
        """Forward one task's items until it ends; cancel it (politely, then by force) when asked."""
        import ray

        asked: float | None = None
        forced = False
        while True:
            if cancel.is_set() and asked is None:
                ray.cancel(gen)
                asked = time.monotonic()
            elif asked is not None and not forced and time.monotonic() - asked > CANCEL_GRACE_S:
                ray.cancel(gen, force=True)
                forced = True
            ready, _ = ray.wait([gen], timeout=0.25)
            if not ready:
                continue
            try:
                item = ray.get(next(gen))
            except StopIteration:
                self.send("end", run, None)
                break
            except Exception as exc:  # noqa: BLE001 - every way a task ends becomes one line for the app
                kind, message = _classify(exc, asked is not None)
                self.send(kind, run, message)
                break
            self.send("item", run, item)
        self.cancels.pop(run, None)

    def stop_all(self, timeout: float = 10.0) -> None:
        for cancel in list(self.cancels.values()):
            cancel.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def _classify(exc: BaseException, cancel_asked: bool) -> tuple[str, str]:
    """A Ray exception → (CANCELLED or FAILED, one line)."""
    from ray import exceptions as rex

    if cancel_asked and isinstance(exc, (rex.TaskCancelledError, rex.WorkerCrashedError, rex.RayTaskError)):
        return RunStatus.CANCELLED, "stopped by request"
    if isinstance(exc, rex.TaskCancelledError):
        return RunStatus.CANCELLED, "cancelled on the Ray cluster"
    if isinstance(exc, rex.NodeDiedError):
        return RunStatus.FAILED, NODE_DIED
    if isinstance(exc, (rex.WorkerCrashedError, rex.OwnerDiedError, rex.ObjectLostError)):
        return RunStatus.FAILED, WORKER_DIED
    if isinstance(exc, rex.RayTaskError):
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        return RunStatus.FAILED, _one_line(cause)
    return RunStatus.FAILED, f"the Ray cluster failed this run ({_one_line(exc)})"


def bridge_main(address: str, data_root: str | None, cpus_per_run: int, gpu_fraction: float) -> int:
    """Read commands from stdin, write (kind, run, payload) frames on the original stdout; stdout itself
    goes to stderr so that nothing else (Ray, C libraries) can corrupt the frames."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    bridge = _Bridge(out, cpus_per_run, gpu_fraction)
    try:
        bridge.send("ready", None, bridge.connect(address, data_root))
    except Exception as exc:  # noqa: BLE001 - the app shows this line
        bridge.send("unavailable", None, f"the Ray cluster at {address} cannot be reached ({_one_line(exc)})")
        return 2
    commands = sys.stdin.buffer
    while True:
        try:
            kind, run, payload = pickle.load(commands)
        except (EOFError, pickle.UnpicklingError, OSError):
            break  # the app went away: cancel what it started
        if kind == "start":
            bridge.start(run, payload["config"], payload["probe"], payload.get("finetune"))
        elif kind == "cancel" and run in bridge.cancels:
            bridge.cancels[run].set()
        elif kind == "describe":
            bridge.send("described", None, bridge.describe())
    bridge.stop_all()
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m simplecnn.execution.ray_bridge",
        description="The Ray driver of one app process (started by RayExecutor).",
    )
    parser.add_argument("--address", default="auto")
    parser.add_argument("--data")
    parser.add_argument("--cpus-per-run", type=int, default=1)
    parser.add_argument("--gpu-fraction", type=float, default=DEFAULT_GPU_FRACTION)
    args = parser.parse_args(argv)
    return bridge_main(args.address, args.data, args.cpus_per_run, args.gpu_fraction)


if __name__ == "__main__":
    # Through the package's name, so that Ray pickles `run_on_worker` by reference (not as __main__'s).
    from simplecnn.execution.ray_bridge import main as _main

    sys.exit(_main())
