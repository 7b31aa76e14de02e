"""Home: the three things to do, as large buttons with one sentence each; details further down.

A first-time visitor (often on a phone, where the sidebar hides behind "»") must know what to do within a few
seconds, so the page opens with the choices, not with jargon, paths or devices.
"""

from __future__ import annotations

import streamlit as st

from simplecnn.data import TEST_SIZE, TRAIN_SIZE, DataUnavailableError
from simplecnn.figures import charts as plots
from simplecnn.model import PARAMETER_COUNT
from ui import charts, models, nav, resources
from ui.i18n import error_text, t

CHOICES = [  # (key, page, icon); the label is the page's title, the sentence home.choice.<page>
    ("home_go_train", "train", ":material/model_training:"),
    ("home_go_evaluate", "evaluate", ":material/analytics:"),
    ("home_go_draw", "draw", ":material/draw:"),
]
# Page links drawn as big, thumb-sized buttons (Streamlit gives each keyed container the class st-key-<key>).
# Links, not st.button + st.switch_page: they navigate in the browser at once, without a script run first.
_BUTTON_CSS = (
    "{a}{{background:#1f77b4;border-radius:.6rem;min-height:3.6rem;justify-content:center}}"
    "{a} p,{a} span{{color:#fff !important;font-size:1.25rem;font-weight:600}}"
    "{a}:hover{{background:#17629a}}"
)
st.html("<style>" + "".join(_BUTTON_CSS.format(a=f".st-key-{key} a") for key, *_ in CHOICES) + "</style>")

st.title(t("common.app_title"))
st.markdown(t("home.intro"))

for column, (key, name, icon) in zip(st.columns(3, gap="medium"), CHOICES, strict=True):
    with column, st.container(key=key):
        st.page_link(nav.page(name), label=t(f"common.nav.{name}"), icon=icon, width="stretch")
        st.markdown(t(f"home.choice.{name}", train_size=TRAIN_SIZE, test_size=TEST_SIZE))

st.divider()
left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader(t("home.data.heading"))
    if not resources.has_data():
        st.info(resources.missing_data_message())
    else:
        try:
            pixels, labels = resources.sample_grid(25)
        except DataUnavailableError as exc:
            st.info(error_text(exc))
        else:
            charts.plot(plots.image_grid(list(pixels), captions=[str(v) for v in labels], cols=5), key="home_samples")
            st.caption(t("home.data.caption", train_size=TRAIN_SIZE))

with right:
    st.subheader(t("home.model.heading"))
    loaded, problem = models.load_current()
    source = models.current_source()
    if loaded is None:
        st.warning(t("home.model.unusable", model=models.source_label(source), problem=problem))
    else:
        accuracy = loaded.accuracy
        with st.container(horizontal=True, gap="large", key="home_metrics"):
            st.metric(
                t("home.model.test_accuracy"),
                f"{accuracy:.2%}" if accuracy is not None else t("home.model.not_recorded"),
                help=t("home.model.test_accuracy_help"),
                width="content",
            )
            st.metric(t("home.model.parameters"), f"{PARAMETER_COUNT:,}", width="content")
        st.markdown(t("home.model.name", model=models.source_label(source)))
        if loaded.checkpoint.plain:
            st.caption(t("home.model.plain"))
    st.caption(t("home.model.about", device=resources.device_description()))
