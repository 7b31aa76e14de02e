"""The Ray task of one run (`run_on_worker`): trains with the engine on whatever node Ray picked and streams plain
values back (events as dicts, the best checkpoint's bytes), so the bridge that forwards them needs no torch.

Torch is imported inside the task only: this module is imported by the torch-free bridge to hand the function
to Ray. MNIST reaches a worker process once, as the raw IDX files' bytes from the object store.
"""

from __future__ import annotations

import dataclasses
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simplecnn.settings import MNIST_RAW_FILES

MNIST_IMAGES, MNIST_LABELS = MNIST_RAW_FILES[0::2], MNIST_RAW_FILES[1::2]  # (train, test) each

_worker_data: dict[str, Any] = {}


def worker_mnist(key: str | None, holder: list | None) -> Any:
    """MNIST for this worker process: decoded from the object store once per data hash, else from this
    worker's own $SIMPLECNN_DATA (when the app could not ship it)."""
    import numpy as np
    import torch

    from simplecnn.data import MNISTTensors, load_mnist, parse_idx

    if key is None or holder is None:
        return load_mnist()
    if key not in _worker_data:
        import ray

        raw = ray.get(holder[0])  # the ref sits in a list so Ray fetches it only here, on a cache miss
        images = [torch.from_numpy(parse_idx(raw[name], name=name).copy()).unsqueeze(1) for name in MNIST_IMAGES]
        labels = [torch.from_numpy(parse_idx(raw[name], name=name).astype(np.int64)) for name in MNIST_LABELS]
        _worker_data[key] = MNISTTensors(images[0], labels[0], images[1], labels[1], Path("ray-object-store"))
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
    config: dict,
    probe: list[float] | None,
    data_key: str | None,
    data: list | None,
    threads: int,
    finetune: dict | None = None,
) -> Iterator[tuple[str, Any]]:
    """The Ray task of one run: train, yielding (an event's class name, dict) and ("checkpoint", bytes) just
    before each best epoch's EpochEnd. Plain values only, so the bridge needs no torch. `finetune`: a
    FinetuneInputs as a dict (the run is a fine-tune, simplecnn.personal.finetune)."""
    import torch

    from simplecnn.device import configure_threads
    from simplecnn.personal.finetune import FinetuneInputs, run_finetune
    from simplecnn.training.config import TrainConfig
    from simplecnn.training.engine import train
    from simplecnn.training.events import EpochEnd, RunStarted

    configure_threads(threads)
    node = node_name()
    probe_t = torch.tensor(probe, dtype=torch.float32).reshape(1, 1, 28, 28) if probe is not None else None
    with tempfile.TemporaryDirectory(prefix="simplecnn-ray-") as tmp:
        out = Path(tmp) / "best.pt"
        recipe, mnist = TrainConfig.from_dict(config), worker_mnist(data_key, data)
        if finetune is not None:
            events = run_finetune(recipe, FinetuneInputs.from_dict(finetune), mnist, out_path=out, probe=probe_t)
        else:
            events = train(recipe, mnist, out_path=out, probe=probe_t)
        for event in events:
            if isinstance(event, RunStarted):
                event = dataclasses.replace(event, device=f"{event.device} · {node}", node=node)
            if isinstance(event, EpochEnd) and event.is_best and out.is_file():
                yield "checkpoint", out.read_bytes()
            yield _plain(event)
