"""Train in this process: the scheduler's worker thread runs the engine directly."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from simplecnn.data import MNISTTensors, load_mnist
from simplecnn.device import resolve_device
from simplecnn.personal.finetune import FinetuneInputs, run_finetune
from simplecnn.training.config import TrainConfig
from simplecnn.training.engine import train
from simplecnn.training.events import Event


class LocalExecutor:
    """Train in the calling thread, on this process's device, with MNIST loaded once per process."""

    name = "local"

    def __init__(self, data_root: str | None = None, data_loader: Callable[..., MNISTTensors] = load_mnist) -> None:
        self.data_root = data_root
        self._load = data_loader

    def execute(
        self,
        config: TrainConfig,
        cancel: threading.Event,
        out_path: Path,
        probe: torch.Tensor | None = None,
        finetune: FinetuneInputs | None = None,
    ) -> Iterator[Event]:
        data = self._load(self.data_root, resolve_device(config.device))
        if finetune is not None:
            yield from run_finetune(config, finetune, data, cancel=cancel, out_path=out_path, probe=probe)
        else:
            yield from train(config, data, cancel=cancel, out_path=out_path, probe=probe)
