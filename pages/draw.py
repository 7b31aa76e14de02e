"""Draw: write a digit (mouse or touch) or upload a picture, and see what the model reads."""
from __future__ import annotations

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from simplecnn import plots
from simplecnn.data import denormalize
from simplecnn.predict import predict_image, read_image
from simplecnn.preprocess import BlankImageError, ImageError
from ui import models, resources, router

router.ensure_app_router()

CANVAS_SIZE = 280          # 10× MNIST's 28 px; fits a 390 px phone screen
LOW_CONFIDENCE = 0.60
HINT = "Draw a digit (0–9) in the black box: white ink, one digit, as large as the box. The prediction " \
       "appears as soon as you lift the pen."

st.title("Draw")
loaded, problem = models.load_current()
if loaded is None:
    st.error(f"No model to read your digit: **{models.current_source().label}** cannot be used ({problem}). "
             "Train one on the Train page or choose a checkpoint on the Evaluate page.")
    st.stop()
accuracy = f" ({loaded.accuracy:.2%} test accuracy)" if loaded.accuracy is not None else ""
st.caption(f"Model: {loaded.source.label}{accuracy}. Choose another on the Evaluate page.")

mode = st.segmented_control("Input", ["Draw", "Upload an image"], key="draw_mode", default="Draw", required=True,
                            persist_state="session",
                            label_visibility="collapsed")
st.session_state.setdefault("draw_canvas_n", 0)


def _clear() -> None:
    st.session_state["draw_canvas_n"] += 1   # a fresh canvas widget: empty drawing and history


image, problem = None, None
col_in, col_out = st.columns([1, 1.3], gap="large")
with col_out:
    col_pred, col_seen = st.columns(2, gap="medium")
with col_in:
    if mode == "Upload an image":
        uploaded = st.file_uploader("A PNG or JPEG of one digit", type=["png", "jpg", "jpeg"], key="draw_upload",
                                    max_upload_size=resources.UPLOAD_LIMIT_MB)
        if uploaded is not None:
            try:
                image = read_image(uploaded.getvalue())
            except ImageError as exc:
                problem = f"Cannot read `{uploaded.name}`: {exc}"
            else:
                st.image(uploaded.getvalue(), caption=uploaded.name, width=CANVAS_SIZE)
    else:
        stroke = st.slider("Stroke width", min_value=6, max_value=40, value=20, step=1, key="draw_stroke",
                           persist_state="session")
        canvas = st_canvas(stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
                           width=CANVAS_SIZE, height=CANVAS_SIZE, drawing_mode="freedraw", update_streamlit=True,
                           return_image_data=True, key=f"draw_canvas_{st.session_state['draw_canvas_n']}")
        image = canvas.image_data
        st.button("Clear", key="draw_clear", on_click=_clear, icon=":material/delete:")
        st.caption("Undo / redo: the canvas toolbar (top right of the box, on hover).")

prediction, seen = None, None
if problem:
    with col_out:
        st.error(problem)
elif image is None:
    with col_out:
        st.info(HINT if mode == "Draw" else "Upload a picture of a single digit (dark on light or light on dark).")
else:
    try:
        prediction, x = predict_image(loaded.model, image)
        seen = denormalize(x)[0, 0].numpy()
    except BlankImageError:
        with col_out:
            st.info(HINT if mode == "Draw" else "That image looks blank: no digit found.")
    except ImageError as exc:
        with col_out:
            st.error(f"Cannot use this image: {exc}")

if prediction is not None:
    with col_pred:
        st.metric("Prediction", str(prediction.digit), border=True,
                  help="The digit with the highest probability.")
        if prediction.confidence < LOW_CONFIDENCE:
            st.warning(f"Not sure: only {prediction.confidence:.0%} confident. Try drawing larger and centred.")
        else:
            st.caption(f"{prediction.confidence:.1%} confident")
    with col_seen:
        st.plotly_chart(plots.digit_image(seen, height=200), key="draw_seen", config={"displayModeBar": False})
    with col_out:
        st.plotly_chart(plots.probabilities(prediction.probabilities), key="draw_probs",
                        config={"displayModeBar": False})
        st.caption("The 28×28 image is your digit as the model sees it: cropped, scaled to 20 px and centred "
                   "like the MNIST digits it learned from.")
