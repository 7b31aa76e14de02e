"""Evaluate: a checkpoint on the MNIST test set — accuracy, confusion matrix, per-digit scores, mistakes."""
from __future__ import annotations

import streamlit as st

from simplecnn import plots
from simplecnn.checkpoint import CheckpointError
from simplecnn.data import DataUnavailableError
from simplecnn.evaluate import sample_indices
from ui import models, resources, router

router.ensure_app_router()

UPLOAD = "upload"
SOURCE_KEY, UPLOAD_MODE, CELL_FOR = "eval_source", "eval_upload_mode", "eval_cell_for"

st.title("Evaluate")
st.markdown("How well a checkpoint reads the 10,000 MNIST test images it never trained on, and where it errs. "
            "The checkpoint chosen here is also the one the Draw page uses in this session.")

sources = models.model_sources()
by_key = {s.key: s for s in sources}
options = list(by_key) + [UPLOAD]
current = models.current_source()


def _on_source() -> None:
    choice = st.session_state[SOURCE_KEY]
    st.session_state[UPLOAD_MODE] = choice == UPLOAD
    if choice != UPLOAD:
        models.set_current_source(by_key[choice])


# Keep the selectbox in step with the session's model (which Train may have changed).
st.session_state[SOURCE_KEY] = (UPLOAD if st.session_state.get(UPLOAD_MODE) or current.key not in by_key
                                else current.key)
st.selectbox("Checkpoint", options, key=SOURCE_KEY, on_change=_on_source,
             format_func=lambda k: "Upload a checkpoint (.pt / .pth)…" if k == UPLOAD else by_key[k].label)

if st.session_state[SOURCE_KEY] == UPLOAD:
    uploaded = st.file_uploader(
        "Upload a SimpleCNN checkpoint or the tutorial notebook's state_dict", type=["pt", "pth"],
        key="eval_upload", max_upload_size=resources.UPLOAD_LIMIT_MB,
        help="Loaded safely (weights only): files that would run code are refused.")
    if uploaded is None:
        st.info("Upload a checkpoint to evaluate it, or pick one above.")
        st.stop()
    try:
        source = models.accept_upload(uploaded.name, uploaded.getvalue())
    except CheckpointError as exc:
        st.error(f"Refused `{uploaded.name}`: {exc}")
        st.stop()
    models.set_current_source(source)
    st.session_state[UPLOAD_MODE] = False
    st.rerun()

loaded, problem = models.load_current()
if loaded is None:
    st.error(f"Cannot use **{current.label}**: {problem}")
    st.stop()

ckpt = loaded.checkpoint
details = []
if ckpt.plain:
    details.append("plain state_dict (no metrics or history inside)")
if ckpt.config:
    cfg = ckpt.config
    details.append(f"recipe `{cfg.get('recipe', '?')}`, {cfg.get('epochs', '?')} epochs, "
                   f"batch {cfg.get('batch_size', '?')}, lr {cfg.get('lr', '?')}, schedule {cfg.get('schedule', '?')}")
if ckpt.accuracy is not None:
    details.append(f"recorded test accuracy {ckpt.accuracy:.2%}")
st.caption(" · ".join(details) if details else "")

if not resources.has_data():
    st.warning(resources.missing_data_message())
    result = None
else:
    limit = resources.eval_limit()
    try:
        result = resources.evaluation(loaded.digest, limit, ckpt)
        pixels, _ = resources.test_pixels()
    except DataUnavailableError as exc:
        st.warning(str(exc))
        result = None

if result is not None:
    with st.container(horizontal=True, gap="large", key="eval_metrics"):
        st.metric("Test accuracy", f"{result.accuracy:.2%}", width="content")
        st.metric("Test loss", f"{result.loss:.4f}", width="content")
        st.metric("Test images", f"{result.n:,}", width="content")
        st.metric("Mistakes", f"{len(result.misclassified):,}", width="content")
    if limit:
        st.caption(f"Evaluated on the first {result.n:,} test images only ({resources.EVAL_LIMIT_ENV}={limit}).")

    # Default cell: the most frequent mistake of this checkpoint.
    if st.session_state.get(CELL_FOR) != loaded.digest:
        st.session_state["eval_true"], st.session_state["eval_pred"] = result.most_confused()
        st.session_state[CELL_FOR] = loaded.digest

    def _on_cell_click() -> None:
        points = st.session_state["eval_cm"].selection.get("points") or []
        if points:
            st.session_state["eval_true"] = int(round(points[0]["y"]))
            st.session_state["eval_pred"] = int(round(points[0]["x"]))

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Confusion matrix")
        st.caption("Rows: the true digit; columns: what the model predicted. Click a cell to see its images.")
        cell = (st.session_state["eval_true"], st.session_state["eval_pred"])
        st.plotly_chart(plots.confusion_matrix(result.confusion.tolist(), selected=cell), key="eval_cm",
                        on_select=_on_cell_click, selection_mode="points", config={"displayModeBar": False})
    with right:
        st.subheader("Accuracy per digit")
        st.plotly_chart(plots.per_class_accuracy(result.per_class_accuracy.tolist(), title=""),
                        key="eval_per_digit", config={"displayModeBar": False})
        st.dataframe(
            [{"Digit": d, "Accuracy": float(result.per_class_accuracy[d]),
              "Correct": f"{int(result.confusion[d, d]):,} / {int(result.support[d]):,}"} for d in range(10)],
            key="eval_per_digit_table", hide_index=True,
            column_config={"Digit": st.column_config.NumberColumn(width="small"),
                           "Accuracy": st.column_config.ProgressColumn(format="percent", min_value=0.0,
                                                                       max_value=1.0, width="medium"),
                           "Correct": st.column_config.TextColumn(help="correct / test images of this digit",
                                                                  width="small")})

    st.subheader("Images behind a cell")
    c1, c2 = st.columns(2)
    c1.selectbox("True digit", list(range(10)), key="eval_true", persist_state="session")
    c2.selectbox("Predicted digit", list(range(10)), key="eval_pred", persist_state="session")
    true, pred = st.session_state["eval_true"], st.session_state["eval_pred"]
    indices = result.indices_for(true, pred)
    shown = indices[:24].tolist()
    verb = "correctly read as" if true == pred else "predicted as"
    st.caption(f"{len(indices):,} test image{'s' * (len(indices) != 1)} of a {true} {verb} {pred}"
               + (f"; the first {len(shown)} are shown." if len(indices) > len(shown) else "."))
    if shown:
        colour = plots.RIGHT if true == pred else plots.WRONG
        st.plotly_chart(plots.image_grid([pixels[i] for i in shown],
                                         [f"{c:.0%}" for c in result.confidences[shown].tolist()],
                                         [colour] * len(shown), cols=8, tile_height=70),
                        key="eval_cell_images", config={"displayModeBar": False})
        st.caption("Above each image: the model's confidence in its prediction.")

    st.subheader("Classification report")
    st.dataframe(
        [{"Digit": r["digit"], "Precision": r["precision"], "Recall": r["recall"], "F1": r["f1"],
          "Support": r["support"]} for r in result.report()],
        key="eval_report", hide_index=True,
        column_config={"Precision": st.column_config.NumberColumn(format="%.4f"),
                       "Recall": st.column_config.NumberColumn(format="%.4f"),
                       "F1": st.column_config.NumberColumn(format="%.4f")})
    st.caption("Precision: of the images predicted as a digit, the share that were that digit. Recall (the "
               "accuracy per digit above): of a digit's images, the share read correctly. F1: their harmonic mean.")

if ckpt.history.get("epoch"):
    st.subheader("Training curves")
    h1, h2 = st.columns(2)
    h1.plotly_chart(plots.training_curve("loss", None, ckpt.history), key="eval_hist_loss",
                    config={"displayModeBar": False})
    h2.plotly_chart(plots.training_curve("accuracy", None, ckpt.history), key="eval_hist_acc",
                    config={"displayModeBar": False})
elif ckpt.plain:
    st.caption("No training curves: a plain state_dict carries no history.")

if result is not None:
    st.subheader("Random test predictions")
    seed = st.session_state.setdefault("eval_sample_seed", 0)
    idx = sample_indices(result.n, 20, seed)
    caps, colours = plots.prediction_captions(result.predictions[idx].tolist(), result.targets[idx].tolist(),
                                              result.confidences[idx].tolist())
    st.plotly_chart(plots.image_grid([pixels[i] for i in idx], caps, colours, cols=5), key="eval_samples",
                    config={"displayModeBar": False})
    st.caption("Green: read correctly (prediction · confidence). Red: a mistake (prediction≠truth · confidence).")

    def _new_sample() -> None:
        st.session_state["eval_sample_seed"] += 1

    st.button("New sample", key="eval_new_sample", on_click=_new_sample, icon=":material/shuffle:")
