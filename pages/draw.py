"""Draw: write a digit (mouse or touch) or upload a picture, and see what the model reads.

Phone first: the answer (or the hint) sits *above* the canvas, so on a 390×844 screen the digit and its
confidence are in view the moment the finger lifts; Undo and Clear are plain buttons under the canvas (the
canvas's own toolbar needs hover and is hidden by ui.charts).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import streamlit as st
import torch
from streamlit_drawable_canvas import st_canvas

from simplecnn.data import denormalize
from simplecnn.explain import single_threaded
from simplecnn.figures import charts as plots
from simplecnn.inference.predict import Prediction, predict_image, read_image
from simplecnn.inference.preprocess import BlankImageError, ImageError
from ui import charts, models, personal, resources, session
from ui import verdict as verdicts
from ui.i18n import choices, error_text, t
from ui.inside import render_inside_view
from ui.visitor import code_text, literal

CANVAS_SIZE = 280  # 10× MNIST's 28 px; fits a 390 px phone screen
DRAW, UPLOAD = "draw", "upload"  # the input modes (their labels are in the catalog)
# Other pages (the inside view) read the last drawing from the session under these keys.
LAST_X, LAST_IMAGE = "last_drawing_x", "last_drawing_image"
CANVAS_N, INITIAL, DRAWING, HISTORY = "draw_canvas_n", "draw_initial", "draw_drawing", "draw_history"
ANSWER_MIN_HEIGHT = 128  # px kept for the answer above the canvas

st.title(t("common.nav.draw"))
loaded, problem = models.load_current()
if loaded is None:
    st.error(t("draw.no_model", model=models.source_label(models.current_source()), problem=problem))
    st.stop()
model: models.LoadedModel = loaded

mode = st.segmented_control(
    t("draw.mode.label"),
    [DRAW, UPLOAD],
    format_func=choices((DRAW, UPLOAD), lambda mode: t(f"draw.mode.{mode}")),
    key="draw_mode",
    default=DRAW,
    required=True,
    persist_state="session",
    label_visibility="collapsed",
)
st.session_state.setdefault(CANVAS_N, 0)
# Room kept for the answer so the canvas hardly moves under the finger, but never a fixed height: a longer
# message grows the box instead of being clipped (phones).
st.html(f"<style>.st-key-draw_answer{{min-height:{ANSWER_MIN_HEIGHT}px}}</style>")


def _restart_canvas(drawing: dict[str, Any] | None) -> None:
    """A fresh canvas widget showing `drawing` (a new key: the old widget's strokes and state are dropped).

    A canvas created with an initial drawing sends no pixels until the next stroke, so _canvas_input() takes
    them from HISTORY: the PNG the canvas sent after each stroke."""
    st.session_state[INITIAL] = drawing
    st.session_state[CANVAS_N] += 1


def _clear() -> None:
    st.session_state[HISTORY] = []
    _restart_canvas(None)


def _undo() -> None:
    """The last drawing (Fabric.js JSON, as the canvas sent it) without its last stroke."""
    drawing: dict[str, Any] = st.session_state.get(DRAWING) or {}
    objects = list(drawing.get("objects") or [])[:-1]
    _restart_canvas({**drawing, "objects": objects} if objects else None)


def _canvas_input() -> tuple[np.ndarray | None, bytes | None]:
    """The canvas with Undo / Clear under it; returns its RGBA pixels and PNG (None before the first stroke)."""
    initial = st.session_state.get(INITIAL)
    canvas = st_canvas(
        stroke_width=st.session_state.get("draw_stroke", 20),
        stroke_color="#FFFFFF",
        background_color="#000000",
        width=CANVAS_SIZE,
        height=CANVAS_SIZE,
        drawing_mode="freedraw",
        initial_drawing=initial,
        update_streamlit=True,
        return_image_data=True,
        key=f"draw_canvas_{st.session_state[CANVAS_N]}",
    )
    st.session_state[DRAWING] = canvas.json_data
    objects = (canvas.json_data or {}).get("objects") or []
    history: list[bytes] = st.session_state.setdefault(HISTORY, [])
    png = canvas.image_bytes
    if png is not None and objects:
        del history[len(objects) - 1 :]
        history.append(png)
    with st.container(horizontal=True, key="draw_buttons"):
        st.button(t("draw.undo"), key="draw_undo", on_click=_undo, icon=":material/undo:", disabled=not objects)
        st.button(t("draw.clear"), key="draw_clear", on_click=_clear, icon=":material/delete:", disabled=not objects)
    st.slider(
        t("draw.stroke_width"), min_value=6, max_value=40, value=20, step=1, key="draw_stroke", persist_state="session"
    )
    if png is None and objects and len(history) >= len(objects):
        png = history[len(objects) - 1]  # just after Undo: the pixels of the drawing it restored
    return (read_image(png), png) if png is not None else (None, None)


def _upload_input() -> tuple[np.ndarray | None, bytes | None, str | None]:
    uploaded = st.file_uploader(
        t("draw.upload.label"),
        type=["png", "jpg", "jpeg"],
        key="draw_upload",
        max_upload_size=resources.UPLOAD_LIMIT_MB,
    )
    if uploaded is None:
        return None, None, None
    blob = uploaded.getvalue()
    try:
        image = read_image(blob)
    except ImageError as exc:
        return None, None, t("draw.upload.unreadable", name=code_text(uploaded.name), problem=literal(error_text(exc)))
    st.image(blob, caption=uploaded.name, width=CANVAS_SIZE, alt=uploaded.name)
    return image, blob, None


def _show_answer(slot: Any, prediction: Prediction, seen: np.ndarray) -> None:
    """The check's answer, compact enough to sit above the canvas on a phone: the digit and how sure, or the
    unsure / not-a-digit sentence with the best guess (ui.verdict: the same words as the chart and inside view)."""
    answer = verdicts.answer_of(prediction)
    with slot.container(horizontal=True, vertical_alignment="center", gap="medium", key="draw_answer_row"):
        st.image(
            charts.enlarge(seen, 3), width=72, clamp=True, caption=t("draw.answer.view"), alt=t("draw.answer.image_alt")
        )
        if answer == verdicts.DIGIT:
            st.metric(
                t("draw.answer.prediction"),
                str(prediction.digit),
                delta=verdicts.confidence_text(prediction.confidence),
                delta_color="off",
                delta_arrow="off",
                border=True,
                width="content",
                help=t("draw.answer.prediction_help"),
            )
            return
        value = "?" if answer == verdicts.NOT_DIGIT else f"{prediction.digit}?"
        st.metric(t("draw.answer.prediction"), value, border=True, width="content", help=t("draw.answer.doubt_help"))
        st.warning(verdicts.headline(prediction), width="stretch")


def _read(image: np.ndarray) -> tuple[Prediction, torch.Tensor]:
    with single_threaded():  # one small image: threads only add barrier waits on a busy server
        return predict_image(model.model, image, checker=models.digit_checker(model), temperature=model.temperature)


def _remember(x: torch.Tensor, image: np.ndarray | None, blob: bytes | None) -> None:
    """The inside page (also in another tab with the participant's link) explains this drawing."""
    st.session_state[LAST_X], st.session_state[LAST_IMAGE] = x, image
    person = session.participant()
    if person is not None and blob is not None:
        person.drawing = blob


@st.fragment
def _draw_area() -> None:
    """The answer, then the canvas; a stroke reruns only this, and the answer goes out before any inside-view
    work (the inside view fills in after it, one step at a time)."""
    slot = st.container(key="draw_answer")
    col_in, col_out = st.columns([1, 1.3], gap="large")
    with col_in:
        if mode == UPLOAD:
            image, blob, problem = _upload_input()
        else:
            (image, blob), problem = _canvas_input(), None
    read = _answer(slot, image, problem)
    with col_out:
        if read is not None:
            personal.label_buttons(denormalize(read[1])[0, 0].numpy(), image, read[0].digit)  # "that's a 7" keeps it
            words = dataclasses.replace(charts.labels(plots.BarLabels, "probs"), title=verdicts.plain(read[0]))
            charts.plot(plots.probabilities(read[0].probabilities, height=240, labels=words), key="draw_probs")
        _model_caption()
    if read is not None:
        prediction, x = read
        _remember(x, image, blob)
        render_inside_view(
            model.model,
            x,
            image,
            key="draw_inside",
            temperature=model.temperature,
            verdict=verdicts.headline(prediction),
        )


def _answer(slot: Any, image: np.ndarray | None, problem: str | None) -> tuple[Prediction, torch.Tensor] | None:
    """Read the drawing and show the answer (or the hint, or what is wrong) in `slot`."""
    hint = t("draw.hint") if mode == DRAW else t("draw.upload.hint")
    if problem:
        slot.error(problem)
        return None
    if image is None:
        slot.info(hint)
        return None
    try:
        prediction, x = _read(image)
    except BlankImageError:
        slot.info(hint if mode == DRAW else t("draw.upload.blank"))
        return None
    except ImageError as exc:
        slot.error(t("draw.unusable", problem=error_text(exc)))
        return None
    _show_answer(slot, prediction, denormalize(x)[0, 0].numpy())
    return prediction, x


def _model_caption() -> None:
    name = models.source_label(model.source)
    if model.accuracy is None or model.source.kind == "run":  # a run's name already carries its accuracy
        st.caption(t("draw.model", model=name))
    else:
        st.caption(t("draw.model_accuracy", model=name, accuracy=model.accuracy))


_draw_area()
