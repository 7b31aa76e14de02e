"""Evaluate: a checkpoint on the MNIST test set — accuracy, confusion matrix, per-digit scores, mistakes.

Fast first: the accuracy recorded in the checkpoint shows at once, before the (slow, cached) evaluation runs;
the heavy figures come after the metrics. A tap on a confusion cell shows its images right next to the matrix
(below it on a phone); each image links to its inside view (pages/inside.py reads ?test=<index>).
"""

from __future__ import annotations

import time

import streamlit as st

from simplecnn.checkpoint import CheckpointError
from simplecnn.data import TEST_SIZE, DataUnavailableError
from simplecnn.evaluate import EvalResult, sample_indices
from simplecnn.figures import charts as plots
from ui import charts, models, resources

UPLOAD = "upload"
SOURCE_KEY, UPLOAD_MODE, CELL_FOR = "eval_source", "eval_upload_mode", "eval_cell_for"
CELL_IMAGES = 12  # images shown for a cell: 3 rows on a phone, 2 on a desktop
FIRST_PAINT, FIRST_PAINT_S = "eval_first_paint", 1.0
INSIDE_LINK = "inside?test={index}"  # the inside view of one test image (relative: works under a base path)

st.title("Evaluate")
st.caption(
    f"How well a model reads the {TEST_SIZE:,} MNIST test images it never trained on, and where it errs. "
    "The model chosen here is also the one the Draw page uses."
)

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
st.session_state[SOURCE_KEY] = UPLOAD if st.session_state.get(UPLOAD_MODE) or current.key not in by_key else current.key
# The model picker sits here but is drawn after the metrics: its code (a combobox, ~20 chunks) would otherwise be
# part of the browser's first batch, and the first batch shows only once all of its code has loaded.
picker = st.container()


def _model_picker() -> None:
    """Called once on every path through the page: before st.stop(), or after the metrics."""
    with picker:
        st.selectbox(
            "Model",
            options,
            key=SOURCE_KEY,
            on_change=_on_source,
            format_func=lambda k: "Upload a checkpoint (.pt / .pth)…" if k == UPLOAD else by_key[k].label,
        )


if st.session_state[SOURCE_KEY] == UPLOAD:
    _model_picker()
    uploaded = st.file_uploader(
        "Upload a SimpleCNN checkpoint or the tutorial notebook's state_dict",
        type=["pt", "pth"],
        key="eval_upload",
        max_upload_size=resources.UPLOAD_LIMIT_MB,
        help="Loaded safely (weights only): files that would run code are refused.",
    )
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

maybe_loaded, problem = models.load_current()
if maybe_loaded is None:
    _model_picker()
    st.error(f"Cannot use **{current.label}**: {problem}")
    st.stop()
loaded: models.LoadedModel = maybe_loaded
ckpt = loaded.checkpoint
metrics = st.empty()
if ckpt.accuracy is not None:  # shown at once; replaced by the measured figures below
    with metrics.container(horizontal=True, key="eval_metrics_recorded"):
        st.metric(
            "Test accuracy",
            f"{ckpt.accuracy:.2%}",
            width="content",
            help="Recorded in the checkpoint when it was trained (all 10,000 test images).",
        )


def _checkpoint_details() -> None:
    details = []
    if ckpt.plain:
        details.append("plain state_dict (no metrics or history inside)")
    if ckpt.config:
        cfg = ckpt.config
        details.append(
            f"recipe `{cfg.get('recipe', '?')}`, {cfg.get('epochs', '?')} epochs, batch "
            f"{cfg.get('batch_size', '?')}, lr {cfg.get('lr', '?')}, schedule {cfg.get('schedule', '?')}"
        )
    if ckpt.accuracy is not None:
        details.append(f"recorded test accuracy {ckpt.accuracy:.2%}")
    if details:
        st.caption(" · ".join(details))


def _evaluate() -> EvalResult | None:
    if not resources.has_data():
        st.warning(resources.missing_data_message())
        return None
    try:
        with st.spinner(f"Reading all {TEST_SIZE:,} test images with this model (once per model)…"):
            result = resources.evaluation(loaded.digest, resources.eval_limit(), loaded.model)
            resources.test_count()  # the images the drill-down shows (7.8 MB, read once per server)
    except DataUnavailableError as exc:
        st.warning(str(exc))
        return None
    return result


def _show_metrics(result: EvalResult) -> None:
    with metrics.container():
        with st.container(horizontal=True, key="eval_metrics"):
            st.metric("Test accuracy", f"{result.accuracy:.2%}", width="content")
            st.metric("Mistakes", f"{len(result.misclassified):,}", width="content")
            st.metric("Test images", f"{result.n:,}", width="content")
        st.caption(f"Test loss (cross-entropy): {result.loss:.4f}")


def _on_cell_click() -> None:
    points = st.session_state["eval_cm"].selection.get("points") or []
    if points:
        st.session_state["eval_true"] = int(round(points[0]["y"]))
        st.session_state["eval_pred"] = int(round(points[0]["x"]))


def _cell_images(result: EvalResult) -> None:
    """The images behind the selected cell, each a link to its inside view."""
    true, pred = st.session_state["eval_true"], st.session_state["eval_pred"]
    indices = result.indices_for(true, pred).tolist()
    shown = indices[:CELL_IMAGES]
    verb = "correctly read as" if true == pred else "predicted as"
    st.markdown(
        f"**{len(indices):,} test image{'s' * (len(indices) != 1)} of a {true} {verb} {pred}**"
        + (f" (the first {len(shown)})" if len(indices) > len(shown) else "")
    )
    with st.container(horizontal=True, gap="small", key="eval_cell_images"):
        for i in shown:
            st.image(
                charts.enlarge(resources.test_image(i), 3),
                width=78,
                link=INSIDE_LINK.format(index=i),
                caption=f"{float(result.confidences[i]):.0%}",
            )
    if shown:
        st.caption("Under each image: the model's confidence. Tap an image to look inside the model.")


def _confusion(result: EvalResult) -> None:
    if st.session_state.get(CELL_FOR) != loaded.digest:  # default cell: this model's most frequent mistake
        st.session_state["eval_true"], st.session_state["eval_pred"] = result.most_confused()
        st.session_state[CELL_FOR] = loaded.digest
    st.subheader("Confusion matrix")
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.caption("Rows: the true digit; columns: what the model read. Tap a cell to see its images.")
        cell = (st.session_state["eval_true"], st.session_state["eval_pred"])
        charts.plot(
            plots.confusion_matrix(result.confusion.tolist(), selected=cell, height=380),
            key="eval_cm",
            on_select=_on_cell_click,
        )
    with right:
        _cell_images(result)
        c1, c2 = st.columns(2)
        c1.selectbox("True digit", list(range(10)), key="eval_true", persist_state="session")
        c2.selectbox("Read as", list(range(10)), key="eval_pred", persist_state="session")


def _per_digit(result: EvalResult) -> None:
    st.subheader("Accuracy per digit")
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        charts.plot(
            plots.per_class_accuracy(result.per_class_accuracy.tolist(), title="", height=280), key="eval_per_digit"
        )
    with right:
        # Few, narrow columns: the whole table fits a 390 px phone without sideways scrolling.
        st.dataframe(
            [
                {
                    "Digit": d,
                    "Accuracy": f"{float(result.per_class_accuracy[d]):.2%}",
                    "Correct": f"{int(result.confusion[d, d]):,}/{int(result.support[d]):,}",
                    "Precision": f"{float(result.precision[d]):.2%}",
                }
                for d in range(10)
            ],
            key="eval_per_digit_table",
            hide_index=True,
            column_config={
                "Digit": st.column_config.NumberColumn(width=48),
                "Accuracy": st.column_config.TextColumn(width=78, help="= recall"),
                "Correct": st.column_config.TextColumn(width=88, help="correct / test images"),
                "Precision": st.column_config.TextColumn(
                    width=80, help="of the images read as this digit, the share that were it"
                ),
            },
        )
    with st.expander("Classification report (precision, recall, F1)"):
        st.dataframe(
            [
                {
                    "Digit": r["digit"],
                    "Precision": r["precision"],
                    "Recall": r["recall"],
                    "F1": r["f1"],
                    "Support": r["support"],
                }
                for r in result.report()
            ],
            key="eval_report",
            hide_index=True,
            column_config={
                "Digit": st.column_config.NumberColumn(width=48),
                "Precision": st.column_config.NumberColumn(format="%.4f", width=70),
                "Recall": st.column_config.NumberColumn(format="%.4f", width=70),
                "F1": st.column_config.NumberColumn(format="%.4f", width=70),
                "Support": st.column_config.NumberColumn(width=64),
            },
        )
        st.caption(
            "Precision: of the images predicted as a digit, the share that were that digit. Recall (the "
            "accuracy per digit): of a digit's images, the share read correctly. F1: their harmonic mean."
        )


def _samples(result: EvalResult) -> None:
    st.subheader("Random test predictions")
    seed = st.session_state.setdefault("eval_sample_seed", 0)
    idx = sample_indices(result.n, 20, seed)
    caps, colours = plots.prediction_captions(
        result.predictions[idx].tolist(), result.targets[idx].tolist(), result.confidences[idx].tolist()
    )
    charts.plot(plots.image_grid([resources.test_image(i) for i in idx], caps, colours, cols=5), key="eval_samples")
    st.caption("Green: read correctly (prediction · confidence). Red: a mistake (prediction≠truth · confidence).")

    def _new_sample() -> None:
        st.session_state["eval_sample_seed"] += 1

    st.button("New sample", key="eval_new_sample", on_click=_new_sample, icon=":material/shuffle:")


def _history() -> None:
    if ckpt.history.get("epoch"):
        st.subheader("Training curves")
        h1, h2 = st.columns(2)
        with h1:
            charts.plot(plots.training_curve("loss", None, ckpt.history), key="eval_hist_loss", interactive=True)
        with h2:
            charts.plot(plots.training_curve("accuracy", None, ckpt.history), key="eval_hist_acc", interactive=True)
    elif ckpt.plain:
        st.caption("No training curves: a plain state_dict carries no history.")


result = _evaluate()
if result is not None:
    _show_metrics(result)
    if not st.session_state.get(FIRST_PAINT):
        # The browser shows a batch of new elements only once the code of every element in it has loaded, and a
        # new session's browser has no Plotly yet: sent right behind the metrics, the charts held them back until
        # Plotly had loaded and drawn (metric frame received at 1.4-1.7 s, metric shown at 2.4-4.7 s). So the
        # metrics go first, then this pause (0.3 s was too short), then the model picker and the charts; measured
        # 1.33-1.94 s to the metric on screen in a new browser (README "The answer is the browser's first batch").
        # Once per session.
        st.session_state[FIRST_PAINT] = True
        time.sleep(FIRST_PAINT_S)
    _model_picker()
    if result.n < TEST_SIZE:
        st.caption(f"Evaluated on the first {result.n:,} test images only ({resources.EVAL_LIMIT_ENV}).")
    _confusion(result)
    _per_digit(result)
    _samples(result)
else:  # the evaluation could not run (no MNIST)
    _model_picker()
_history()
with st.expander("About this checkpoint"):
    _checkpoint_details()
