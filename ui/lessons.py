"""The Lessons page's frame: the lesson picker (kept in the URL as ?lesson=, so each lesson has its own link), the
tutorial's snippet beside the live result, and the model every lesson uses (the one picked on Evaluate/Draw)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from simplecnn.lessons.tutorial import SNIPPETS
from ui import fmt, i18n, models
from ui.i18n import t

LESSON_PARAM, LESSON_KEY, URL_SEEN = "lesson", "lesson_choice", "lesson_in_url"
# In the tutorial's order; each code is the URL's ?lesson= value and the catalog's lessons.<code>.* section.
LESSONS = ("shapes", "modes", "no_grad", "loss", "mistakes", "overfit", "lenet5", "layouts")


def title(code: str) -> str:
    """'3. no_grad' style: the lesson's number and title in the visitor's language."""
    return t("lessons.numbered", number=LESSONS.index(code) + 1, title=t(f"lessons.{code}.title"))


def picker() -> str:
    """The lesson chooser (a select box: eight titles fit a phone's width, one line tall), kept in the URL."""
    wanted = st.query_params.get(LESSON_PARAM)
    if wanted in LESSONS and wanted != st.session_state.get(URL_SEEN):
        st.session_state[LESSON_KEY] = wanted  # a link (or an edited address) opens its lesson
    lesson = st.selectbox(
        t("lessons.picker"), LESSONS, key=i18n.localized(LESSON_KEY), format_func=i18n.choices(LESSONS, title)
    )
    lesson = lesson if lesson in LESSONS else LESSONS[0]
    st.session_state[URL_SEEN] = lesson
    if st.query_params.get(LESSON_PARAM) != lesson:
        st.query_params[LESSON_PARAM] = lesson
    return lesson


def snippet(*names: str) -> None:
    """The tutorial's own code for this lesson, verbatim (its comments are the tutorial's Chinese)."""
    with st.expander(t("lessons.snippet"), expanded=True):
        for name in names:
            st.code(SNIPPETS[name], language="markdown" if name == "lenet5" else "python")


def beside(names: tuple[str, ...], result: Callable[[], None]) -> None:
    """The live result on the left, the tutorial's snippet on the right: stacked on a phone, the result comes
    first, in view."""
    left, right = st.columns([3, 2])
    with left:
        result()
    with right:
        snippet(*names)


def current_model() -> models.LoadedModel | None:
    """The session's model (Evaluate/Draw's choice, the shipped SimpleCNN by default); None after saying why."""
    loaded, problem = models.load_current()
    if loaded is None:
        st.error(t("lessons.no_model", model=models.source_label(models.current_source()), problem=problem))
        return None
    st.caption(t("lessons.model", model=models.source_label(loaded.source), network=network_name(loaded)))
    return loaded


def architecture(loaded: models.LoadedModel) -> str:
    return loaded.checkpoint.architecture


def network_name(loaded: models.LoadedModel) -> str:
    return fmt.network(architecture(loaded))
