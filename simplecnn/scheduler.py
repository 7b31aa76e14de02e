"""A process-wide training scheduler: at most K runs at once, a FIFO queue, one run per session.

The UI submits, polls and cancels; worker threads run `train()` and record its events. Nothing here
knows about Streamlit: sessions are opaque ids, and a session that stops polling is cancelled.
"""
from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .config import TrainConfig
from .data import TEST_SIZE, TRAIN_SIZE, DataUnavailableError, MNISTTensors, load_mnist
from .device import configure_threads, physical_cores, resolve_device
from .executors import Executor, LocalExecutor
from .runs import new_run_dir, prune_runs
from .train import BatchEnd, EpochEnd, RunEnded, RunStarted, RunStatus

log = logging.getLogger(__name__)
DEFAULT_IMAGES_PER_SECOND = {"cpu": 1500.0, "cuda": 100_000.0, "mps": 10_000.0}


class SessionBusy(RuntimeError):
    """This session already has a queued or running run."""


@dataclass
class Run:
    id: str
    session: str
    config: TrainConfig
    created: float = field(default_factory=time.time)
    status: RunStatus = RunStatus.QUEUED
    message: str = ""
    started: Optional[float] = None
    finished: Optional[float] = None
    info: Optional[RunStarted] = None
    batches: list[BatchEnd] = field(default_factory=list)
    epochs: list[EpochEnd] = field(default_factory=list)
    checkpoint: Optional[Path] = None
    last_seen: float = field(default_factory=time.time)
    cancel_reason: str = ""
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def active(self) -> bool:
        return self.status.active

    @property
    def progress(self) -> float:
        if self.status.succeeded:
            return 1.0
        if not self.batches:
            return 0.0
        last = self.batches[-1]
        return last.step / max(1, last.total_steps)

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def curves(self) -> tuple[dict[str, list], dict[str, list]]:
        """Per-report training points (x in epochs) and per-epoch train/test points, for plotting."""
        batches = {"x": [b.step / b.batches_per_epoch for b in self.batches],
                   "loss": [b.loss for b in self.batches], "accuracy": [b.accuracy for b in self.batches]}
        epochs = {key: [getattr(e, key) for e in self.epochs]
                  for key in ("epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy")}
        return batches, epochs

    @property
    def eta(self) -> Optional[float]:
        """Seconds left, extrapolated from progress so far (None until there is some)."""
        p = self.progress
        if self.status != RunStatus.RUNNING or p <= 0:
            return None
        return self.elapsed * (1 - p) / p


def log_to_stderr(level: str | None) -> None:
    """Print the library's log lines (run started/finished, with queue counts) on stderr, once per process.
    An unknown level name falls back to INFO rather than failing the caller."""
    root = logging.getLogger("simplecnn")
    if level and not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level.upper() if isinstance(logging.getLevelName(level.upper()), int) else logging.INFO)
        root.propagate = False  # the host (e.g. Streamlit) may log the root logger too: print each line once


class TrainingScheduler:
    def __init__(self, max_concurrent: Optional[int] = None, data_root: Optional[str] = None,
                 runs_root: Optional[str | Path] = None, stale_after: float = 120.0, keep_runs: int = 50,
                 max_age_days: float = 7.0, data_loader: Callable[..., MNISTTensors] = load_mnist,
                 executor: Optional[Executor] = None):
        cores = physical_cores()
        self.max_concurrent = max(1, max_concurrent or cores // 2)
        # Concurrent runs share the cores instead of each spawning one thread per core.
        self.threads = configure_threads(max(1, cores // self.max_concurrent))
        self.data_root, self.runs_root = data_root, runs_root
        self.stale_after, self.keep_runs, self.max_age_days = stale_after, keep_runs, max_age_days
        self.executor: Executor = executor or LocalExecutor(data_root, data_loader)
        self._lock = threading.Condition()
        self._runs: dict[str, Run] = {}
        self._queue: deque[str] = deque()
        self._running: set[str] = set()
        self._ids = itertools.count(1)
        self._images_per_second: dict[str, float] = {}
        self._closed = False
        self._janitor = threading.Thread(target=self._reap_loop, name="simplecnn-janitor", daemon=True)
        self._janitor.start()

    # ---- called by the UI ----------------------------------------------------------------------------
    def submit(self, session: str, config: TrainConfig) -> Run:
        config.validate()
        with self._lock:
            current = self.active_run(session)
            if current is not None:
                raise SessionBusy(f"this session already has a {current.status} run")
            run = Run(id=f"run-{next(self._ids)}", session=session, config=config)
            self._runs[run.id] = run
            self._queue.append(run.id)
            self._dispatch()
            return run

    def cancel(self, run_id: str, reason: str = "stopped by request") -> None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None and run.active:
                self._cancel(run, reason)

    def touch(self, run_id: str) -> None:
        """The run's session is still watching."""
        with self._lock:
            if run_id in self._runs:
                self._runs[run_id].last_seen = time.time()

    def get(self, run_id: str) -> Optional[Run]:
        return self._runs.get(run_id)

    def active_run(self, session: str) -> Optional[Run]:
        with self._lock:
            return next((r for r in self._runs.values() if r.session == session and r.active), None)

    def queue_position(self, run_id: str) -> Optional[int]:
        """1 for the next run to start; None when not queued."""
        with self._lock:
            return self._queue.index(run_id) + 1 if run_id in self._queue else None

    def estimate_seconds(self, config: TrainConfig) -> float:
        """Expected wall time of a run on this machine (training + per-epoch evaluation)."""
        device = resolve_device(config.device).type
        ips = self._images_per_second.get(device, DEFAULT_IMAGES_PER_SECOND.get(device, 1500.0))
        n_train = config.limit_train or TRAIN_SIZE
        n_test = config.limit_test or TEST_SIZE
        return config.epochs * (n_train + n_test / 3) / ips

    def estimated_start(self, run_id: str) -> Optional[float]:
        """Seconds until a queued run should start."""
        with self._lock:
            if run_id not in self._queue:
                return None
            slots = sorted((self._runs[r].eta or self.estimate_seconds(self._runs[r].config))
                           for r in self._running) or [0.0]
            slots += [0.0] * (self.max_concurrent - len(slots))
            for ahead in itertools.islice(self._queue, self._queue.index(run_id)):
                slots.sort()
                slots[0] += self.estimate_seconds(self._runs[ahead].config)
            return min(slots)

    def counts(self) -> dict[RunStatus, int]:
        with self._lock:
            out: dict[RunStatus, int] = {}
            for run in self._runs.values():
                out[run.status] = out.get(run.status, 0) + 1
            return out

    def shutdown(self, timeout: float = 30.0) -> None:
        with self._lock:
            self._closed = True
            for run in list(self._runs.values()):
                if run.active:
                    self._cancel(run, "server shutting down")
            self._lock.notify_all()
            deadline = time.time() + timeout
            while self._running and time.time() < deadline:
                self._lock.wait(0.1)

    # ---- internals (hold self._lock) ------------------------------------------------------------------
    def _dispatch(self) -> None:
        while self._queue and len(self._running) < self.max_concurrent and not self._closed:
            run = self._runs[self._queue.popleft()]
            run.status, run.started = RunStatus.RUNNING, time.time()
            self._running.add(run.id)
            log.info("%s started (running %d/%d, queued %d): %s recipe, %d epoch(s), %s training images",
                     run.id, len(self._running), self.max_concurrent, len(self._queue), run.config.recipe,
                     run.config.epochs, run.config.limit_train or "all")
            threading.Thread(target=self._work, args=(run,), name=f"simplecnn-{run.id}", daemon=True).start()

    def _cancel(self, run: Run, reason: str) -> None:
        run.cancel_reason = reason
        run.cancel.set()
        if run.status == RunStatus.QUEUED:
            self._queue.remove(run.id)
            self._finish(run, RunStatus.CANCELLED, f"{reason} before it started")

    def _finish(self, run: Run, status: RunStatus, message: str) -> None:
        run.status, run.message, run.finished = status, message, time.time()
        log.info("%s %s: %s", run.id, status, message)
        self._running.discard(run.id)
        self._lock.notify_all()

    def _work(self, run: Run) -> None:
        status, message = RunStatus.FAILED, "the run ended unexpectedly"
        _lower_thread_priority()
        try:
            device = resolve_device(run.config.device)
            out = new_run_dir(self.runs_root, run.session[:8]) / "best.pt"
            for event in self.executor.execute(run.config, run.cancel, out):
                with self._lock:
                    if isinstance(event, BatchEnd):
                        run.batches.append(event)
                    elif isinstance(event, EpochEnd):
                        run.epochs.append(event)
                    elif isinstance(event, RunStarted):
                        run.info = event
                    elif isinstance(event, RunEnded):
                        status, message, run.checkpoint = event.status, event.message, event.checkpoint
                        if status == RunStatus.CANCELLED and run.cancel_reason:
                            message = run.cancel_reason
                        self._learn_speed(run, device.type)
            if run.checkpoint is None:
                _remove_empty(out.parent)
        except (DataUnavailableError, ValueError, OSError) as exc:
            message = str(exc)
        except Exception as exc:  # noqa: BLE001 - a worker must never die silently; the UI shows this
            message = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._finish(run, status, message)
                self._dispatch()
            try:
                prune_runs(self.runs_root, keep=self.keep_runs, max_age_days=self.max_age_days)
            except OSError:
                pass

    def _learn_speed(self, run: Run, device: str) -> None:
        if run.epochs and run.info:
            seconds = sum(e.train_seconds for e in run.epochs)
            if seconds > 0:
                self._images_per_second[device] = run.info.n_train * len(run.epochs) / seconds

    def _reap_loop(self) -> None:
        with self._lock:
            while not self._closed:
                now = time.time()
                for run in list(self._runs.values()):
                    if run.active and now - run.last_seen > self.stale_after:
                        self._cancel(run, "its session went away")
                    # Forget finished runs nobody has looked at for a long time; their files stay on disk.
                    if not run.active and run.finished and now - max(run.finished, run.last_seen) > 3600:
                        del self._runs[run.id]
                self._lock.wait(min(5.0, self.stale_after / 4))


def _lower_thread_priority(niceness: int = 10) -> None:
    """Let pages (drawing, polling) win the CPU over training: nice this thread, and so the compute
    threads it starts, which inherit it. Linux only; elsewhere training just shares the CPU evenly."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
