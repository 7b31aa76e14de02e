"""Process-wide resources shared by every page and session (st.cache_resource): the training scheduler,
MNIST images for display, test-set evaluations. The computing lives in `simplecnn`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
import torch
from torch import nn

from simplecnn import settings
from simplecnn.data import TEST_SIZE, data_available, normalize, read_split, resolve_data_dir, sample_images
from simplecnn.device import describe_device, physical_cores, resolve_device
from simplecnn.evaluate import EvalResult, evaluate_cached, stored_evaluation
from simplecnn.execution.choose import executor_from_env, max_concurrent_for
from simplecnn.workshop.scheduler import TrainingScheduler, log_to_stderr
from ui.i18n import t

UPLOAD_LIMIT_MB = 10  # also server.maxUploadSize in .streamlit/config.toml
EVAL_LIMIT_ENV = settings.EVAL_LIMIT.name  # tests only: evaluate on the first N test images


@st.cache_resource(show_spinner=False)
def scheduler() -> TrainingScheduler:
    """The one training scheduler of this server process; worker threads train, pages only poll."""
    log_to_stderr(settings.log_level())  # run started/finished lines in the server log
    executor = executor_from_env()  # local threads, or Ray when SIMPLECNN_RAY_ADDRESS is set
    return TrainingScheduler(max_concurrent=max_concurrent_for(executor), executor=executor)


@st.cache_resource(show_spinner=False)
def _device() -> tuple[str, str, int]:
    """This server's training device: (type, name, cores)."""
    device = resolve_device("auto")
    return device.type, describe_device(device).split(": ", 1)[-1], physical_cores()


def device_description() -> str:
    """The server's device in the visitor's words ('CPU (2 cores)')."""
    kind, name, cores = _device()
    return device_text(kind, name, cores)


def device_text(kind: str, name: str = "", cores: int = 0) -> str:
    """A device type ('cpu', 'cuda', 'mps') in the visitor's words."""
    if kind == "cpu":
        return t("common.device.cpu", count=cores or physical_cores())
    return t("common.device.cuda", name=name) if kind == "cuda" else t("common.device.mps")


def device_choice(name: str) -> str:
    """A device option of the Train form ('auto', 'cpu', 'cuda', 'mps')."""
    return t("common.device.auto") if name == "auto" else name.upper()


def data_dir() -> Path:
    return resolve_data_dir().resolve()


def has_data() -> bool:
    return data_available()


def missing_data_message() -> str:
    """Where MNIST should be, in the visitor's words (the CLI prints the library's English message)."""
    return t("errors.data.missing", where=data_dir() / "MNIST" / "raw")


@st.cache_resource(show_spinner=False)
def sample_grid(n: int = 25) -> tuple[np.ndarray, list[int]]:
    pixels, labels = sample_images(n)
    return pixels, [int(v) for v in labels]


@st.cache_resource(show_spinner=False)
def _test_split() -> tuple[np.ndarray, np.ndarray]:
    return read_split(train=False)  # 7.8 MB of uint8, without loading the training set


def test_image(index: int) -> np.ndarray:
    """One test image as [0, 1] float32 pixels (28, 28), for showing it (the set is held as uint8)."""
    pixels, _ = _test_split()
    return pixels[index].astype(np.float32) / 255.0


def test_label(index: int) -> int:
    return int(_test_split()[1][index])


def test_count() -> int:
    return len(_test_split()[0])


def eval_limit() -> int:
    return settings.eval_limit()


@st.cache_resource(max_entries=8, show_spinner=False)
def evaluation(digest: str, limit: int, _model: nn.Module) -> EvalResult:
    """Test-set evaluation of one checkpoint: kept on disk by its SHA-256 (the shipped one ships with it), so
    a cold server shows it without loading MNIST; computed once otherwise, from the test split the display
    pages share (7.8 MB of uint8), not all of MNIST (55 MB)."""
    kept = stored_evaluation(digest, limit or TEST_SIZE)
    if kept is not None:
        return kept
    pixels, labels = _test_split()
    count = limit or len(labels)
    x = normalize(torch.from_numpy(pixels[:count].copy()).unsqueeze(1))
    y = torch.from_numpy(labels[:count].astype(np.int64))
    return evaluate_cached(_model, digest, x, y)
