"""Home: what this is, the model in use, links to the pages, and a look at the data."""
from __future__ import annotations

import streamlit as st

from simplecnn import plots
from simplecnn.data import DataUnavailableError
from simplecnn.model import PARAMETER_COUNT
from ui import models, resources, router

router.ensure_app_router()

st.title("SimpleCNN Studio")
st.markdown(
    "Train the PyTorch tutorial's small convolutional network on the MNIST handwritten digits, look inside "
    "its results, and draw a digit for it to read. Everything runs on this machine; a trained model ships "
    "with the app, so Evaluate and Draw work without training first."
)

left, right = st.columns([1, 1], gap="large")

with left:
    st.subheader("Current model")
    loaded, problem = models.load_current()
    source = models.current_source()
    if loaded is None:
        st.warning(f"**{source.label}** cannot be used: {problem}. Train a model on the Train page, or pick "
                   f"another checkpoint on the Evaluate page.")
    else:
        accuracy = loaded.accuracy
        with st.container(horizontal=True, gap="large", key="home_metrics"):
            st.metric("Test accuracy", f"{accuracy:.2%}" if accuracy is not None else "not recorded",
                      help="As recorded in the checkpoint when it was trained.", width="content")
            st.metric("Parameters", f"{PARAMETER_COUNT:,}", width="content")
        st.markdown(f"**Checkpoint:** {source.label}")
        if loaded.checkpoint.plain:
            st.caption("A plain state_dict (tutorial style): no training history or metrics inside.")
    st.markdown(f"**Device:** {resources.device_description()}")

    st.subheader("Pages")
    st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
    st.caption("Quick (≈1 min on a CPU), the tutorial's 15 epochs, or your own recipe — with live curves.")
    st.page_link("pages/evaluate.py", label="Evaluate a checkpoint", icon=":material/analytics:")
    st.caption("Confusion matrix, accuracy per digit, precision / recall / F1 and the mistakes.")
    st.page_link("pages/draw.py", label="Draw a digit", icon=":material/draw:")
    st.caption("Draw with mouse or finger, or upload a photo, and see what the model reads.")

with right:
    st.subheader("MNIST training samples")
    if not resources.has_data():
        st.info(resources.missing_data_message())
    else:
        try:
            pixels, labels = resources.sample_grid(25)
        except DataUnavailableError as exc:
            st.info(str(exc))
        else:
            st.plotly_chart(plots.image_grid(list(pixels), captions=[str(v) for v in labels], cols=5),
                            key="home_samples", config={"displayModeBar": False})
            st.caption("The first 25 of the 60,000 training images, 28×28 pixels each, with their labels.")
