"""Draw: write a digit (mouse or touch) or upload a picture, and see what the model reads.

Phone first: the answer (or the hint) sits *above* the canvas, so on a 390×844 screen the digit and its
confidence are in view the moment the finger lifts; Undo and Clear are plain buttons under the canvas (the
canvas's own toolbar needs hover and is hidden by ui.charts).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from simplecnn.data import denormalize
from simplecnn.explain import single_threaded
from simplecnn.figures import charts as plots
from simplecnn.inference.predict import Prediction, predict_image, read_image
from simplecnn.inference.preprocess import BlankImageError, ImageError
from ui import charts, models, resources
from ui.i18n import choices, error_text, t
from ui.inside import render_inside_view
from ui.visitor import code_text, literal

CANVAS_SIZE = 280  # 10× MNIST's 28 px; fits a 390 px phone screen
LOW_CONFIDENCE = 0.60
DRAW, UPLOAD = "draw", "upload"  # the input modes (their labels are in the catalog)
# Other pages (the inside view) read the last drawing from the session under these keys.
LAST_X, LAST_IMAGE = "last_drawing_x", "last_drawing_image"
CANVAS_N, INITIAL, DRAWING, HISTORY = "draw_canvas_n", "draw_initial", "draw_drawing", "draw_history"
ANSWER_HEIGHT = 140  # px kept for the answer above the canvas, so the canvas never moves under the finger

st.title(t("common.nav.draw"))
loaded, problem = models.load_current()
if loaded is None:
    st.error(t("draw.no_model", model=models.source_label(models.current_source()), problem=problem))
    st.stop()

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
answer = st.container(key="draw_answer", height=ANSWER_HEIGHT, border=False)  # filled once the drawing is read


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


def _canvas_input() -> np.ndarray | None:
    """The canvas with Undo / Clear under it; returns its RGBA pixels (None before the first stroke)."""
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
    return read_image(png) if png is not None else None


def _upload_input() -> tuple[np.ndarray | None, str | None]:
    uploaded = st.file_uploader(
        t("draw.upload.label"),
        type=["png", "jpg", "jpeg"],
        key="draw_upload",
        max_upload_size=resources.UPLOAD_LIMIT_MB,
    )
    if uploaded is None:
        return None, None
    try:
        image = read_image(uploaded.getvalue())
    except ImageError as exc:
        return None, t("draw.upload.unreadable", name=code_text(uploaded.name), problem=literal(error_text(exc)))
    st.image(uploaded.getvalue(), caption=uploaded.name, width=CANVAS_SIZE)
    return image, None


def _show_answer(prediction: Prediction, seen: np.ndarray) -> None:
    """Digit + confidence, compact enough to sit above the canvas on a phone; or why there is no answer."""
    with answer.container(horizontal=True, vertical_alignment="center", gap="medium", key="draw_answer_row"):
        st.image(charts.enlarge(seen, 3), width=72, clamp=True, caption=t("draw.answer.view"))
        if not prediction.looks_like_digit:
            st.metric(
                t("draw.answer.prediction"),
                "?",
                border=True,
                width="content",
                help=t("draw.answer.doubt_help"),
            )
            st.warning(
                t("draw.answer.doubt", digit=prediction.digit, confidence=prediction.confidence), width="stretch"
            )
            return
        sure = prediction.confidence >= LOW_CONFIDENCE
        st.metric(
            t("draw.answer.prediction"),
            str(prediction.digit),
            delta=t("draw.answer.confident", confidence=prediction.confidence),
            delta_color="off",
            delta_arrow="off",
            border=True,
            width="content",
            help=t("draw.answer.prediction_help"),
        )
        if not sure:
            st.warning(t("draw.answer.not_sure", confidence=prediction.confidence), width="stretch")


col_in, col_out = st.columns([1, 1.3], gap="large")
with col_in:
    if mode == UPLOAD:
        image, problem = _upload_input()
    else:
        image, problem = _canvas_input(), None

prediction: Prediction | None = None
seen: np.ndarray | None = None
hint = t("draw.hint") if mode == DRAW else t("draw.upload.hint")
if problem:
    answer.error(problem)
elif image is None:
    answer.info(hint)
else:
    try:
        with single_threaded():  # one small image: threads only add barrier waits on a busy server
            prediction, x = predict_image(loaded.model, image, checker=models.digit_checker(loaded))
    except BlankImageError:
        answer.info(hint if mode == DRAW else t("draw.upload.blank"))
    except ImageError as exc:
        answer.error(t("draw.unusable", problem=error_text(exc)))
    else:
        seen = denormalize(x)[0, 0].numpy()
        st.session_state[LAST_X], st.session_state[LAST_IMAGE] = x, image
        _show_answer(prediction, seen)

with col_out:
    if prediction is not None and seen is not None:
        charts.plot(
            plots.probabilities(prediction.probabilities, height=240, labels=charts.labels(plots.BarLabels, "probs")),
            key="draw_probs",
        )
        charts.plot(
            plots.digit_image(seen, height=240, labels=charts.labels(plots.ImageLabels, "seen")), key="draw_seen"
        )
        st.caption(t("draw.seen_caption"))
    model = models.source_label(loaded.source)
    if loaded.accuracy is None:
        st.caption(t("draw.model", model=model))
    else:
        st.caption(t("draw.model_accuracy", model=model, accuracy=loaded.accuracy))

if prediction is not None:
    # What the network does with this digit (issue 15): cheap views at once, heavy ones when their section opens.
    render_inside_view(loaded.model, x, image, key="draw_inside")
