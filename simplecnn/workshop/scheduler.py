"""A process-wide training scheduler: at most K runs at once, a FIFO queue, one active run per owner.

The UI submits, polls and cancels; worker threads run `train()` and record its events. Nothing here knows
about Streamlit: an owner is an opaque public id (a workshop participant's, see simplecnn.workshop.room).

Fair-queue rule: a run keeps its place in the queue however long its owner's page is away (a phone that sleeps,
a closed tab, a Wi-Fi hiccup): it trains when its turn comes and its result waits for its owner. Only an explicit
request takes it out: its owner leaving the queue (`cancel` with CancelReason.REQUESTED) or the host removing it
(CancelReason.HOST). A finished run is kept until its owner has seen it (`touch`), for up to UNSEEN_KEEP_S.
"""

from __future__ import annotations

import enum
import itertools
import logging
import os
import secrets
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from simplecnn import settings
from simplecnn.data import DataUnavailableError, MNISTTensors, load_mnist
from simplecnn.device import configure_threads, physical_cores, resolve_device
from simplecnn.errors import CodedError, incident
from simplecnn.execution.base import Executor
from simplecnn.execution.local import LocalExecutor
from simplecnn.personal.finetune import FinetuneInputs
from simplecnn.training import estimate
from simplecnn.training.config import TrainConfig
from simplecnn.training.events import BatchEnd, BeforeAfter, EpochEnd, RunEnded, RunFailure, RunStarted, RunStatus
from simplecnn.training.footprint import largest_batch, run_memory_mb
from simplecnn.training.runs import new_run_dir, prune_runs, runs_root
from simplecnn.visitors import Client

log = logging.getLogger(__name__)
SEEN_KEEP_S = 3600.0  # a finished run its owner has seen is forgotten after this (its files stay on disk)
UNSEEN_KEEP_S = 24 * 3600.0  # one its owner has not seen yet waits this long for them
REAP_EVERY_S = 5.0  # how often finished runs are checked against those two
RECENT_RUNS = 5  # finished budget runs whose overrun (wall time beyond their budget) informs estimates


class CancelReason(enum.StrEnum):
    """Who ended a run early: its owner (Stop, or leaving the queue), the host, or the server shutting down. The
    value is the English message (the CLI and the log show it), the name a UI's key for its own words."""

    REQUESTED = "stopped by request"
    HOST = "cancelled by the host"
    SHUTDOWN = "server shutting down"


@dataclass(frozen=True)
class Wait:
    """What a participant can expect before pressing Start: their place and honest times (None: no basis)."""

    position: int  # their place in the queue: 1 = next (it trains at once if a slot is free)
    ahead: int  # runs queued or training before theirs
    start_in: float | None  # seconds until it starts
    done_in: float | None  # seconds until its result is there


def _failure_of(exc: BaseException) -> tuple[str, dict]:
    """A failed run's code and params: the error's own, "train.out_of_memory", or "unexpected"."""
    code = getattr(exc, "code", None)  # a CodedError's, or a StorageError's (an OSError)
    if isinstance(code, enum.Enum):
        return str(code.value), dict(getattr(exc, "params", None) or {})
    return (str(RunFailure.OUT_OF_MEMORY) if isinstance(exc, MemoryError) else str(RunFailure.ERROR)), {}


class SchedulerProblem(enum.StrEnum):
    BUSY = "scheduler.busy"
    BROWSER_BUSY = "scheduler.browser_busy"
    ADDRESS_BUSY = "scheduler.address_busy"
    RUN_TOO_LARGE = "scheduler.run_too_large"


INCIDENT = "incident"  # a failed run's code for an unforeseen error: params error_id (the log has the rest)


class SessionBusy(CodedError, RuntimeError):
    """This owner (participant) already has a queued or running run. params: status (its RunStatus)."""

    code = SchedulerProblem.BUSY


class ClientBusy(SessionBusy):
    """This browser (or network address) already has as many runs queued or training as a visitor may."""

    def __init__(self, count: int, scope: str) -> None:
        where = "this browser" if scope == "browser" else "your network address"
        message = f"{where} already has {count} run{'s' * (count != 1)} queued or training; wait for them"
        code = SchedulerProblem.BROWSER_BUSY if scope == "browser" else SchedulerProblem.ADDRESS_BUSY
        super().__init__(message, code, count=count)
        self.count, self.scope = count, scope

    def __reduce__(self) -> tuple[Any, ...]:
        return ClientBusy, (self.count, self.scope)


class RunTooLarge(CodedError, ValueError):
    """The run's estimated memory is over what the host allows one run (simplecnn.training.footprint)."""

    code = SchedulerProblem.RUN_TOO_LARGE

    def __init__(self, needed_mb: float, allowed_mb: float, batch_size: int, largest: int) -> None:
        super().__init__(
            f"batch size {batch_size:,} needs about {needed_mb:,.0f} MB and the host allows {allowed_mb:,.0f} MB per "
            f"run: use a batch size of {largest:,} or less",
            needed_mb=round(needed_mb),
            allowed_mb=round(allowed_mb),
            batch_size=batch_size,
            largest=largest,
        )
        self.needed_mb, self.allowed_mb, self.batch_size, self.largest = needed_mb, allowed_mb, batch_size, largest

    def __reduce__(self) -> tuple[Any, ...]:
        return RunTooLarge, (self.needed_mb, self.allowed_mb, self.batch_size, self.largest)


@dataclass(frozen=True)
class Quota:
    """Runs queued or training at once per visitor: per browser, and per network address where the server can
    tell one (0 = no cap). A participant always has at most one (SessionBusy)."""

    per_browser: int = 2
    per_address: int = 8


@dataclass
class Run:
    id: str
    session: str
    config: TrainConfig
    created: float = field(default_factory=time.time)
    status: RunStatus = RunStatus.QUEUED
    message: str = ""
    started: float | None = None
    finished: float | None = None
    info: RunStarted | None = None
    batches: list[BatchEnd] = field(default_factory=list)
    epochs: list[EpochEnd] = field(default_factory=list)
    checkpoint: Path | None = None
    out_path: Path | None = None  # where the best checkpoint is written while it trains
    probe: torch.Tensor | None = field(default=None, repr=False)  # re-scored at each report (BatchEnd.probe)
    finetune: FinetuneInputs | None = field(default=None, repr=False)  # set for a fine-tune of someone's drawings
    before_after: BeforeAfter | None = None  # a fine-tune's result, once it has one
    share: str = field(default_factory=lambda: secrets.token_urlsafe(9))  # the key of its read-only link
    last_seen: float = field(default_factory=time.time)
    cancel_reason: CancelReason | None = None
    failure: str = ""  # a FAILED run's code (RunFailure or another error's code value), beside `message`
    failure_params: dict = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    images: int = 0  # training images seen so far (the whole run, once it has ended)
    client: Client | None = field(default=None, repr=False)  # who asked, for the per-visitor quota; never shown
    owner_name: str = ""  # the participant's name when it was submitted (the board's fallback)

    @property
    def active(self) -> bool:
        return self.status.active

    @property
    def stopping(self) -> bool:
        """Asked to stop and still finishing: it evaluates what it learned before it ends."""
        return self.active and self.cancel.is_set()

    @property
    def progress(self) -> float:
        """0-1: by batches for an epoch run, by the clock for a budget run; where it was for a stopped one."""
        if self.status.succeeded:
            return 1.0
        return self.batches[-1].progress if self.batches else 0.0

    @property
    def seen_since_it_ended(self) -> bool:
        return self.finished is not None and self.last_seen >= self.finished

    @property
    def test_images(self) -> int | None:
        """How many test images its accuracy is measured on (None before the run has started)."""
        return self.info.n_test if self.info is not None else None

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def passes(self, images: int) -> float:
        """Images seen as passes over the training set (= epochs for an epoch run): one x axis for every run."""
        return images / max(1, self.info.n_train if self.info is not None else 1)

    def curves(self) -> tuple[dict[str, list], dict[str, list]]:
        """Per-report training points (x in passes over the training set) and per-evaluation train/test points
        (x the same), for plotting."""
        seen = itertools.accumulate(e.images for e in self.epochs)
        batches = {
            "x": [self.passes(b.images) for b in self.batches],
            "loss": [b.loss for b in self.batches],
            "accuracy": [b.accuracy for b in self.batches],
        }
        epochs = {
            key: [getattr(e, key) for e in self.epochs]
            for key in ("epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy")
        }
        epochs["x"] = [self.passes(images) for images in seen]
        return batches, epochs

    @property
    def best_accuracy(self) -> float | None:
        return max((e.test_accuracy for e in self.epochs), default=None)

    @property
    def eta(self) -> float | None:
        """Seconds left: exact for a time-budgeted run, else extrapolated from progress once there is a basis
        (a few reports and a few seconds: the first batches include start-up and say little); None before."""
        if self.status != RunStatus.RUNNING:
            return None
        budget = float(self.config.budget)
        if budget > 0:
            return max(0.0, budget - self.elapsed)
        p = self.progress
        if len(self.batches) < 3 or self.elapsed < 3.0 or p <= 0:
            return None
        return self.elapsed * (1 - p) / p

    def probe_curve(self) -> dict[str, list]:
        """The probe digit's 10 probabilities at each report: {"x": epochs, "p": [[p0..p9], ...]}."""
        points = [b for b in self.batches if b.probe is not None]
        return {"x": [self.passes(b.images) for b in points], "p": [list(b.probe or ()) for b in points]}


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
    def __init__(
        self,
        max_concurrent: int | None = None,
        data_root: str | None = None,
        runs_root: str | Path | None = None,
        away_after: float = 60.0,  # no longer used (a queued run keeps its place); removed with the UI's mention
        keep_runs: int = 50,
        max_age_days: float = 7.0,
        data_loader: Callable[..., MNISTTensors] = load_mnist,
        executor: Executor | None = None,
        quota: Quota | None = None,
        memory_limit_mb: float | None = None,
    ):
        cores = physical_cores()
        self.max_concurrent = max(1, max_concurrent or cores // 2)
        # Concurrent runs share the cores instead of each spawning one thread per core.
        self.threads = configure_threads(max(1, cores // self.max_concurrent))
        self.data_root, self.runs_root = data_root, runs_root
        self.away_after, self.keep_runs, self.max_age_days = away_after, keep_runs, max_age_days
        self.paused = False
        self.quota = quota or Quota()
        # The most memory one run may take (MB; 0 = no limit): the host sees and changes it.
        self.memory_limit_mb = float(settings.run_memory_mb() if memory_limit_mb is None else memory_limit_mb)
        self.executor: Executor = executor or LocalExecutor(data_root, data_loader)
        self._lock = threading.Condition()
        self._runs: dict[str, Run] = {}
        self._queue: deque[str] = deque()
        self._running: set[str] = set()
        self._ids = itertools.count(1)
        self._closed = False
        self._listeners: list[Callable[[Run], None]] = []
        self._overruns: deque[float] = deque(maxlen=RECENT_RUNS)  # seconds beyond the budget, recent budget runs
        self._janitor = threading.Thread(target=self._reap_loop, name="simplecnn-janitor", daemon=True)
        self._janitor.start()

    # ---- called by the UI ----------------------------------------------------------------------------
    def submit(
        self,
        session: str,
        config: TrainConfig,
        probe: torch.Tensor | None = None,
        finetune: FinetuneInputs | None = None,
        client: Client | None = None,
        owner_name: str = "",
    ) -> Run:
        """Queue a run for `session` (the owner's public id); `probe` is an optional normalised 1x1x28x28
        digit that the run re-scores at each progress report; `finetune` makes it a fine-tune of those weights
        on MNIST plus those drawings (simplecnn.personal.finetune). A `client` (a visitor) is held to the quota;
        every run to the memory limit. Raises SessionBusy / ClientBusy / RunTooLarge / ValueError."""
        config.validate()
        self.check_memory(config)
        with self._lock:
            current = self.active_run(session)
            if current is not None:
                raise SessionBusy(f"you already have a {current.status.label} run", status=current.status)
            self._check_quota(client)
            probe = probe.detach().to("cpu").reshape(1, 1, 28, 28).clone() if probe is not None else None
            run = Run(
                id=f"run-{next(self._ids)}",
                session=session,
                config=config,
                probe=probe,
                finetune=finetune,
                client=client,
                owner_name=owner_name,
            )
            self._runs[run.id] = run
            self._queue.append(run.id)
            self._dispatch()
            return run

    def cancel(self, run_id: str, reason: CancelReason = CancelReason.REQUESTED) -> None:
        """Stop a training run (it keeps what it learned: RunStatus.STOPPED) or take a queued one out of the queue
        (RunStatus.CANCELLED). The only ways a run ends early: its owner asks, the host asks, or shutdown."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None and run.active:
                self._cancel(run, reason)

    def related_runs(self, run_id: str) -> list[Run]:
        """The active runs of the same participant or the same browser as this run (itself included): what
        "cancel all of this visitor's runs" cancels. A shared network address alone does not relate runs."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return []
            browser = run.client.browser if run.client is not None else None
            return [
                r
                for r in self._runs.values()
                if r.active and (r.session == run.session or (browser and r.client and r.client.browser == browser))
            ]

    def cancel_related(self, run_id: str, reason: CancelReason = CancelReason.HOST) -> int:
        """Cancel every run `related_runs` lists, at once; returns how many."""
        with self._lock:
            related = self.related_runs(run_id)
            for run in related:
                self._cancel(run, reason)
            return len(related)

    def check_memory(self, config: TrainConfig) -> None:
        """Raise RunTooLarge when a run of `config` would take more memory than one run may."""
        limit = self.memory_limit_mb
        needed = run_memory_mb(config)
        if limit and needed > limit:
            raise RunTooLarge(needed, limit, config.batch_size, largest_batch(config, limit))

    def largest_batch(self, config: TrainConfig) -> int:
        """The largest batch size a run like `config` may use under the memory limit."""
        return largest_batch(config, self.memory_limit_mb) if self.memory_limit_mb else 1 << 20

    def set_memory_limit(self, mb: float) -> None:
        """The most memory one run may take from now on, in MB (runs already queued keep their settings)."""
        with self._lock:
            self.memory_limit_mb = max(0.0, float(mb))

    def set_quota(self, quota: Quota) -> None:
        with self._lock:
            self.quota = quota

    def touch(self, run_id: str) -> None:
        """The run's owner's page showed it: once it has ended, its result has been seen."""
        with self._lock:
            if run_id in self._runs:
                self._runs[run_id].last_seen = time.time()

    def on_end(self, listener: Callable[[Run], None]) -> None:
        """Call `listener(run)` after each run that started has ended (from its worker thread, without the
        scheduler's lock): e.g. the room makes a finished run its owner's model."""
        with self._lock:
            self._listeners.append(listener)

    def get(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    def shared(self, share: str) -> Run | None:
        """The finished run whose read-only link carries this key (None: no such run, or not finished)."""
        with self._lock:
            found = next((r for r in self._runs.values() if share and secrets.compare_digest(r.share, share)), None)
            return found if found is not None and not found.active else None

    def delete(self, run_id: str) -> bool:
        """Forget a finished run and remove its folder (its checkpoint): its links stop working. A run that is
        queued or training is not deleted (stop it first); True if one was deleted."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.active:
                return False
            del self._runs[run_id]
        folder = run.out_path.parent if run.out_path is not None else None
        if folder is not None and folder.resolve().parent == runs_root(self.runs_root).resolve():
            shutil.rmtree(folder, ignore_errors=True)  # only a folder this scheduler made under the runs root
        return True

    def runs(self) -> list[Run]:
        """Every run this server knows, oldest first."""
        with self._lock:
            return sorted(self._runs.values(), key=lambda r: int(r.id.removeprefix("run-")))

    def set_max_concurrent(self, n: int) -> None:
        """How many runs train at once from now on (runs already training are not stopped)."""
        with self._lock:
            self.max_concurrent = max(1, int(n))
            self._dispatch()

    def set_paused(self, paused: bool) -> None:
        """While paused, queued runs wait: nothing new starts training."""
        with self._lock:
            self.paused = bool(paused)
            self._dispatch()

    def active_run(self, session: str) -> Run | None:
        with self._lock:
            return next((r for r in self._runs.values() if r.session == session and r.active), None)

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next run to start; None when not queued."""
        with self._lock:
            return self._queue.index(run_id) + 1 if run_id in self._queue else None

    def estimate_seconds(self, config: TrainConfig) -> float | None:
        """Expected wall time of a run on this machine: exact for a time-budgeted run; else from this machine's
        measured pace (simplecnn.training.estimate: a short calibration, cached on disk); None while there is none
        yet (the UI says "measuring…" rather than guess). The calibration runs in the background, and only while no run
        trains: measured beside a training run it would be wrong. Raises ValueError for a missing device."""
        resolve_device(config.device)
        if config.budgeted:
            return float(config.budget) + self.overrun()
        known = estimate.known_speed(config)
        if known is not None:
            return estimate.estimate_run_seconds(config, known)
        if not self._running:
            estimate.calibrate_in_background(config)
        return None

    def overrun(self) -> float:
        """How long recent budget runs took beyond their budget (start-up, the last save), as measured here: a
        budget run's estimate is its budget plus this, 0 until one has run."""
        with self._lock:
            return sorted(self._overruns)[len(self._overruns) // 2] if self._overruns else 0.0

    def estimated_start(self, run_id: str) -> float | None:
        """Seconds until a queued run should start; None when not queued or without a basis yet."""
        with self._lock:
            if run_id not in self._queue:
                return None
            ahead = itertools.islice(self._queue, self._queue.index(run_id))
            return self._start_after(self._runs[r].config for r in ahead)

    def wait_if_started(self, config: TrainConfig) -> Wait:
        """Where a run of `config` submitted now would stand: its place, the runs ahead, when it would start and
        end (None without a basis). Shown before Start, so nobody queues blind."""
        with self._lock:
            queued = [self._runs[r].config for r in self._queue]
            start = self._start_after(queued)
            own = self.estimate_seconds(config)
            done = start + own if start is not None and own is not None else None
            return Wait(len(queued) + 1, len(queued) + len(self._running), start, done)

    def _start_after(self, ahead: Iterable[TrainConfig]) -> float | None:
        """Seconds until a slot is free for the next run once the running runs and `ahead` (queued) have run."""
        left = [self._left(self._runs[r]) for r in self._running]
        durations = [self.estimate_seconds(config) for config in ahead]
        if None in left or None in durations:
            return None
        slots = sorted(x for x in left if x is not None)
        slots += [0.0] * max(0, self.max_concurrent - len(slots))
        for seconds in durations:
            slots.sort()
            slots[0] += seconds or 0.0
        return min(slots)

    def _left(self, run: Run) -> float | None:
        if run.eta is not None:
            return run.eta + (self.overrun() if run.config.budgeted else 0.0)
        total = self.estimate_seconds(run.config)
        return None if total is None else max(0.0, total - run.elapsed)

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
                    self._cancel(run, CancelReason.SHUTDOWN)
            self._lock.notify_all()
            deadline = time.time() + timeout
            while self._running and time.time() < deadline:
                self._lock.wait(0.1)

    # ---- internals (hold self._lock) ------------------------------------------------------------------
    def _check_quota(self, client: Client | None) -> None:
        if client is None:
            return
        quota = self.quota
        for scope, key, cap in (
            ("browser", client.browser, quota.per_browser),
            ("address", client.address, quota.per_address),
        ):
            if not key or not cap:
                continue
            count = sum(
                1 for r in self._runs.values() if r.active and r.client is not None and getattr(r.client, scope) == key
            )
            if count >= cap:
                raise ClientBusy(count, scope)

    def _dispatch(self) -> None:
        while self._queue and len(self._running) < self.max_concurrent and not self._closed and not self.paused:
            run = self._runs[self._queue.popleft()]  # its owner's page need not be open: the result waits
            run.status, run.started = RunStatus.RUNNING, time.time()
            self._running.add(run.id)
            log.info(
                "%s started (running %d/%d, queued %d): %s recipe, %d epoch(s), %s training images",
                run.id,
                len(self._running),
                self.max_concurrent,
                len(self._queue),
                run.config.recipe,
                run.config.epochs,
                run.config.limit_train or "all",
            )
            threading.Thread(target=self._work, args=(run,), name=f"simplecnn-{run.id}", daemon=True).start()

    def _cancel(self, run: Run, reason: CancelReason) -> None:
        run.cancel_reason = reason
        run.cancel.set()
        if run.status == RunStatus.QUEUED:
            self._queue.remove(run.id)
            self._finish(run, RunStatus.CANCELLED, f"taken out of the queue ({reason}) before it started")

    def _finish(self, run: Run, status: RunStatus, message: str) -> None:
        run.status, run.message, run.finished = status, message, time.time()
        log.info("%s %s after %.1f s: %s", run.id, status, run.elapsed, message)
        self._running.discard(run.id)
        self._lock.notify_all()

    def _work(self, run: Run) -> None:
        status, message = RunStatus.FAILED, "the run ended unexpectedly"
        _lower_thread_priority()
        out: Path | None = None
        try:
            out = run.out_path = new_run_dir(self.runs_root, run.session[:8]) / "best.pt"
            # Only a fine-tune passes `finetune`: an executor written for plain runs keeps working for them.
            extra = {"finetune": run.finetune} if run.finetune is not None else {}
            for event in self.executor.execute(run.config, run.cancel, out, probe=run.probe, **extra):
                with self._lock:
                    if isinstance(event, BatchEnd):
                        run.batches.append(event)
                        run.images = event.images
                    elif isinstance(event, BeforeAfter):
                        run.before_after = event
                    elif isinstance(event, EpochEnd):
                        run.epochs.append(event)
                    elif isinstance(event, RunStarted):
                        run.info = event
                    elif isinstance(event, RunEnded):
                        status, message, run.checkpoint = event.status, event.message, event.checkpoint
                        run.images = event.images or run.images
                        run.failure, run.failure_params = event.failure, dict(event.failure_params)
                        if status == RunStatus.CANCELLED and run.cancel_reason:
                            message = str(run.cancel_reason)
        except (DataUnavailableError, ValueError, OSError) as exc:
            message = str(exc)  # typed, one line (a full disk or read-only folder is a StorageError: no path)
            run.failure, run.failure_params = _failure_of(exc)
        except Exception as exc:  # noqa: BLE001 - a worker must never die silently; the UI shows the id only
            error_id = incident(exc, run.id)
            message = f"the run failed unexpectedly (error id {error_id})"
            run.failure, run.failure_params = _failure_of(exc)
            if run.failure == str(RunFailure.ERROR):
                run.failure, run.failure_params = INCIDENT, {"error_id": error_id}
        finally:
            if out is not None and run.checkpoint is None:
                _remove_empty(out.parent)  # a run that kept no checkpoint leaves no folder
            with self._lock:
                self._finish(run, status, message)
                if run.config.budgeted and run.started is not None and status.ended:
                    self._overruns.append(max(0.0, run.elapsed - float(run.config.budget)))
                self._dispatch()
            self._announce(run)
            try:
                prune_runs(self.runs_root, keep=self.keep_runs, max_age_days=self.max_age_days)
            except OSError:
                pass

    def _announce(self, run: Run) -> None:
        for listener in list(self._listeners):
            try:
                listener(run)
            except Exception:  # noqa: BLE001 - a listener's failure must not stop the queue
                log.exception("a run-end listener failed for %s", run.id)

    def _reap_loop(self) -> None:
        """Forget finished runs: an hour after their owner saw them, or a day after they ended unseen (their files
        stay on disk). Active runs are never reaped: see the module's fair-queue rule."""
        with self._lock:
            while not self._closed:
                now = time.time()
                for run in list(self._runs.values()):
                    keep = SEEN_KEEP_S if run.seen_since_it_ended else UNSEEN_KEEP_S
                    if not run.active and run.finished and now - max(run.finished, run.last_seen) > keep:
                        del self._runs[run.id]
                self._lock.wait(REAP_EVERY_S)


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
