"""Session state and cached resources shared by every page.

- one TrainingScheduler per process (st.cache_resource);
- a stable id per browser session, the session's training run id;
- "the model used by Evaluate and Draw in this session" (a ModelSource in st.session_state);
- checkpoints, models and evaluations cached by the checkpoint's SHA-256, so switching back is instant.
"""
from __future__ import annotations

import functools
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import streamlit as st

from simplecnn.checkpoint import DEFAULT_CHECKPOINT, Checkpoint, CheckpointError, load_checkpoint
from simplecnn.data import data_available, load_mnist, resolve_data_dir, sample_images
from simplecnn.device import describe_device, resolve_device
from simplecnn.evaluate import EvalResult, evaluate
from simplecnn.model import SimpleCNN
from simplecnn.runs import list_runs
from simplecnn.scheduler import TrainingScheduler, log_to_stderr

# Session-state keys (one place, so pages share them rather than copies).
SESSION_ID = "session_id"
RUN_ID = "train_run_id"
MODEL_SOURCE = "model_source"
UPLOADS = "uploaded_checkpoints"

UPLOAD_LIMIT_MB = 10                      # also server.maxUploadSize in .streamlit/config.toml
EVAL_LIMIT_ENV = "SIMPLECNN_EVAL_LIMIT"   # tests only: evaluate on the first N test images


# ---- routing ---------------------------------------------------------------------------------------------
def ensure_app_router() -> None:
    """Call first in every page: make sure the page runs under app.py's st.navigation.

    Streamlit quirk (1.4x–1.67): while a `pages/` folder exists, the first script run of a server process uses
    the old pages-folder mode until some run calls st.navigation. If that first visit is to /draw, Streamlit
    runs pages/draw.py on its own (no app.py, wrong sidebar) and stays in that mode. Leaving it and rerunning
    makes the run go through app.py, which routes back to the same URL path.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


# ---- process-wide resources -----------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def scheduler() -> TrainingScheduler:
    """The one training scheduler of this server process; worker threads train, pages only poll."""
    log_to_stderr(os.environ.get("SIMPLECNN_LOG", "info"))  # run started/finished lines in the server log
    return TrainingScheduler()


@st.cache_resource(show_spinner=False)
def device_description() -> str:
    return describe_device(resolve_device("auto"))


def inference_device() -> str:
    return resolve_device("auto").type


def data_dir() -> Path:
    return resolve_data_dir().resolve()


def has_data() -> bool:
    return data_available()


def missing_data_message() -> str:
    return (f"MNIST is not in `{data_dir() / 'MNIST' / 'raw'}`. Put the four MNIST files there, or start the app "
            f"with `SIMPLECNN_DATA=/path/to/data` pointing at a folder that holds `MNIST/raw/`.")


@st.cache_resource(show_spinner="Loading MNIST…")
def sample_grid(n: int = 25) -> tuple[np.ndarray, list[int]]:
    pixels, labels = sample_images(n)
    return pixels.numpy(), [int(v) for v in labels]


@st.cache_resource(show_spinner="Loading MNIST…")
def test_pixels() -> tuple[np.ndarray, np.ndarray]:
    """The test set as [0, 1] pixels (10000, 28, 28) and labels, for showing images."""
    from simplecnn.data import denormalize

    data = load_mnist()
    return denormalize(data.test_x[:, 0].cpu().clone()).numpy(), data.test_y.cpu().numpy()


# ---- this session -----------------------------------------------------------------------------------------
def session_id() -> str:
    if SESSION_ID not in st.session_state:
        st.session_state[SESSION_ID] = uuid.uuid4().hex
    return st.session_state[SESSION_ID]


def current_run():
    """This session's training run (queued, running or finished), or None."""
    run_id = st.session_state.get(RUN_ID)
    return scheduler().get(run_id) if run_id else None


# ---- models ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSource:
    kind: str                     # shipped | run | disk | upload
    label: str
    path: Optional[str] = None    # shipped, run and disk checkpoints
    digest: Optional[str] = None  # uploads: key into st.session_state[UPLOADS]

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.path or self.digest}"


def shipped_source() -> ModelSource:
    return ModelSource("shipped", "Shipped model (checkpoints/simplecnn.pt)", str(DEFAULT_CHECKPOINT))


def current_source() -> ModelSource:
    return st.session_state.get(MODEL_SOURCE) or shipped_source()


def set_current_source(source: ModelSource) -> None:
    st.session_state[MODEL_SOURCE] = source


def accept_upload(name: str, blob: bytes) -> ModelSource:
    """Load an uploaded checkpoint (raises CheckpointError: unsafe, broken, too big) and keep it in this session."""
    if len(blob) > UPLOAD_LIMIT_MB * 1024 * 1024:
        raise CheckpointError(f"the file is larger than {UPLOAD_LIMIT_MB} MB")
    if not blob:
        raise CheckpointError("the file is empty")
    digest = hashlib.sha256(blob).hexdigest()
    _checkpoint(digest, lambda: blob)
    st.session_state.setdefault(UPLOADS, {})[digest] = (name, blob)
    return ModelSource("upload", f"Uploaded: {name}", digest=digest)


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@st.cache_resource(max_entries=16, show_spinner=False)
def _checkpoint(digest: str, _read: Callable[[], bytes]) -> Checkpoint:
    return load_checkpoint(_read())


@st.cache_resource(max_entries=16, show_spinner=False)
def _model(digest: str, _ckpt: Checkpoint) -> SimpleCNN:
    return _ckpt.model("cpu")


@dataclass(frozen=True)
class LoadedModel:
    source: ModelSource
    digest: str
    checkpoint: Checkpoint
    model: SimpleCNN

    @property
    def accuracy(self) -> Optional[float]:
        return self.checkpoint.accuracy


def load(source: ModelSource) -> LoadedModel:
    """The checkpoint and CPU model behind a source; raises CheckpointError with a one-line message."""
    if source.kind == "upload":
        entry = st.session_state.get(UPLOADS, {}).get(source.digest)
        if entry is None:
            raise CheckpointError("the uploaded file is no longer in this session; upload it again")
        blob = entry[1]
        digest, read = source.digest, (lambda: blob)
    else:
        path = Path(source.path or "")
        try:
            stat = path.stat()
            digest = _file_digest(str(path), stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            raise CheckpointError(f"no such file: {path}") from None
        except OSError as exc:
            raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
        read = path.read_bytes
    checkpoint = _checkpoint(digest, read)
    return LoadedModel(source, digest, checkpoint, _model(digest, checkpoint))


def load_current() -> tuple[Optional[LoadedModel], Optional[str]]:
    """(the session's model, None) or (None, why it cannot be used)."""
    try:
        return load(current_source()), None
    except CheckpointError as exc:
        return None, str(exc)


@st.cache_data(ttl=10, show_spinner=False)
def _disk_runs(root: str) -> list[tuple[str, str, Optional[float], str]]:
    return [(str(r.path), r.name, r.accuracy, r.recipe) for r in list_runs()]


def model_sources() -> list[ModelSource]:
    """What Evaluate offers: the shipped model, this session's run, runs on disk, this session's uploads."""
    sources: list[ModelSource] = []
    if DEFAULT_CHECKPOINT.is_file():
        sources.append(shipped_source())
    run = current_run()
    run_path = str(run.checkpoint) if run is not None and run.checkpoint and Path(run.checkpoint).is_file() else None
    if run_path:
        sources.append(ModelSource("run", f"This session's run ({run.status.replace('_', ' ')})", run_path))
    for path, name, accuracy, recipe in _disk_runs(os.environ.get("SIMPLECNN_RUNS", "")):
        if path == run_path:
            continue
        acc = f"{accuracy:.2%}" if accuracy is not None else "?"
        sources.append(ModelSource("disk", f"Run {name} · {recipe} · {acc}", path))
    for digest, (name, _) in st.session_state.get(UPLOADS, {}).items():
        sources.append(ModelSource("upload", f"Uploaded: {name}", digest=digest))
    current = current_source()
    if current.key not in {s.key for s in sources} and current.kind != "shipped":
        sources.append(current)
    return sources


# ---- evaluation -----------------------------------------------------------------------------------------------
def eval_limit() -> int:
    try:
        return max(0, int(os.environ.get(EVAL_LIMIT_ENV, "0")))
    except ValueError:
        return 0


@st.cache_resource(max_entries=8, show_spinner="Evaluating on the test set…")
def evaluation(digest: str, limit: int, _ckpt: Checkpoint) -> EvalResult:
    """Test-set evaluation of one checkpoint (cached per checkpoint hash and test-set size)."""
    device = resolve_device("auto")
    data = load_mnist(device=device)
    x, y = data.test_x, data.test_y
    if limit:
        x, y = x[:limit], y[:limit]
    return evaluate(_ckpt.model(device), x, y)


def sample_indices(n: int, k: int, seed: int) -> np.ndarray:
    """k distinct random test-set indices out of n, reproducible from seed."""
    return np.random.default_rng(seed).choice(n, size=min(k, n), replace=False)
