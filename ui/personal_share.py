"""Take a model home (the tutorial's .pt, the checked ONNX bundle) and share a finished run: its read-only link
(`/board?run=<key>`: curves, accuracy, config, and a button that opens Draw with its model, none of the owner's
controls), which stops working when the owner deletes the run or the host clears the board."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st

from simplecnn.checkpoint import CheckpointError
from simplecnn.figures import room as room_plots
from simplecnn.figures.charts import CurveLabels
from simplecnn.personal.export import ExportError, bundle_zip, cached_bundle, onnx_installed, state_dict_bytes
from simplecnn.workshop.board import shared_run
from simplecnn.workshop.room import Participant
from simplecnn.workshop.scheduler import Run
from ui import charts, fmt, i18n, models, nav, resources
from ui import participant as participants
from ui.i18n import error_text, status_text, t
from ui.personal_finetune import before_after

SHARE_PARAM = "run"  # /board?run=<key>
NOTICE = "personal_share_notice"
MY_RUNS = 5  # the newest finished runs of the participant offered for sharing
STATIC = {"displayModeBar": False, "scrollZoom": False}


# ---- take it home ----------------------------------------------------------------------------------------------
def export_section() -> None:
    """Any model this visitor can use, as the tutorial's state_dict (.pt) or the ONNX bundle (checked against
    PyTorch before it is offered; made once per checkpoint, in a process of its own)."""
    st.subheader(t("personal.export.heading"))
    sources = {s.key: s for s in models.model_sources()}
    current = models.current_source().key
    keys = list(sources)
    choice = st.selectbox(
        t("personal.export.model"),
        keys,
        index=keys.index(current) if current in keys else 0,
        format_func=i18n.choices(keys, lambda k: models.source_label(sources[k])),
        key=i18n.localized("personal_export_model"),
    )
    if choice is None:
        return
    try:
        loaded = models.load(sources[choice])
    except CheckpointError as exc:
        st.error(error_text(exc))
        return
    name = f"simplecnn-{loaded.digest[:8]}"
    checkpoint = loaded.checkpoint
    st.download_button(
        t("personal.export.pt"),
        data=lambda: state_dict_bytes(checkpoint),
        file_name=f"{name}.pt",
        mime="application/octet-stream",
        key="personal_export_pt",
        icon=":material/download:",
        on_click="ignore",
        help=t("personal.export.pt_help"),
    )
    _onnx(loaded, name)


def _onnx(loaded: models.LoadedModel, name: str) -> None:
    try:
        onnx_installed()
    except ExportError as exc:
        st.info(error_text(exc))
        return
    if cached_bundle(loaded.digest) is None:
        if not st.button(t("personal.export.make_onnx"), key="personal_export_make", icon=":material/build:"):
            st.caption(t("personal.export.onnx_what"))
            return
        source: Path | bytes
        if loaded.source.kind == "upload":
            source = models.upload_bytes(loaded.source.digest)
        else:
            source = Path(loaded.source.path or "")
        with st.spinner(t("personal.export.making")):
            try:
                bundle_zip(source, loaded.digest)
            except ExportError as exc:
                st.error(error_text(exc))
                return
    ready = cached_bundle(loaded.digest)
    if ready is not None:
        st.download_button(
            t("personal.export.onnx"),
            data=ready.read_bytes,
            file_name=f"{name}-onnx.zip",
            mime="application/zip",
            key="personal_export_onnx",
            icon=":material/download:",
            on_click="ignore",
        )
        st.caption(t("personal.export.onnx_what"))


# ---- the owner: share links --------------------------------------------------------------------------------------
def share_url(run: Run) -> str:
    """The run's read-only link, absolute when the page knows its own address (never the owner's token)."""
    here = urlsplit(st.context.url or "")
    base = f"{here.scheme}://{here.netloc}{here.path.rsplit('/', 1)[0]}" if here.netloc else ""
    return f"{base}/board?{SHARE_PARAM}={run.share}{i18n.link_suffix()}"


def _delete(run_id: str) -> None:
    sched, person = resources.scheduler(), participants.current()
    run = sched.get(run_id)
    if person is not None and run is not None and run.session == person.id and sched.delete(run_id):
        if models.current_source().path == str(run.checkpoint):
            models.set_current_source(models.shipped_source())
        st.session_state[NOTICE] = run_id.removeprefix("run-")


def share_section(person: Participant) -> None:
    """The participant's newest finished runs, each with its read-only link and Delete (which ends the link)."""
    st.subheader(t("personal.share.heading"))
    if NOTICE in st.session_state:
        st.success(t("personal.share.deleted", run=st.session_state.pop(NOTICE)))
    mine = [r for r in resources.scheduler().runs() if r.session == person.id and not r.active and r.checkpoint]
    if not mine:
        st.caption(t("personal.share.none"))
        return
    st.caption(t("personal.share.intro"))
    for run in reversed(mine[-MY_RUNS:]):
        number = run.id.removeprefix("run-")
        with st.container(border=True, key=f"personal_share_{number}"):
            st.text(t("personal.share.run", run=number, recipe=_recipe(run), accuracy=fmt.percent(run.best_accuracy)))
            st.code(share_url(run), language=None, wrap_lines=True)
            st.button(
                t("personal.share.delete"),
                key=f"personal_share_delete_{number}",
                icon=":material/delete:",
                on_click=_delete,
                args=(run.id,),
                help=t("personal.share.delete_help"),
            )


def _recipe(run: Run) -> str:
    recipe = run.config.recipe
    return t(f"personal.recipe.{recipe}") if recipe in ("quick", "tutorial", "finetune") else t("personal.recipe.other")


# ---- anyone with the link: the read-only view ---------------------------------------------------------------------
def _open_in_draw(path: str, number: str, accuracy: float | None) -> None:
    models.set_current_source(models.ModelSource("run", path, name=number, accuracy=accuracy))


def shared_view() -> bool:
    """On the Class board: when the URL carries `?run=<key>`, show that finished run read-only and return True
    (the page shows nothing else); False when there is no such parameter."""
    key = st.query_params.get(SHARE_PARAM)
    if not key:
        return False
    st.title(t("personal.shared.title"))
    run = shared_run(resources.scheduler(), participants.room(), str(key))
    path = Path(run.checkpoint) if run is not None and run.checkpoint else None
    if run is None or path is None or not path.is_file():
        st.error(t("personal.shared.gone"))
        return True
    resources.scheduler().touch(run.id)  # a link being looked at keeps its run from being forgotten
    number = run.id.removeprefix("run-")
    st.text(t("personal.shared.who", name=participants.room().names().get(run.session, "?"), run=number))
    best, took, status = st.columns(3)
    best.metric(t("personal.shared.accuracy"), fmt.percent(run.best_accuracy), border=True)
    took.metric(t("personal.shared.time"), fmt.duration(run.elapsed), border=True)
    status.metric(t("personal.shared.status"), status_text(run.status), border=True)
    if run.before_after is not None:
        before_after(run.before_after, pictures=False)  # the owner's drawings stay theirs
    batches, epochs = run.curves()
    left, right = st.columns(2)
    for column, metric in ((left, "loss"), (right, "accuracy")):
        words = charts.labels(CurveLabels, f"{metric}_curve")
        curve = room_plots.live_curve(metric, batches, epochs, height=260, labels=words)
        column.plotly_chart(curve, key=f"shared_{metric}", config=STATIC)
    st.dataframe(_config_rows(run), key="shared_config", hide_index=True, column_config=_config_columns())
    clicked = st.button(
        t("personal.shared.open_draw"),
        key="shared_open_draw",
        type="primary",
        icon=":material/draw:",
        on_click=_open_in_draw,
        args=(str(path), number, run.best_accuracy),
    )
    if clicked:
        st.switch_page(nav.page("draw"))
    return True


def _config_columns() -> dict:
    text = st.column_config.TextColumn
    return {"setting": text(t("personal.shared.setting")), "value": text(t("personal.shared.value"))}


def _config_rows(run: Run) -> list[dict]:
    words = i18n.catalog(i18n.language())
    rows = []
    for field in dataclasses.fields(run.config):
        value = getattr(run.config, field.name)
        value = value.value if isinstance(value, enum.Enum) else value
        if value is None or field.name in ("device", "precision", "report_every", "channels_last"):
            continue
        label = t(f"train.field.{field.name}") if f"train.field.{field.name}" in words else field.name
        rows.append({"setting": label, "value": _value(run, field.name, value)})
    return rows


def _value(run: Run, name: str, value: object) -> str:
    if name == "recipe":
        return _recipe(run)
    if isinstance(value, bool):
        return t("board.compare.yes") if value else t("board.compare.no")
    if name == "schedule":
        return t(f"train.schedule.{value}")
    return str(value)
