"""Where a scheduled run trains: threads in this process (the default) or another engine (e.g. Ray).

The scheduler owns the queue, the run records and the folders; an executor only turns one run's config into
the training engine's events. `LocalExecutor` runs `train()` right here, in the scheduler's worker thread.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Iterator, Optional, Protocol

import torch

from .config import TrainConfig
from .data import MNISTTensors, load_mnist
from .device import resolve_device
from .train import Event, train


class Executor(Protocol):
    """Runs one training run and yields its events; the last one is a RunEnded.

    `out_path` is where the run's best checkpoint must end up on this machine (written atomically);
    `cancel` is set when the run should stop (the executor ends it with a cancelled RunEnded);
    `probe`, a normalised 1x1x28x28 digit, is re-scored at each progress report (BatchEnd.probe).
    """

    name: str

    def execute(self, config: TrainConfig, cancel: threading.Event, out_path: Path,
                probe: Optional[torch.Tensor] = None) -> Iterator[Event]: ...


class LocalExecutor:
    """Train in the calling thread, on this process's device, with MNIST loaded once per process."""

    name = "local"

    def __init__(self, data_root: Optional[str] = None,
                 data_loader: Callable[..., MNISTTensors] = load_mnist) -> None:
        self.data_root = data_root
        self._load = data_loader

    def execute(self, config: TrainConfig, cancel: threading.Event, out_path: Path,
                probe: Optional[torch.Tensor] = None) -> Iterator[Event]:
        data = self._load(self.data_root, resolve_device(config.device))
        yield from train(config, data, cancel=cancel, out_path=out_path, probe=probe)
