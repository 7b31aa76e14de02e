"""Which model Evaluate and Draw use in this session, and the checkpoints they can choose from.

Checkpoints, models and their evaluations are cached by the checkpoint's SHA-256, so switching back is instant.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from torch import nn

from simplecnn import settings
from simplecnn.bounded import BoundedCache
from simplecnn.checkpoint import (
    DEFAULT_CHECKPOINT,
    Checkpoint,
    CheckpointError,
    CheckpointProblem,
    checkpoint_bytes,
    load_checkpoint,
)
from simplecnn.data import data_available
from simplecnn.files import digest_bytes, digest_file
from simplecnn.inference import digitcheck
from simplecnn.inference.digitcheck import DigitChecker
from simplecnn.training.runs import list_runs
from ui import fmt, session
from ui.i18n import error_text, t
from ui.resources import UPLOAD_LIMIT_MB

MODEL_SOURCE = "model_source"
UPLOADS = "uploaded_checkpoints"
MAX_SESSION_UPLOADS = 3  # a session keeps its newest uploads (their cleaned form, ~2 MB each)
MODEL_ENTRIES, MODEL_BYTES = 8, 16 << 20  # loaded models of the whole server (1.9 MB each)


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from; what people call it is `source_label()`, in their language at render time."""

    kind: str  # shipped | run | disk | upload
    path: str | None = None  # shipped, run and disk checkpoints
    digest: str | None = None  # uploads: key into st.session_state[UPLOADS]
    name: str = ""  # upload: the file's name; run: the run's number
    accuracy: float | None = None  # run, disk
    recipe: str = ""  # disk
    modified: float = 0.0  # disk
    status: str = ""  # this session's run: its RunStatus value
    model: str = ""  # run, disk: the network ("lenet5" is named in the label; "" or "simplecnn" is the default)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.path or self.digest}"


def source_label(source: ModelSource) -> str:
    """A model as the visitor reads it ('Shipped model (ready trained)', 'Your run 3 (98.10%)', …); a LeNet-5
    run says so ('… · LeNet-5')."""
    label = _source_label(source)
    return f"{label} · {fmt.network(source.model)}" if source.model not in ("", "simplecnn") else label


def _source_label(source: ModelSource) -> str:
    if source.kind == "shipped":
        return t("common.models.shipped")
    if source.kind == "upload":
        return t("common.models.uploaded", name=source.name)
    if source.kind == "disk":
        return fmt.run_label(source.recipe, source.modified, source.accuracy)
    if source.name:
        return t("common.models.your_run", run=source.name, accuracy=fmt.percent(source.accuracy))
    return t("common.models.this_run", status=t(f"status.{source.status}"))


def shipped_source() -> ModelSource:
    return ModelSource("shipped", str(DEFAULT_CHECKPOINT))


def current_source() -> ModelSource:
    return st.session_state.get(MODEL_SOURCE) or shipped_source()


def set_current_source(source: ModelSource) -> None:
    st.session_state[MODEL_SOURCE] = source


def accept_upload(name: str, blob: bytes) -> ModelSource:
    """Load an uploaded checkpoint (raises CheckpointError: unsafe, broken, too big) and keep it in this session:
    its cleaned form (the weights, typed metrics), not the file; the session keeps its newest MAX_SESSION_UPLOADS."""
    if len(blob) > UPLOAD_LIMIT_MB * 1024 * 1024:
        message = f"the file is larger than {UPLOAD_LIMIT_MB} MB"
        raise CheckpointError(message, CheckpointProblem.TOO_LARGE, mb=UPLOAD_LIMIT_MB)
    if not blob:
        raise CheckpointError("the file is empty", CheckpointProblem.EMPTY)
    digest = digest_bytes(blob)
    checkpoint = load_checkpoint(blob)
    kept = checkpoint_bytes(checkpoint)
    _loaded(digest, lambda: kept)
    uploads = st.session_state.setdefault(UPLOADS, {})
    uploads.pop(digest, None)
    uploads[digest] = (name, kept)
    while len(uploads) > MAX_SESSION_UPLOADS:
        del uploads[next(iter(uploads))]  # the oldest upload of this session
    return ModelSource("upload", digest=digest, name=name)


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    """digest_file, remembered per file version (name, mtime, size)."""
    return digest_file(path)


def _model_bytes(entry: tuple[Checkpoint, nn.Module]) -> int:
    return sum(t.numel() * t.element_size() for t in entry[1].state_dict().values())


@st.cache_resource(show_spinner=False)
def _models() -> BoundedCache[str, tuple[Checkpoint, nn.Module]]:
    """Loaded checkpoints of the whole server, by digest: at most MODEL_ENTRIES and MODEL_BYTES."""
    return BoundedCache(MODEL_ENTRIES, MODEL_BYTES, size=_model_bytes)


def _loaded(digest: str, read: Callable[[], bytes]) -> tuple[Checkpoint, nn.Module]:
    """The checkpoint (its metrics, config, history) and its CPU model; the weights are kept once, in the model."""

    def make() -> tuple[Checkpoint, nn.Module]:
        checkpoint = load_checkpoint(read())
        return dataclasses.replace(checkpoint, state_dict={}), checkpoint.model("cpu")

    return _models().get_or_make(digest, make)


@dataclass(frozen=True)
class LoadedModel:
    source: ModelSource
    digest: str
    checkpoint: Checkpoint
    model: nn.Module  # SimpleCNN or LeNet5

    @property
    def accuracy(self) -> float | None:
        return self.checkpoint.accuracy


def load(source: ModelSource) -> LoadedModel:
    """The checkpoint and CPU model behind a source; raises CheckpointError with a one-line message."""
    if source.kind == "upload":
        entry = st.session_state.get(UPLOADS, {}).get(source.digest)
        if entry is None:
            message = "the uploaded file is no longer in this session; upload it again"
            raise CheckpointError(message, CheckpointProblem.UPLOAD_GONE)
        kept: bytes = entry[1]
        digest, read = source.digest or "", (lambda: kept)
    else:
        path = Path(source.path or "")
        try:
            stat = path.stat()
            digest = _file_digest(str(path), stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            message = "its file is no longer on the server"  # never show server paths
            raise CheckpointError(message, CheckpointProblem.FILE_GONE) from None
        except OSError as exc:
            message = f"its file cannot be read ({exc.strerror or 'error'})"
            raise CheckpointError(message, CheckpointProblem.UNREADABLE) from None
        read = path.read_bytes
    checkpoint, model = _loaded(digest, read)
    return LoadedModel(source, digest, checkpoint, model)


def load_current() -> tuple[LoadedModel | None, str | None]:
    """(the session's model, None) or (None, why it cannot be used)."""
    try:
        return load(current_source()), None
    except CheckpointError as exc:
        return None, error_text(exc)


MAX_DISK_RUNS = 8  # the newest runs on disk are offered; a workshop leaves dozens


@st.cache_data(ttl=10, show_spinner=False)
def _disk_runs(root: str) -> list[tuple[str, float, float | None, str, str]]:
    return [(str(r.path), r.modified, r.accuracy, r.recipe, r.model) for r in list_runs(root or None)[:MAX_DISK_RUNS]]


def model_sources() -> list[ModelSource]:
    """What Evaluate offers: the shipped model, this session's run, runs on disk, this session's uploads."""
    sources: list[ModelSource] = []
    if DEFAULT_CHECKPOINT.is_file():
        sources.append(shipped_source())
    run = session.current_run()
    run_path = str(run.checkpoint) if run is not None and run.checkpoint and Path(run.checkpoint).is_file() else None
    if run is not None and run_path:
        sources.append(ModelSource("run", run_path, status=run.status.value, model=str(run.config.model)))
    for path, modified, accuracy, recipe, model in _disk_runs(str(settings.runs_dir())):
        if path != run_path:
            sources.append(ModelSource("disk", path, accuracy=accuracy, recipe=recipe, modified=modified, model=model))
    for digest, (name, _) in st.session_state.get(UPLOADS, {}).items():
        sources.append(ModelSource("upload", digest=digest, name=name))
    current = current_source()
    if current.key not in {s.key for s in sources} and current.kind != "shipped":
        sources.append(current)
    return sources


def digit_checker(loaded: LoadedModel) -> DigitChecker:
    """The "is this a digit?" check for this model, never waiting: the full check once its statistics exist
    (shipped, or kept on disk), the confidence-only fallback while they are fitted in the background."""
    checker = digitcheck.checker_for(loaded.model, compute=False)
    if isinstance(checker, digitcheck.LogitOnly) and data_available():
        digitcheck.fit_in_background(loaded.model)
    return checker
