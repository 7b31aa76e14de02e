"""The model in use: one per visitor, the same on every page and in every link they follow.

It is remembered by the participant (`Participant.model`, simplecnn.workshop.room), whose private token every
link of this app carries (`participant.link`), so Evaluate, Draw, Inside and a new tab opened from a test image
all explain the same model; a finished run becomes its participant's model (the room's run-end listener) until
they choose another. A visitor who never trained nor chose has the shipped model. Checkpoints, models and their
evaluations are cached by the checkpoint's SHA-256, so switching back is instant.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from torch import nn

from simplecnn import settings
from simplecnn.bounded import BoundedCache
from simplecnn.calibration import Calibration
from simplecnn.checkpoint import (
    DEFAULT_CHECKPOINT,
    Checkpoint,
    CheckpointError,
    CheckpointProblem,
    checkpoint_bytes,
    load_checkpoint,
)
from simplecnn.data import TEST_SIZE, data_available
from simplecnn.evaluate import EvalResult, known_calibration, stored_evaluation
from simplecnn.files import digest_bytes, digest_file
from simplecnn.inference import digitcheck
from simplecnn.inference.digitcheck import DigitChecker
from simplecnn.training.runs import list_runs
from ui import fmt, session
from ui import participant as participants
from ui.i18n import error_text, t
from ui.resources import UPLOAD_LIMIT_MB

UPLOAD = "upload:"  # Participant.model of an uploaded checkpoint: "upload:<sha256>"
KEPT_UPLOADS = 8  # uploads kept for the whole server, in their cleaned form (~2 MB each), the oldest forgotten
MODEL_ENTRIES, MODEL_BYTES = 8, 16 << 20  # loaded models of the whole server (1.9 MB each)


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from; what people call it is `source_label()`, in their language at render time."""

    kind: str  # shipped | run | upload
    path: str | None = None  # shipped and run checkpoints
    digest: str | None = None  # uploads: key into the server's kept uploads
    name: str = ""  # upload: the file's name
    accuracy: float | None = None  # run: its recorded test accuracy
    recipe: str = ""  # run
    modified: float = 0.0  # run
    mine: bool = False  # run: trained by this visitor
    owner: str = ""  # run: the participant's display name when it is someone else's (plain text)
    model: str = ""  # run: the network ("lenet5" is named in the label; "" or "simplecnn" is the default)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.path or self.digest}"

    @property
    def reference(self) -> str:
        """What the participant remembers (Participant.model)."""
        return f"{UPLOAD}{self.digest}" if self.kind == "upload" else str(self.path)


def source_label(source: ModelSource) -> str:
    """A model as the visitor reads it: 'Shipped model (ready trained)', 'Yours: Quick run of 03 Dec 14:05 · 98.90%',
    'Ada's Quick run of …'. Never a path or a folder name. A LeNet-5 run says so ('… · LeNet-5')."""
    label = _source_label(source)
    return f"{label} · {fmt.network(source.model)}" if source.model not in ("", "simplecnn") else label


def _source_label(source: ModelSource) -> str:
    if source.kind == "shipped":
        return t("common.models.shipped")
    if source.kind == "upload":
        return t("common.models.uploaded", name=source.name)
    run = fmt.run_label(source.recipe, source.modified, source.accuracy)
    if source.mine:
        return t("common.models.yours", run=run)
    return t("common.models.someones", name=source.owner, run=run) if source.owner else run


def shipped_source() -> ModelSource:
    return ModelSource("shipped", str(DEFAULT_CHECKPOINT))


def _run_owner(path: Path) -> str:
    """The public id of the participant who trained the run in this folder ('<stamp>-<owner>-<random>')."""
    parts = path.parent.name.split("-")
    return parts[2] if len(parts) == 4 else ""


def run_source(path: str, accuracy: float | None, recipe: str, modified: float, model: str = "") -> ModelSource:
    person = session.participant()
    owner = _run_owner(Path(path))
    mine = bool(person is not None and owner == person.id)
    name = "" if mine or not owner else participants.room().names().get(owner, "")
    return ModelSource(
        "run", path, accuracy=accuracy, recipe=recipe, modified=modified, mine=mine, owner=name, model=model
    )


def _source_of(reference: str) -> ModelSource:
    """A participant's remembered model as a source."""
    if reference.startswith(UPLOAD):
        digest = reference.removeprefix(UPLOAD)
        kept = _uploads().get(digest)
        return ModelSource("upload", digest=digest, name=kept[0] if kept else "?")
    if Path(reference) == DEFAULT_CHECKPOINT:
        return shipped_source()
    path = Path(reference)
    try:
        checkpoint = load(ModelSource("run", reference)).checkpoint
        stat_time = path.stat().st_mtime
    except (CheckpointError, OSError):
        return ModelSource("run", reference)  # gone: load() says so where it is used
    recipe = str(checkpoint.config.get("recipe", "?"))
    return run_source(reference, checkpoint.accuracy, recipe, stat_time, str(checkpoint.config.get("model", "")))


def current_source() -> ModelSource:
    """This visitor's model in use: the one a link named (`?model=`, e.g. an image opened from Evaluate), else
    their participant's, else the shipped one."""
    linked = linked_source()
    if linked is not None:
        return linked
    person = session.participant()
    return _source_of(person.model) if person is not None and person.model else shipped_source()


MODEL_PARAM = "model"  # a link's model: "shipped", a run's folder name, or "upload-<sha256>"
_RUN_FOLDER = re.compile(r"[0-9A-Za-z_-]{1,80}")


def link_value(source: ModelSource) -> str:
    """How a link names this model (no server path: a run by its folder name)."""
    if source.kind == "upload":
        return f"upload-{source.digest}"
    return "shipped" if source.kind == "shipped" else Path(source.path or "").parent.name


def linked_source() -> ModelSource | None:
    """The model this page's link names (`?model=`), None when it names none or nothing this server has."""
    value = str(st.query_params.get(MODEL_PARAM) or "")
    if not value:
        return None
    if value == "shipped":
        return shipped_source()
    if value.startswith("upload-"):
        return _source_of(UPLOAD + value.removeprefix("upload-"))
    path = settings.runs_dir() / value / "best.pt"
    return _source_of(str(path)) if _RUN_FOLDER.fullmatch(value) and path.is_file() else None


def link_suffix(source: ModelSource) -> str:
    """`&p=<token>&model=<model>` for a link to another page or tab: it finds the same participant (their run
    badge, their drawing) and explains the same model."""
    person = session.participant()
    token = f"&{participants.TOKEN_PARAM}={person.token}" if person is not None else ""
    return f"{token}&{MODEL_PARAM}={link_value(source)}"


def set_current_source(source: ModelSource) -> None:
    """Make `source` this visitor's model on every page: a choice made here must survive a new tab, so the visitor
    gets a participant (a private link) if they have none yet."""
    participants.ensure().model = None if source.kind == "shipped" else source.reference
    if MODEL_PARAM in st.query_params:  # the link's model was for the page it opened, not a choice
        del st.query_params[MODEL_PARAM]


@st.cache_resource(show_spinner=False)
def _uploads() -> OrderedDict[str, tuple[str, bytes]]:
    """Uploaded checkpoints of every visitor, by SHA-256: a new tab with the visitor's link finds theirs."""
    return OrderedDict()


def upload_bytes(digest: str | None) -> bytes:
    """An uploaded checkpoint's bytes (empty when the server has forgotten it)."""
    kept = _uploads().get(digest or "")
    return kept[1] if kept else b""


def accept_upload(name: str, blob: bytes) -> ModelSource:
    """Load an uploaded checkpoint (raises CheckpointError: unsafe, broken, too big) and keep it for this server
    (a new tab with the visitor's link finds it): its cleaned form (the weights, typed metrics), not the file."""
    if len(blob) > UPLOAD_LIMIT_MB * 1024 * 1024:
        message = f"the file is larger than {UPLOAD_LIMIT_MB} MB"
        raise CheckpointError(message, CheckpointProblem.TOO_LARGE, mb=UPLOAD_LIMIT_MB)
    if not blob:
        raise CheckpointError("the file is empty", CheckpointProblem.EMPTY)
    digest = digest_bytes(blob)
    kept_bytes = checkpoint_bytes(load_checkpoint(blob))
    _loaded(digest, lambda: kept_bytes)
    kept = _uploads()
    kept[digest] = (name, kept_bytes)
    kept.move_to_end(digest)
    while len(kept) > KEPT_UPLOADS:
        kept.popitem(last=False)
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

    @property
    def test_images(self) -> int | None:
        """How many test images `accuracy` was measured on (recorded with it)."""
        n = self.checkpoint.metrics.get("n_test")
        return int(n) if isinstance(n, int | float) else None

    @property
    def calibration(self) -> Calibration | None:
        """The model's one temperature, the same on every page (simplecnn.evaluate.known_calibration)."""
        return _calibration(self.digest, self.checkpoint)

    @property
    def temperature(self) -> float:
        calibration = self.calibration
        return calibration.temperature if calibration is not None else 1.0


@st.cache_data(ttl=30, show_spinner=False)
def _calibration(digest: str, _checkpoint: Checkpoint) -> Calibration | None:
    """Recorded by its training run, else from a kept full evaluation; re-read now and then (Evaluate may have
    just made one)."""
    return known_calibration(_checkpoint.metrics, digest)


UNCALIBRATED = Calibration(1.0, float("nan"), float("nan"), 0, 0)  # T = 1: the model's own softmax


def shown_calibration(loaded: LoadedModel, result: EvalResult) -> Calibration:
    """The temperature Evaluate shows `result` at: the model's one (`loaded.calibration`, as on Draw and Inside),
    else — a full test-set evaluation just fitted one and kept it on disk — that one, now every page's, else T = 1."""
    if loaded.calibration is not None:
        return loaded.calibration
    if result.n == TEST_SIZE and result.calibration is not None and stored_evaluation(loaded.digest, TEST_SIZE):
        _calibration.clear()  # the other pages find the kept evaluation's temperature from now on
        return result.calibration
    return UNCALIBRATED


def load(source: ModelSource) -> LoadedModel:
    """The checkpoint and CPU model behind a source; raises CheckpointError with a one-line message."""
    if source.kind == "upload":
        entry = _uploads().get(source.digest or "")
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
    """(the visitor's model in use, None) or (None, why it cannot be used)."""
    try:
        return load(current_source()), None
    except CheckpointError as exc:
        return None, error_text(exc)


MAX_DISK_RUNS = 8  # the newest runs on disk are offered (a workshop leaves dozens), and always the visitor's own


@st.cache_data(ttl=10, show_spinner=False)
def _disk_runs(root: str) -> list[tuple[str, float, float | None, str, str]]:
    return [(str(r.path), r.modified, r.accuracy, r.recipe, r.model) for r in list_runs(root or None)]


def model_sources() -> list[ModelSource]:
    """What Evaluate offers: the shipped model, the visitor's own runs first, the newest others, their upload."""
    sources = [shipped_source()] if DEFAULT_CHECKPOINT.is_file() else []
    runs = [
        run_source(path, accuracy, recipe, modified, model)
        for path, modified, accuracy, recipe, model in _disk_runs(str(settings.runs_dir()))
    ]
    sources += [r for r in runs if r.mine] + [r for r in runs if not r.mine][:MAX_DISK_RUNS]
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
