"""Lessons: the tutorial's teaching points run live on the real model and real MNIST, its own code beside each
result. One page with a lesson picker (?lesson=<code> opens one); the lessons themselves live in ui/lessons*.py."""

from __future__ import annotations

import streamlit as st

from simplecnn.lessons.race import Mistake
from ui import lessons, lessons_now, lessons_runs
from ui.i18n import t

st.title(t("common.nav.lessons"))
st.caption(t("lessons.intro"))
lesson = lessons.picker()
st.markdown(t(f"lessons.{lesson}.teaches"))
loaded = lessons.current_model()
if loaded is None:
    st.stop()

if lesson == "shapes":
    lessons_now.shapes_lesson(loaded)
elif lesson == "modes":
    lessons_now.modes_lesson(loaded)
elif lesson == "no_grad":
    lessons_now.no_grad_lesson(loaded)
elif lesson == "loss":
    lessons_now.loss_parts(loaded)
    st.subheader(t("lessons.loss.race_heading"))
    lessons_runs.race_lesson(loaded, Mistake.SOFTMAX_AT_END)
elif lesson == "mistakes":
    lessons_now.mistake_facts(loaded)
    st.subheader(t("lessons.mistakes.race_heading"))
    lessons_runs.race_lesson(loaded)
elif lesson == "overfit":
    lessons_runs.overfit_lesson(loaded)
elif lesson == "lenet5":
    lessons_runs.compare_lesson(loaded)
else:
    lessons_now.layouts_lesson(loaded)
