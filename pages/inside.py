"""Inside: what the network sees in one digit, why it decides, and where it breaks.

The digit is a test image (`/inside?test=N`, linked from Evaluate, or picked here) or the visitor's last drawing
(left in the session by the Draw page).
"""

from __future__ import annotations

import streamlit as st

from simplecnn.data import TEST_SIZE
from simplecnn.workshop.room import probe_digit
from ui import inside, models, resources
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
has_drawing = st.session_state.get(LAST_X) is not None
choices = ([DRAWING_CHOICE] if has_drawing else []) + ([TEST_CHOICE] if resources.has_data() else [])
if not choices:
    st.info(t("inside.nothing"))
    st.stop()
default = TEST_CHOICE if (query_index is not None or not has_drawing) and TEST_CHOICE in choices else choices[0]
source = st.segmented_control(
    t("inside.source.label"),
    choices,
    default=default,
    required=True,
    key="inside_source",
    format_func=labelled(choices, lambda choice: t(f"inside.source.{choice}")),
)

if source == DRAWING_CHOICE:
    inside.render_inside_view(
        loaded.model, st.session_state[LAST_X], st.session_state.get(LAST_IMAGE), key="inside_page"
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
    inside.render_inside_view(loaded.model, probe_digit(resources.test_image(index)), key="inside_page")
