"""Evaluate: a checkpoint on the MNIST test set — accuracy, confusion matrix, per-digit scores, mistakes.

Fast first: the accuracy recorded in the checkpoint shows at once, before the (slow, cached) evaluation runs;
the heavy figures come after the metrics. A tap on a confusion cell shows its images right next to the matrix
(below it on a phone); each image links to its inside view (pages/inside.py reads ?test=<index>).
"""

from __future__ import annotations

import math
import time

import streamlit as st

from simplecnn.checkpoint import CheckpointError
from simplecnn.data import TEST_SIZE, DataUnavailableError
from simplecnn.errors import incident
from simplecnn.evaluate import EvalResult, sample_indices
from simplecnn.figures import charts as plots
from ui import charts, i18n, models, resources, visitor
from ui import verdict as verdicts
from ui.i18n import choices, error_text, t

UPLOAD = "upload"
SOURCE_KEY, UPLOAD_MODE, CELL_FOR = "eval_source", "eval_upload_mode", "eval_cell_for"
REFUSED = "eval_refused_upload"  # (file id, message): a refused file is not read again on the next rerun
CELL_IMAGES = 12  # images shown for a cell: 3 rows on a phone, 2 on a desktop
FIRST_PAINT = "eval_first_paint"
INSIDE_LINK = "inside?test={index}"  # the inside view of one test image (relative: works under a base path)

st.title(t("common.nav.evaluate"))
st.caption(t("evaluate.intro", count=TEST_SIZE))

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
# The model picker sits here but is drawn after the metrics: its code (a combobox) would otherwise be part of the
# browser's first batch, and the first batch shows only once all of its code has loaded (docs/pages.md).
picker = st.container()


def _model_picker() -> None:
    """Called once on every path through the page: before st.stop(), or after the metrics."""
    with picker:
        st.selectbox(
            t("evaluate.model"),
            options,
            key=SOURCE_KEY,
            on_change=_on_source,
            format_func=choices(
                options, lambda k: t("evaluate.upload.option") if k == UPLOAD else models.source_label(by_key[k])
            ),
        )


def _accept(uploaded) -> None:
    """Read an upload within this browser's budget (uploads per minute); refusals are one line, the file's name
    shown as typed."""
    refused = st.session_state.get(REFUSED)
    if refused is not None and refused[0] == uploaded.file_id:
        st.error(refused[1])
        st.stop()
    if not visitor.allow("upload"):
        st.warning(t("security.upload.too_fast", seconds=math.ceil(visitor.wait_seconds("upload"))))
        st.stop()
    try:
        source = models.accept_upload(uploaded.name, uploaded.getvalue())
    except CheckpointError as exc:
        problem = error_text(exc)
    except Exception as exc:  # noqa: BLE001 - never a traceback in the page: the log has it under this id
        problem = t("errors.incident", error_id=incident(exc, "evaluate upload"))
    else:
        models.set_current_source(source)
        st.session_state[UPLOAD_MODE] = False
        st.session_state.pop(REFUSED, None)
        st.rerun()
    message = t("evaluate.upload.refused", name=visitor.literal(uploaded.name), problem=visitor.literal(problem))
    st.session_state[REFUSED] = (uploaded.file_id, message)
    st.error(message)
    st.stop()


if st.session_state[SOURCE_KEY] == UPLOAD:
    _model_picker()
    uploaded = st.file_uploader(
        t("evaluate.upload.label"),
        type=["pt", "pth"],
        key="eval_upload",
        max_upload_size=resources.UPLOAD_LIMIT_MB,
        help=t("evaluate.upload.help"),
    )
    if uploaded is None:
        st.info(t("evaluate.upload.prompt"))
        st.stop()
    _accept(uploaded)

maybe_loaded, problem = models.load_current()
if maybe_loaded is None:
    _model_picker()
    model, why = visitor.literal(models.source_label(current)), visitor.literal(problem)
    st.error(t("evaluate.unusable", model=model, problem=why))
    st.stop()
loaded: models.LoadedModel = maybe_loaded
ckpt = loaded.checkpoint
metrics = st.empty()
if ckpt.accuracy is not None:  # shown at once; replaced by the measured figures below
    with metrics.container(horizontal=True, key="eval_metrics_recorded"):
        st.metric(
            t("evaluate.metric.accuracy"),
            f"{ckpt.accuracy:.2%}",
            width="content",
            help=t("evaluate.metric.recorded_help", count=TEST_SIZE),
        )


def _checkpoint_details() -> None:
    details = []
    if ckpt.plain:
        details.append(t("evaluate.details.plain"))
    if ckpt.config:
        cfg = ckpt.config
        recipe = str(cfg.get("recipe", "?"))
        details.append(
            t(
                "evaluate.details.config",
                recipe=t(f"train.preset.{recipe}", seconds=cfg.get("budget", 0), count=cfg.get("epochs", "?"))
                if recipe in ("quick", "tutorial", "custom")
                else visitor.literal(recipe),  # the file's own text: shown as typed, never as Markdown
                epochs=visitor.literal(cfg.get("epochs", "?")),
                batch=visitor.literal(cfg.get("batch_size", "?")),
                lr=visitor.literal(cfg.get("lr", "?")),
                schedule=t(f"train.schedule.{cfg['schedule']}") if cfg.get("schedule") in ("step", "onecycle") else "?",
            )
        )
    if ckpt.accuracy is not None:
        details.append(t("evaluate.details.accuracy", accuracy=ckpt.accuracy))
    if details:
        st.caption(" · ".join(details))


def _evaluate() -> EvalResult | None:
    if not resources.has_data():
        st.warning(resources.missing_data_message())
        return None
    try:
        with st.spinner(t("evaluate.spinner", count=TEST_SIZE)):
            # The model's one temperature (as on Draw and Inside), so a cell image's confidence is its inside view's.
            result = resources.evaluation(loaded.digest, resources.eval_limit(), loaded.model)
            result = result.recalibrated(models.shown_calibration(loaded, result))
            resources.test_count()  # the images the drill-down shows (7.8 MB, read once per server)
    except DataUnavailableError as exc:
        st.warning(error_text(exc))
        return None
    return result


def _show_metrics(result: EvalResult) -> None:
    with metrics.container():
        with st.container(horizontal=True, key="eval_metrics"):
            st.metric(t("evaluate.metric.accuracy"), f"{result.accuracy:.2%}", width="content")
            st.metric(t("evaluate.metric.mistakes"), f"{len(result.misclassified):,}", width="content")
            st.metric(t("evaluate.metric.images"), f"{result.n:,}", width="content")
        st.caption(t("evaluate.metric.loss", loss=result.loss))


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
    key = "evaluate.cell.right" if true == pred else "evaluate.cell.wrong"
    first = t("evaluate.cell.first", count=len(shown)) if len(indices) > len(shown) else ""
    st.markdown(t(key, count=len(indices), true=true, pred=pred, first=first))
    with st.container(horizontal=True, gap="small", key="eval_cell_images"):
        for i in shown:
            st.image(
                charts.enlarge(resources.test_image(i), 3),
                width=78,
                link=INSIDE_LINK.format(index=i) + models.link_suffix(loaded.source) + i18n.link_suffix(),
                caption=verdicts.percent(float(result.confidences[i])),
                alt=t(
                    "evaluate.cell.alt", index=i, pred=pred, confidence=verdicts.percent(float(result.confidences[i]))
                ),
            )
    if shown:
        st.caption(t("evaluate.cell.caption"))


def _confusion(result: EvalResult) -> None:
    if st.session_state.get(CELL_FOR) != loaded.digest:  # default cell: this model's most frequent mistake
        st.session_state["eval_true"], st.session_state["eval_pred"] = result.most_confused()
        st.session_state[CELL_FOR] = loaded.digest
    st.subheader(t("evaluate.confusion.heading"))
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.caption(t("evaluate.confusion.caption"))
        cell = (st.session_state["eval_true"], st.session_state["eval_pred"])
        words = charts.labels(plots.ConfusionLabels, "confusion")
        charts.plot(
            plots.confusion_matrix(result.confusion.tolist(), selected=cell, height=380, labels=words),
            key="eval_cm",
            on_select=_on_cell_click,
        )
    with right:
        _cell_images(result)
        c1, c2 = st.columns(2)
        c1.selectbox(t("evaluate.confusion.true"), list(range(10)), key="eval_true", persist_state="session")
        c2.selectbox(t("evaluate.confusion.pred"), list(range(10)), key="eval_pred", persist_state="session")


def _per_digit(result: EvalResult) -> None:
    st.subheader(t("evaluate.per_digit.heading"))
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        words = charts.labels(plots.BarLabels, "per_digit")
        charts.plot(
            plots.per_class_accuracy(result.per_class_accuracy.tolist(), height=280, labels=words), key="eval_per_digit"
        )
    with right:
        # Few, narrow columns: the whole table fits a 390 px phone without sideways scrolling.
        st.dataframe(
            [
                {
                    "digit": d,
                    "accuracy": f"{float(result.per_class_accuracy[d]):.2%}",
                    "correct": f"{int(result.confusion[d, d]):,}/{int(result.support[d]):,}",
                    "precision": f"{float(result.precision[d]):.2%}",
                }
                for d in range(10)
            ],
            key="eval_per_digit_table",
            hide_index=True,
            column_config={
                "digit": st.column_config.NumberColumn(t("evaluate.table.digit"), width=48),
                "accuracy": st.column_config.TextColumn(
                    t("evaluate.table.accuracy"), width=78, help=t("evaluate.table.accuracy_help")
                ),
                "correct": st.column_config.TextColumn(
                    t("evaluate.table.correct"), width=88, help=t("evaluate.table.correct_help")
                ),
                "precision": st.column_config.TextColumn(
                    t("evaluate.table.precision"), width=80, help=t("evaluate.table.precision_help")
                ),
            },
        )
    with st.expander(t("evaluate.report.heading")):
        st.dataframe(
            [
                {
                    "digit": r["digit"],
                    "precision": r["precision"],
                    "recall": r["recall"],
                    "f1": r["f1"],
                    "support": r["support"],
                }
                for r in result.report()
            ],
            key="eval_report",
            hide_index=True,
            column_config={
                "digit": st.column_config.NumberColumn(t("evaluate.table.digit"), width=48),
                "precision": st.column_config.NumberColumn(t("evaluate.table.precision"), format="%.4f", width=70),
                "recall": st.column_config.NumberColumn(t("evaluate.table.recall"), format="%.4f", width=70),
                "f1": st.column_config.NumberColumn(t("evaluate.table.f1"), format="%.4f", width=70),
                "support": st.column_config.NumberColumn(t("evaluate.table.support"), width=64),
            },
        )
        st.caption(t("evaluate.report.caption"))


def _samples(result: EvalResult) -> None:
    st.subheader(t("evaluate.samples.heading"))
    seed = st.session_state.setdefault("eval_sample_seed", 0)
    idx = sample_indices(result.n, 20, seed)
    caps, colours = plots.prediction_captions(
        result.predictions[idx].tolist(), result.targets[idx].tolist(), result.confidences[idx].tolist()
    )
    charts.plot(plots.image_grid([resources.test_image(i) for i in idx], caps, colours, cols=5), key="eval_samples")
    st.caption(t("evaluate.samples.caption"))

    def _new_sample() -> None:
        st.session_state["eval_sample_seed"] += 1

    st.button(t("evaluate.samples.new"), key="eval_new_sample", on_click=_new_sample, icon=":material/shuffle:")


def _history() -> None:
    if ckpt.history.get("epoch"):
        st.subheader(t("evaluate.history.heading"))
        h1, h2 = st.columns(2)
        for column, metric, key in ((h1, "loss", "eval_hist_loss"), (h2, "accuracy", "eval_hist_acc")):
            words = charts.labels(plots.CurveLabels, f"{metric}_curve")
            with column:
                charts.plot(plots.training_curve(metric, None, ckpt.history, labels=words), key=key, interactive=True)
    elif ckpt.plain:
        st.caption(t("evaluate.history.plain"))


result = _evaluate()
if result is not None:
    _show_metrics(result)
    if not st.session_state.get(FIRST_PAINT):
        # The browser shows a batch of new elements only once the code of every element in it has loaded, and a
        # new session's browser has no Plotly yet: sent right behind the metrics, the charts held them back until
        # Plotly had loaded and drawn. So the metrics go first, then this pause, then the model picker and the
        # charts, once per session (docs/pages.md has the measurements).
        st.session_state[FIRST_PAINT] = True
        time.sleep(charts.FIRST_PAINT_PAUSE_S)
    _model_picker()
    if result.n < TEST_SIZE:
        st.caption(t("evaluate.limited", count=result.n))
    _confusion(result)
    _per_digit(result)
    _samples(result)
else:  # the evaluation could not run (no MNIST)
    _model_picker()
_history()
with st.expander(t("evaluate.details.heading")):
    _checkpoint_details()
