"""Where a scheduled run trains: threads in this process (the default) or a Ray cluster.

The scheduler owns the queue, the run records and the folders; an executor only turns one run's config into
the training engine's events. `LocalExecutor` runs `train()` right here, in the scheduler's worker thread;
`simplecnn.ray_executor.RayExecutor` runs it as a Ray task, chosen by $SIMPLECNN_RAY_ADDRESS
(`executor_from_env`). Ray is imported only when that variable is set.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

import torch

from .config import TrainConfig
from .data import MNISTTensors, load_mnist
from .device import resolve_device
from .train import Event, train

log = logging.getLogger(__name__)
RAY_ADDRESS_ENV = "SIMPLECNN_RAY_ADDRESS"


class Executor(Protocol):
    """Runs one training run and yields its events; the last one is a RunEnded.

    `out_path` is where the run's best checkpoint must end up on this machine (written atomically);
    `cancel` is set when the run should stop (the executor ends it with a cancelled RunEnded);
    `probe`, a normalised 1x1x28x28 digit, is re-scored at each progress report (BatchEnd.probe).
    """

    name: str

    def execute(
        self, config: TrainConfig, cancel: threading.Event, out_path: Path, probe: torch.Tensor | None = None
    ) -> Iterator[Event]: ...


class LocalExecutor:
    """Train in the calling thread, on this process's device, with MNIST loaded once per process."""

    name = "local"

    def __init__(self, data_root: str | None = None, data_loader: Callable[..., MNISTTensors] = load_mnist) -> None:
        self.data_root = data_root
        self._load = data_loader

    def execute(
        self, config: TrainConfig, cancel: threading.Event, out_path: Path, probe: torch.Tensor | None = None
    ) -> Iterator[Event]:
        data = self._load(self.data_root, resolve_device(config.device))
        yield from train(config, data, cancel=cancel, out_path=out_path, probe=probe)


def executor_from_env(
    env: Mapping[str, str] | None = None, data_root: str | None = None, fallback: bool = True
) -> Executor:
    """$SIMPLECNN_RAY_ADDRESS unset or empty → LocalExecutor; `auto` (the cluster `ray start --head` started on
    this machine) or `host:port` → RayExecutor. With `fallback`, runs train locally while the cluster is
    unreachable (the run's device line says so); without it (the CLI) they fail with RayUnavailableError.

    $SIMPLECNN_RAY_CPUS: CPUs (torch threads) per CPU run (default 1); $SIMPLECNN_RAY_GPU: the share of one GPU
    a GPU run asks for (default 0.25)."""
    env = os.environ if env is None else env
    address = (env.get(RAY_ADDRESS_ENV) or "").strip()
    local = LocalExecutor(data_root)
    if not address:
        return local
    from .ray_executor import DEFAULT_GPU_FRACTION, RayExecutor  # Ray itself is imported by the bridge only

    return RayExecutor(
        address,
        data_root=data_root,
        cpus_per_run=int(env.get("SIMPLECNN_RAY_CPUS") or 1),
        gpu_fraction=float(env.get("SIMPLECNN_RAY_GPU") or DEFAULT_GPU_FRACTION),
        fallback=local if fallback else None,
    )


def max_concurrent_for(executor: Executor) -> int | None:
    """The scheduler's max_concurrent for this executor: the cluster's capacity for Ray (so that extra runs wait
    in the scheduler's FIFO with queue positions, not invisibly in Ray's), None (the scheduler's default) for
    local threads or when the cluster cannot be reached now."""
    capacity = getattr(executor, "capacity", None)
    if capacity is None:
        return None
    try:
        return int(capacity())
    except Exception as exc:  # noqa: BLE001 - RayUnavailableError and friends: start anyway, runs fall back
        log.warning("%s; sizing the queue for this machine", exc)
        return None
