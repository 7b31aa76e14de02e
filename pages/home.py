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

CHOICES = [  # (key, page, label, icon, sentence)
    (
        "home_go_train",
        "train",
        "Train",
        ":material/model_training:",
        f"Teach the network to read digits from {TRAIN_SIZE:,} handwritten examples and watch it learn, live.",
    ),
    (
        "home_go_evaluate",
        "evaluate",
        "Evaluate",
        ":material/analytics:",
        f"See how often it is right on {TEST_SIZE:,} digits it never saw, and which ones fool it.",
    ),
    (
        "home_go_draw",
        "draw",
        "Draw",
        ":material/draw:",
        "Write a digit with your finger or mouse and see what the network reads.",
    ),
]
# Page links drawn as big, thumb-sized buttons (Streamlit gives each keyed container the class st-key-<key>).
# Links, not st.button + st.switch_page: they navigate in the browser at once, without a script run first.
_BUTTON_CSS = (
    "{a}{{background:#1f77b4;border-radius:.6rem;min-height:3.6rem;justify-content:center}}"
    "{a} p,{a} span{{color:#fff !important;font-size:1.25rem;font-weight:600}}"
    "{a}:hover{{background:#17629a}}"
)
st.html("<style>" + "".join(_BUTTON_CSS.format(a=f".st-key-{key} a") for key, *_ in CHOICES) + "</style>")

st.title("SimpleCNN Studio")
st.markdown("A small neural network that reads handwritten digits. What would you like to do?")

for column, (key, page, label, icon, sentence) in zip(st.columns(3, gap="medium"), CHOICES, strict=True):
    with column, st.container(key=key):
        st.page_link(nav.page(page), label=label, icon=icon, width="stretch")
        st.markdown(sentence)

st.divider()
left, right = st.columns([1, 1], gap="large")
with left:
    st.subheader("What it learns from")
    if not resources.has_data():
        st.info(resources.missing_data_message())
    else:
        try:
            pixels, labels = resources.sample_grid(25)
        except DataUnavailableError as exc:
            st.info(str(exc))
        else:
            charts.plot(plots.image_grid(list(pixels), captions=[str(v) for v in labels], cols=5), key="home_samples")
            st.caption(f"The first 25 of the {TRAIN_SIZE:,} training images, 28×28 pixels each, with their labels.")

with right:
    st.subheader("The model in use")
    loaded, problem = models.load_current()
    source = models.current_source()
    if loaded is None:
        st.warning(
            f"**{source.label}** cannot be used: {problem}. Train a model, or pick another on the Evaluate page."
        )
    else:
        accuracy = loaded.accuracy
        with st.container(horizontal=True, gap="large", key="home_metrics"):
            st.metric(
                "Test accuracy",
                f"{accuracy:.2%}" if accuracy is not None else "not recorded",
                help="As recorded in the checkpoint when it was trained.",
                width="content",
            )
            st.metric("Parameters", f"{PARAMETER_COUNT:,}", width="content")
        st.markdown(f"**Model:** {source.label}")
        if loaded.checkpoint.plain:
            st.caption("A plain state_dict (tutorial style): no training history or metrics inside.")
    st.caption(
        "The PyTorch tutorial's small convolutional network (two pairs of 3×3 convolutions, then two "
        f"fully connected layers), trained on MNIST. Runs on: {resources.device_description()}."
    )
