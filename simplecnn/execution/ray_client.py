"""Train runs on a Ray cluster: each run is one Ray task whose events stream back as they happen.

Three processes take part, and only one of them imports Ray in the app's machine:

- the app (or the CLI) holds a `RayExecutor`. It never imports Ray: it talks to a *bridge* process over a pipe.
  Ray's driver ends its own process when the cluster's control store stays unreachable (about a minute after a
  head dies), so the driver must not live inside the Streamlit server. When the bridge dies, the app sees it,
  fails the runs in flight with one line, and trains new runs locally (the `fallback` executor).
- the bridge (`python -m simplecnn.execution.ray_bridge`, one per app process) is the Ray driver: it puts MNIST into
  the object store once, submits one streaming-generator task per run, forwards the items, cancels on request.
- the worker task (`run_on_worker`) trains with `simplecnn.training.engine.train` on whatever node Ray picked and yields
  plain tuples: events as dicts, and the best checkpoint's bytes after every best epoch (workers do not share
  the app's disk). MNIST reaches a worker process once: it keeps the decoded tensors keyed by the data's hash.

The code reaches the workers with the task (`runtime_env.py_modules`), so a worker needs only Python, torch and
ray of the same versions as the app, no checkout and no MNIST.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simplecnn import settings
from simplecnn.execution.base import Executor
from simplecnn.execution.ray_resources import DEFAULT_GPU_FRACTION, RayUnavailableError
from simplecnn.files import write_atomic
from simplecnn.training.events import BatchEnd, BeforeAfter, EpochEnd, Event, RunEnded, RunStarted, RunStatus

if TYPE_CHECKING:  # torch and the config are imported lazily: the app imports this module at start
    import torch

    from simplecnn.personal.finetune import FinetuneInputs
    from simplecnn.training.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class ClusterInfo:
    capacity: int
    nodes: int
    cpus: float
    gpus: float
    data: str


class _BridgeClient:
    """The app's handle on the bridge process: one reader thread routes frames to the runs' queues."""

    def __init__(
        self, address: str, data_root: str | None, cpus_per_run: int, gpu_fraction: float, connect_timeout: float
    ) -> None:
        self.address = address
        self._stderr = tempfile.TemporaryFile()
        args = [
            sys.executable,
            "-m",
            "simplecnn.execution.ray_bridge",
            "--address",
            address,
            "--cpus-per-run",
            str(cpus_per_run),
            "--gpu-fraction",
            str(gpu_fraction),
        ]
        if data_root:
            args += ["--data", str(data_root)]
        env = dict(os.environ, **{settings.RAY_RECONNECT.name: settings.ray_reconnect_seconds()})
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=settings.ROOT,
            env=env,
        )
        self._lock = threading.Lock()
        self._queues: dict[str, queue.Queue] = {}
        self._control: queue.Queue = queue.Queue()
        self.gone: str | None = None
        self.ready = False
        threading.Thread(target=self._read, name="simplecnn-ray-bridge", daemon=True).start()
        kind, info = self._control_reply(connect_timeout)
        if kind != "ready":
            self.close()
            raise RayUnavailableError(info or f"cannot connect to the Ray cluster at {address}")
        self.info = ClusterInfo(**info)
        self.ready = True

    def _control_reply(self, timeout: float) -> tuple[str, Any]:
        try:
            return self._control.get(timeout=timeout)
        except queue.Empty:
            return "unavailable", f"the Ray cluster at {self.address} did not answer within {timeout:.0f} s"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                kind, run, payload = pickle.load(self.proc.stdout)
            except Exception:  # noqa: BLE001 - EOF or a torn frame: the bridge is gone either way
                break
            if run is None:
                self._control.put((kind, payload))
                continue
            with self._lock:
                target = self._queues.get(run)
            if target is not None:
                target.put((kind, payload))
        self.proc.wait()
        what = "went away" if self.ready else "cannot be reached"
        self.gone = f"the Ray cluster at {self.address} {what} ({self._stderr_tail()})"
        self._control.put(("unavailable", self.gone))
        with self._lock:
            for target in self._queues.values():
                target.put((RunStatus.FAILED, self.gone))

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            lines = [ln.strip() for ln in self._stderr.read().decode(errors="replace").splitlines() if ln.strip()]
        except (OSError, ValueError):
            lines = []
        hint = next((ln for ln in reversed(lines) if "GCS" in ln or "Error" in ln), "")
        if not hint:
            return f"the Ray driver exited with code {self.proc.returncode}"
        # "[2026-… E 123 456] rpc_client.h:204: Failed to connect to GCS within 20 seconds. GCS may have…"
        message = hint.split("] ", 1)[-1]
        message = message.split(": ", 1)[-1] if ".h:" in message.split(": ", 1)[0] else message
        return message.split(". ", 1)[0].strip()[:160]

    def send(self, kind: str, run: str | None, payload: Any = None) -> None:
        with self._lock:
            if self.gone or self.proc.stdin is None:
                raise RayUnavailableError(self.gone or f"the Ray cluster at {self.address} is not connected")
            try:
                pickle.dump((kind, run, payload), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise RayUnavailableError(f"the Ray cluster at {self.address} went away") from None

    def subscribe(self, run: str) -> queue.Queue:
        with self._lock:
            self._queues[run] = queue.Queue()
            if self.gone:
                self._queues[run].put((RunStatus.FAILED, self.gone))
            return self._queues[run]

    def unsubscribe(self, run: str) -> None:
        with self._lock:
            self._queues.pop(run, None)

    def describe(self, timeout: float = 30.0) -> ClusterInfo:
        self.send("describe", None)
        kind, info = self._control_reply(timeout)
        if kind != "described":
            raise RayUnavailableError(str(info))
        self.info = ClusterInfo(**info)
        return self.info

    def close(self, timeout: float = 15.0) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # EOF: the bridge cancels its runs and disconnects
            self.proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


class RayExecutor:
    """Run each training run as one Ray task (see the module's doc). Thread-safe: the scheduler calls
    `execute` from several worker threads at once."""

    name = "ray"

    def __init__(
        self,
        address: str = "auto",
        data_root: str | None = None,
        cpus_per_run: int = 1,
        gpu_fraction: float = DEFAULT_GPU_FRACTION,
        fallback: Executor | None = None,
        connect_timeout: float = 60.0,
        retry_after: float = 60.0,
    ) -> None:
        self.address, self.data_root = address, data_root
        self.cpus_per_run, self.gpu_fraction = max(1, cpus_per_run), gpu_fraction
        self.fallback, self.connect_timeout, self.retry_after = fallback, connect_timeout, retry_after
        self._lock = threading.Lock()
        self._client: _BridgeClient | None = None
        self._failed_at: float | None = None
        self.unavailable: str | None = None  # why the last connection failed (shown as the fallback's reason)
        self._ids = 0

    def connect(self) -> _BridgeClient:
        """The live bridge, started on first use and again after the cluster went away (at most every
        `retry_after` seconds); raises RayUnavailableError."""
        with self._lock:
            if self._client is not None and self._client.gone is None:
                return self._client
            if self._client is not None:
                self.unavailable, self._failed_at = self._client.gone, time.monotonic()
                self._client.close()
                self._client = None
            if self._failed_at is not None and time.monotonic() - self._failed_at < self.retry_after:
                raise RayUnavailableError(self.unavailable or f"the Ray cluster at {self.address} is unavailable")
            try:
                self._client = _BridgeClient(
                    self.address, self.data_root, self.cpus_per_run, self.gpu_fraction, self.connect_timeout
                )
            except RayUnavailableError as exc:
                self.unavailable, self._failed_at = str(exc), time.monotonic()
                raise
            self.unavailable, self._failed_at = None, None
            log.info("connected to the Ray cluster at %s: %s", self.address, self._client.info)
            return self._client

    def capacity(self) -> int:
        """Runs the cluster can train at once (the scheduler's max_concurrent); at least 1."""
        return max(1, self.connect().info.capacity)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def execute(
        self,
        config: TrainConfig,
        cancel: threading.Event,
        out_path: Path,
        probe: torch.Tensor | None = None,
        finetune: FinetuneInputs | None = None,
    ) -> Iterator[Event]:
        try:
            client = self.connect()
        except RayUnavailableError as exc:
            if self.fallback is None:
                raise
            log.warning("training on this machine: %s", exc)
            yield from _fall_back(self.fallback, str(exc), config, cancel, out_path, probe, finetune)
            return
        with self._lock:
            self._ids += 1
            run = f"r{self._ids}"
        inbox = client.subscribe(run)
        ended = False
        try:
            flat = probe.detach().float().cpu().reshape(-1).tolist() if probe is not None else None
            job = finetune.to_dict() if finetune is not None else None  # plain bytes and numbers: no torch
            client.send("start", run, {"config": config.to_dict(), "probe": flat, "finetune": job})
            yield from _follow(client, run, inbox, cancel, Path(out_path))
            ended = True
        except RayUnavailableError as exc:  # the cluster went away before this run started: train it here
            ended = True
            if self.fallback is None:
                raise
            log.warning("training on this machine: %s", exc)
            yield from _fall_back(self.fallback, str(exc), config, cancel, out_path, probe, finetune)
        finally:
            client.unsubscribe(run)
            if not ended:  # the consumer left early (closed the generator): stop the task too
                try:
                    client.send("cancel", run)
                except RayUnavailableError:
                    pass


def _follow(
    client: _BridgeClient, run: str, inbox: queue.Queue, cancel: threading.Event, out_path: Path
) -> Iterator[Event]:
    """Turn the bridge's frames for one run into engine events; save checkpoint bytes atomically."""
    tracker = _Tracker(out_path)
    cancel_sent = False
    while True:
        if cancel.is_set() and not cancel_sent:
            cancel_sent = True
            try:
                client.send("cancel", run)
            except RayUnavailableError:
                pass
        try:
            kind, payload = inbox.get(timeout=0.2)
        except queue.Empty:
            continue
        if kind == "item":
            event = tracker.take(*payload)
            if event is not None:
                yield event
                if isinstance(event, RunEnded):
                    return
            continue
        if kind == "end":  # the task ended without a RunEnded: cannot happen with train(), be safe anyway
            kind, payload = RunStatus.FAILED, "the Ray task ended without a result"
        if kind == RunStatus.FAILED and client.gone and not tracker.started:
            raise RayUnavailableError(str(payload))
        status = RunStatus.CANCELLED if kind == RunStatus.CANCELLED else RunStatus.FAILED
        message = "stopped by request" if cancel.is_set() and kind == RunStatus.CANCELLED else str(payload)
        yield tracker.ended(status, message)
        return


class _Tracker:
    """What the app keeps of a remote run as it streams: the best epoch, the checkpoint saved here."""

    def __init__(self, out_path: Path) -> None:
        self.out_path = out_path
        self.saved = False
        self.started = False  # a RunStarted came: from then on a lost cluster fails the run, no local retry
        self.best_accuracy, self.best_epoch = 0.0, 0
        self.began = time.monotonic()

    def take(self, kind: str, payload: Any) -> Event | None:
        if kind == "checkpoint":
            write_atomic(self.out_path, payload)
            self.saved = True
            return None
        if kind == "RunStarted":
            self.started = True
            return RunStarted(**payload)
        if kind == "BatchEnd":
            probe = payload.get("probe")
            return BatchEnd(**dict(payload, probe=tuple(probe) if probe is not None else None))
        if kind == "BeforeAfter":
            changed = tuple(tuple(row) for row in payload.get("changed") or ())
            return BeforeAfter(**dict(payload, changed=changed))
        if kind == "EpochEnd":
            event = EpochEnd(**payload)
            if event.is_best:
                self.best_accuracy, self.best_epoch = event.test_accuracy, event.epoch
            return event
        if kind == "RunEnded":
            return RunEnded(
                **dict(payload, status=RunStatus(payload["status"]), checkpoint=self.out_path if self.saved else None)
            )
        return None

    def ended(self, status: Any, message: str) -> Event:

        return RunEnded(
            status,
            message,
            self.best_accuracy,
            self.best_epoch,
            time.monotonic() - self.began,
            self.out_path if self.saved else None,
        )


def _fall_back(
    fallback: Executor,
    reason: str,
    config: TrainConfig,
    cancel: threading.Event,
    out_path: Path,
    probe: torch.Tensor | None,
    finetune: FinetuneInputs | None = None,
) -> Iterator[Event]:
    """Train with the fallback executor; the run's info says why it is not on the cluster."""

    for event in fallback.execute(config, cancel, out_path, probe, finetune):
        if isinstance(event, RunStarted):
            event = dataclasses.replace(event, device=f"{event.device} · on this machine (Ray unavailable)")
        yield event
