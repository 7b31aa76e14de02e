"""Train runs on a Ray cluster: each run is one Ray task whose events stream back as they happen.

Three processes take part, and only one of them imports Ray in the app's machine:

- the app (or the CLI) holds a `RayExecutor`. It never imports Ray: it talks to a *bridge* process over a pipe.
  Ray's driver ends its own process when the cluster's control store stays unreachable (about a minute after a
  head dies), so the driver must not live inside the Streamlit server. When the bridge dies, the app sees it,
  fails the runs in flight with one line, and trains new runs locally (the `fallback` executor).
- the bridge (`python -m simplecnn.ray_executor`, one per app process) is the Ray driver: it puts MNIST into
  the object store once, submits one streaming-generator task per run, forwards the items, cancels on request.
- the worker task (`run_on_worker`) trains with `simplecnn.train.train` on whatever node Ray picked and yields
  plain tuples: events as dicts, and the best checkpoint's bytes after every best epoch (workers do not share
  the app's disk). MNIST reaches a worker process once: it keeps the decoded tensors keyed by the data's hash.

The code reaches the workers with the task (`runtime_env.py_modules`), so a worker needs only Python, torch and
ray of the same versions as the app, no checkout and no MNIST.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pickle
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .train import RunStatus

if TYPE_CHECKING:  # torch and the engine are imported lazily: the bridge process must not pay for torch
    import torch

    from .config import TrainConfig
    from .executors import Executor
    from .train import Event

log = logging.getLogger(__name__)

ADDRESS_ENV = "SIMPLECNN_RAY_ADDRESS"
CPUS_ENV = "SIMPLECNN_RAY_CPUS"  # CPUs (torch threads) per CPU run, default 1
GPU_FRACTION_ENV = "SIMPLECNN_RAY_GPU"  # share of one GPU per GPU run, default 0.25 (4 small runs per card)
DEFAULT_GPU_FRACTION = 0.25
CANCEL_GRACE_S = 4.0  # after a polite cancel, a worker still busy this long is killed (force cancel)
WORKER_DIED = "the Ray worker running this run died"
NODE_DIED = "the Ray node running this run went away"
RAW_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


class RayUnavailableError(RuntimeError):
    """The Ray cluster cannot be reached (or went away); the message is one line for the user."""


# ---- resources: pure functions, testable without Ray --------------------------------------------------------
def task_resources(device: str, cpus_per_run: int, gpu_fraction: float, cluster_gpus: float) -> dict[str, float]:
    """The Ray resource request of one run: CPU threads, or a GPU share (plus one CPU to feed it).

    `auto` asks for a GPU share when the cluster has GPUs (a GPU trains a small CNN ~50x faster than a laptop),
    otherwise CPUs; `cpu` always asks for CPUs; `cuda`/`cuda:N` always asks for a GPU share."""
    wants_gpu = device.startswith("cuda") or (device == "auto" and cluster_gpus > 0)
    if wants_gpu:
        return {"num_cpus": 1, "num_gpus": gpu_fraction}
    return {"num_cpus": max(1, cpus_per_run)}


def cluster_capacity(nodes: list[dict[str, float]], cpus_per_run: int, gpu_fraction: float) -> int:
    """How many runs the alive nodes (their `Resources`) can train at once, with `auto` runs' requests."""
    gpus = sum(n.get("GPU", 0.0) for n in nodes)
    total = 0
    for node in nodes:
        cpus = int(node.get("CPU", 0.0))
        if gpus > 0:
            total += min(cpus, int(node.get("GPU", 0.0) / gpu_fraction + 1e-9))
        else:
            total += cpus // max(1, cpus_per_run)
    return total


def infeasible(resources: dict[str, float], nodes: list[dict[str, float]]) -> str | None:
    """Why no alive node can ever take this request (one line), or None."""
    if any(all(node.get(key, 0.0) >= need for key, need in _ray_names(resources)) for node in nodes):
        return None
    if resources.get("num_gpus"):
        return "the Ray cluster has no GPU for this run; choose device auto or cpu, or add a GPU worker"
    cpus = resources["num_cpus"]
    return f"no Ray node has {cpus:g} CPUs for one run; lower SIMPLECNN_RAY_CPUS or add a larger node"


def _ray_names(resources: dict[str, float]) -> list[tuple[str, float]]:
    return [({"num_cpus": "CPU", "num_gpus": "GPU"}[key], need) for key, need in resources.items()]


# ---- the worker side (runs inside a Ray worker process) ----------------------------------------------------
_worker_data: dict[str, Any] = {}


def decode_idx(raw: bytes, kind: str) -> torch.Tensor:
    """An uncompressed MNIST idx file → uint8 images (N, 28, 28) or int64 labels (N,)."""
    import numpy as np
    import torch

    from .data import IMAGE_SIZE

    header = 16 if kind.endswith("_x") else 8
    n = int.from_bytes(raw[4:8], "big")
    array = np.frombuffer(raw, dtype=np.uint8, offset=header)
    shape = (n, IMAGE_SIZE, IMAGE_SIZE) if kind.endswith("_x") else (n,)
    tensor = torch.from_numpy(array.copy()).reshape(shape)
    return tensor if kind.endswith("_x") else tensor.long()


def worker_mnist(key: str | None, holder: list | None) -> Any:
    """MNIST for this worker process: decoded from the object store once per data hash, else from this
    worker's own $SIMPLECNN_DATA (when the app could not ship it)."""
    from .data import MNISTTensors, load_mnist, normalize

    if key is None or holder is None:
        return load_mnist()
    if key not in _worker_data:
        import ray

        raw = ray.get(holder[0])  # the ref sits in a list so Ray fetches it only here, on a cache miss
        t = {name: decode_idx(raw[name], name) for name in RAW_FILES}
        _worker_data[key] = MNISTTensors(
            normalize(t["train_x"].unsqueeze(1)),
            t["train_y"],
            normalize(t["test_x"].unsqueeze(1)),
            t["test_y"],
            Path("ray-object-store"),
        )
    return _worker_data[key]


def node_name() -> str:
    """Where this worker runs, for the run's info: the Ray node's IP and the host name."""
    try:
        import ray

        ip = ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - a name is informative only
        ip = "?"
    return f"Ray node {ip} ({platform.node()})"


def _plain(event: Any) -> tuple[str, dict]:
    payload = dataclasses.asdict(event)
    if payload.get("checkpoint") is not None:
        payload["checkpoint"] = str(payload["checkpoint"])
    return type(event).__name__, payload


def run_on_worker(
    config: dict, probe: list[float] | None, data_key: str | None, data: list | None, threads: int
) -> Iterator[tuple[str, Any]]:
    """The Ray task of one run: train, yielding ("RunStarted" | "BatchEnd" | "EpochEnd" | "RunEnded", dict) and
    ("checkpoint", bytes) just before each best epoch's EpochEnd. Plain values only, so the bridge needs no torch."""
    import torch

    from .config import TrainConfig
    from .device import configure_threads
    from .train import EpochEnd, RunStarted, train

    configure_threads(threads)
    node = node_name()
    probe_t = torch.tensor(probe, dtype=torch.float32).reshape(1, 1, 28, 28) if probe is not None else None
    with tempfile.TemporaryDirectory(prefix="simplecnn-ray-") as tmp:
        out = Path(tmp) / "best.pt"
        events = train(TrainConfig.from_dict(config), worker_mnist(data_key, data), out_path=out, probe=probe_t)
        for event in events:
            if isinstance(event, RunStarted):
                event = dataclasses.replace(event, device=f"{event.device} · {node}", node=node)
            if isinstance(event, EpochEnd) and event.is_best and out.is_file():
                yield "checkpoint", out.read_bytes()
            yield _plain(event)


# ---- the bridge process (the Ray driver) ------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else 'no detail'}"[:300]


def _mnist_payload(data_root: str | None) -> tuple[str | None, dict | None]:
    """The four raw MNIST files as bytes and their hash, or (None, None) when this machine lacks them."""
    from .data import resolve_data_dir

    raw_dir = resolve_data_dir(data_root) / "MNIST" / "raw"
    try:
        payload = {name: (raw_dir / file).read_bytes() for name, file in RAW_FILES.items()}
    except OSError:
        return None, None
    digest = hashlib.sha1()
    for name in RAW_FILES:
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

    def start(self, run: str, config: dict, probe: list[float] | None) -> None:
        resources = task_resources(config.get("device", "auto"), self.cpus_per_run, self.gpu_fraction, self.gpus)
        threads = int(resources["num_cpus"])
        cancel = self.cancels[run] = threading.Event()
        problem = infeasible(resources, self.nodes)
        if problem:  # Ray would keep such a task pending for ever, with the run shown as running
            self.send(RunStatus.FAILED, run, problem)
            return
        try:
            gen = self.remote.options(**resources).remote(config, probe, self.data_key, self.data_ref, threads)
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
            bridge.start(run, payload["config"], payload["probe"])
        elif kind == "cancel" and run in bridge.cancels:
            bridge.cancels[run].set()
        elif kind == "describe":
            bridge.send("described", None, bridge.describe())
    bridge.stop_all()
    return 0


# ---- the app side -----------------------------------------------------------------------------------------
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
            "simplecnn.ray_executor",
            "--address",
            address,
            "--cpus-per-run",
            str(cpus_per_run),
            "--gpu-fraction",
            str(gpu_fraction),
        ]
        if data_root:
            args += ["--data", str(data_root)]
        env = dict(
            os.environ,
            RAY_gcs_rpc_server_reconnect_timeout_s=os.environ.get("RAY_gcs_rpc_server_reconnect_timeout_s", "20"),
        )
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=Path(__file__).resolve().parent.parent,
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

    def cluster(self) -> ClusterInfo:
        return self.connect().describe()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def execute(
        self, config: TrainConfig, cancel: threading.Event, out_path: Path, probe: torch.Tensor | None = None
    ) -> Iterator[Event]:
        try:
            client = self.connect()
        except RayUnavailableError as exc:
            if self.fallback is None:
                raise
            log.warning("training on this machine: %s", exc)
            yield from _fall_back(self.fallback, str(exc), config, cancel, out_path, probe)
            return
        with self._lock:
            self._ids += 1
            run = f"r{self._ids}"
        inbox = client.subscribe(run)
        ended = False
        try:
            flat = probe.detach().float().cpu().reshape(-1).tolist() if probe is not None else None
            client.send("start", run, {"config": config.to_dict(), "probe": flat})
            yield from _follow(client, run, inbox, cancel, Path(out_path))
            ended = True
        except RayUnavailableError as exc:  # the cluster went away before this run started: train it here
            ended = True
            if self.fallback is None:
                raise
            log.warning("training on this machine: %s", exc)
            yield from _fall_back(self.fallback, str(exc), config, cancel, out_path, probe)
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
    from .train import RunEnded, RunStatus

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
        from .train import BatchEnd, EpochEnd, RunEnded, RunStarted, RunStatus

        if kind == "checkpoint":
            write_bytes_atomic(self.out_path, payload)
            self.saved = True
            return None
        if kind == "RunStarted":
            self.started = True
            return RunStarted(**payload)
        if kind == "BatchEnd":
            probe = payload.get("probe")
            return BatchEnd(**dict(payload, probe=tuple(probe) if probe is not None else None))
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
        from .train import RunEnded

        return RunEnded(
            status,
            message,
            self.best_accuracy,
            self.best_epoch,
            time.monotonic() - self.began,
            self.out_path if self.saved else None,
        )


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Temp file in the same folder, fsync, rename: readers see the old checkpoint or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _fall_back(
    fallback: Executor,
    reason: str,
    config: TrainConfig,
    cancel: threading.Event,
    out_path: Path,
    probe: torch.Tensor | None,
) -> Iterator[Event]:
    """Train with the fallback executor; the run's info says why it is not on the cluster."""
    from .train import RunStarted

    for event in fallback.execute(config, cancel, out_path, probe):
        if isinstance(event, RunStarted):
            event = dataclasses.replace(event, device=f"{event.device} · on this machine (Ray unavailable)")
        yield event


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m simplecnn.ray_executor",
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
    from simplecnn.ray_executor import main as _main

    sys.exit(_main())
