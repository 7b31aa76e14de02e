"""Inside: what the network sees in one digit, why it decides, and where it breaks.

The digit is a test image (`/inside?test=N`, linked from Evaluate, or picked here) or the visitor's last drawing
(left by the Draw page in the session and with the participant, so a new tab with their link finds it too).
The model is the visitor's model in use, or the one the link names (`?model=`, e.g. from an Evaluate cell).
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from simplecnn.data import TEST_SIZE
from simplecnn.inference.predict import predict_image, read_image
from simplecnn.inference.preprocess import ImageError, preprocess
from simplecnn.workshop.room import probe_digit
from ui import inside, models, resources, session
from ui import verdict as verdicts
from ui.i18n import choices as labelled
from ui.i18n import t
from ui.visitor import code_text

LAST_IMAGE = "last_drawing_image"  # set by the Draw page: the raw canvas/upload array
LAST_X = "last_drawing_x"  # and the model's 1×1×28×28 input made from it
TEST_CHOICE, DRAWING_CHOICE = "test", "drawing"  # the digit's source (labels in the catalog)


def _query_test_index() -> tuple[int | None, str | None]:
    """(index, None), (None, None) when absent, or (None, why it is unusable)."""
    raw = st.query_params.get("test")
    if raw is None:
        return None, None
    try:
        index = int(raw)
    except ValueError:
        return None, t("inside.query.not_a_number", raw=code_text(raw), last=TEST_SIZE - 1)
    if not 0 <= index < TEST_SIZE:
        return None, t("inside.query.out_of_range", index=index, count=TEST_SIZE, last=TEST_SIZE - 1)
    return index, None


def _last_drawing() -> tuple[torch.Tensor, np.ndarray] | None:
    """(model input, raw image) of the visitor's last drawing: this tab's, else their participant's (a new tab
    opened with their link)."""
    x, image = st.session_state.get(LAST_X), st.session_state.get(LAST_IMAGE)
    if x is not None and image is not None:
        return x, image
    person = session.participant()
    if person is None or not person.drawing:
        return None
    try:
        image = read_image(person.drawing)
        return preprocess(image), image
    except ImageError:
        return None


def _sync_query(index: int) -> None:
    if st.query_params.get("test") != str(index):
        st.query_params["test"] = str(index)


st.title(t("common.nav.inside"))
st.caption(t("inside.intro"))
loaded, problem = models.load_current()
if loaded is None:
    st.error(t("inside.no_model", model=models.source_label(models.current_source()), problem=problem))
    st.stop()
st.caption(t("draw.model", model=models.source_label(loaded.source)))

query_index, query_problem = _query_test_index()
if query_problem:
    st.error(query_problem)
drawing = _last_drawing()
choices = ([DRAWING_CHOICE] if drawing is not None else []) + ([TEST_CHOICE] if resources.has_data() else [])
if not choices:
    st.info(t("inside.nothing"))
    st.stop()
default = TEST_CHOICE if (query_index is not None or drawing is None) and TEST_CHOICE in choices else choices[0]
source = st.segmented_control(
    t("inside.source.label"),
    choices,
    default=default,
    required=True,
    key="inside_source",
    format_func=labelled(choices, lambda choice: t(f"inside.source.{choice}")),
)

if source == DRAWING_CHOICE and drawing is not None:
    x, image = drawing
    prediction, _ = predict_image(
        loaded.model, image, checker=models.digit_checker(loaded), temperature=loaded.temperature
    )
    inside.render_inside_view(
        loaded.model, x, image, key="inside_page", temperature=loaded.temperature, verdict=verdicts.headline(prediction)
    )
else:
    if "inside_test_index" not in st.session_state or (
        query_index is not None and st.session_state.get("inside_query_seen") != query_index
    ):
        st.session_state["inside_test_index"] = query_index if query_index is not None else 0
        st.session_state["inside_query_seen"] = query_index
    index = int(
        st.number_input(t("inside.test_image", last=TEST_SIZE - 1), 0, TEST_SIZE - 1, step=1, key="inside_test_index")
    )
    _sync_query(index)
    st.session_state["inside_query_seen"] = index
    # From the test split the display pages share (7.8 MB of uint8), not all of MNIST (55 MB): the training
    # images are read only if the visitor opens the nearest-neighbours section.
    st.caption(t("inside.test_caption", index=index, label=resources.test_label(index)))
    inside.render_inside_view(
        loaded.model,
        probe_digit(resources.test_image(index)),
        key="inside_page",
        temperature=loaded.temperature,
        step="decision" if query_index is not None else None,
    )
