"""Lesson runs in the background: one thread per run, shared by every visitor who asks for the same run (the runs
are seeded, so the same settings give the same curves), a few at a time, finished ones kept for the next visitor."""

from __future__ import annotations

import enum
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Job:
    """One lesson run. `events` only grows: a page reads a copy of it while the thread appends."""

    key: Hashable
    state: JobState = JobState.QUEUED
    events: list[Any] = field(default_factory=list)
    error: str = ""  # for the log; a page shows its own words, never this
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def active(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.RUNNING)

    @property
    def last(self) -> Any:
        return self.events[-1] if self.events else None


class Jobs:
    """At most `concurrent` lesson runs compute at once (the rest wait their turn); the `keep` most recent finished
    runs stay, so a lesson someone already ran shows at once."""

    def __init__(self, concurrent: int = 1, keep: int = 32) -> None:
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(concurrent)
        self._jobs: OrderedDict[Hashable, Job] = OrderedDict()
        self.keep = keep

    def get(self, key: Hashable) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def start(self, key: Hashable, run: Callable[[], Iterator[Any]]) -> Job:
        """The job for `key`: the one already there unless it failed, else a new one running `run()`."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state != JobState.FAILED:
                self._jobs.move_to_end(key)
                return job
            job = self._jobs[key] = Job(key)
            self._forget_old()
        threading.Thread(target=self._run, args=(job, run), name="simplecnn-lesson", daemon=True).start()
        return job

    def _forget_old(self) -> None:
        finished = [k for k, j in self._jobs.items() if not j.active]
        for key in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[key]

    def _run(self, job: Job, run: Callable[[], Iterator[Any]]) -> None:
        try:
            # A lesson is a demonstration: drawing, evaluating and real training runs win the CPU over it.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        with self._slots:
            job.state = JobState.RUNNING
            try:
                for event in run():
                    job.events.append(event)
                job.state = JobState.DONE
            except Exception as exc:  # noqa: BLE001 - a failed lesson must not take the server thread with it
                job.error, job.state = f"{type(exc).__name__}: {exc}"[:300], JobState.FAILED
            finally:
                job.finished = time.monotonic()
