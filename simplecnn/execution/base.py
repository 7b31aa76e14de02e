"""What an executor is: something that runs one training run and yields its events (torch-free protocol).

The scheduler owns the queue, the run records and the folders; an executor only turns one run's config into the
training engine's events: `LocalExecutor` (simplecnn.execution.local) in this process's threads, `RayExecutor`
(simplecnn.execution.ray_client) on a Ray cluster; `simplecnn.execution.choose` picks one from the settings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from simplecnn.training.events import Event

if TYPE_CHECKING:
    import torch

    from simplecnn.personal.finetune import FinetuneInputs
    from simplecnn.training.config import TrainConfig


class Executor(Protocol):
    """Runs one training run and yields its events; the last one is a RunEnded.

    `out_path` is where the run's best checkpoint must end up on this machine (written atomically);
    `cancel` is set when the run should stop (the executor ends it with a cancelled RunEnded);
    `probe`, a normalised 1x1x28x28 digit, is re-scored at each progress report (BatchEnd.probe);
    `finetune`: the run is a fine-tune (simplecnn.personal.finetune.run_finetune) of these weights on MNIST plus
    these drawings, and yields a BeforeAfter just before its RunEnded.
    """

    name: str

    def execute(
        self,
        config: TrainConfig,
        cancel: threading.Event,
        out_path: Path,
        probe: torch.Tensor | None = None,
        finetune: FinetuneInputs | None = None,
    ) -> Iterator[Event]: ...
