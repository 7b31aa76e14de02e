"""The lessons (and lesson parts) computed while the page draws: a forward pass or a few over at most a thousand
test images, seconds on two cores, cached per model (by its checkpoint's SHA-256) and setting. Nothing here trains."""

from __future__ import annotations

import streamlit as st
import torch
from torch import nn

from simplecnn import settings
from simplecnn.data import load_mnist, normalize
from simplecnn.lessons import layouts, loss, mistakes, modes, nograd, shapes
from simplecnn.lessons.tutorial import COMPARISON, NO_GRAD_MEMORY_MB, SIMPLECNN_PARAMETERS_CLAIM, ZERO_GRAD_EXAMPLE
from simplecnn.model import ARCHITECTURES, count_parameters
from ui import fmt, resources
from ui.i18n import t
from ui.lessons import architecture, beside, network_name
from ui.models import LoadedModel

MB = 1024 * 1024
LAST_X = "last_drawing_x"  # the Draw page's last drawing, as the model's input (1×1×28×28)


def test_images(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` test images, normalised, and their labels (fewer when SIMPLECNN_EVAL_LIMIT says so)."""
    limit = settings.eval_limit()
    count = min(count, limit) if limit else count
    data = load_mnist()
    return normalize(data.test_pixels[:count]), data.test_y[:count]


def _no_data() -> bool:
    if resources.has_data():
        return False
    st.warning(resources.missing_data_message())
    return True


# ---- 1. shapes and parameters ------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def _layer_table(digest: str, _model: nn.Module) -> list[shapes.LayerRow]:
    return shapes.layer_table(_model)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(v) for v in shape) + ")"


def shapes_lesson(loaded: LoadedModel) -> None:
    beside(("count_parameters", "padding"), lambda: _shapes_result(loaded))
    _padding()


def _shapes_result(loaded: LoadedModel) -> None:
    rows = _layer_table(loaded.digest, loaded.model)
    total = sum(r.parameters for r in rows)
    st.dataframe(
        [{"layer": r.name, "kind": r.kind, "shape": _shape(r.output_shape), "params": r.parameters} for r in rows],
        hide_index=True,
        key="lesson_shapes_table",
        column_config={
            "layer": st.column_config.TextColumn(t("lessons.shapes.col_layer")),
            "kind": st.column_config.TextColumn(t("lessons.shapes.col_kind")),
            "shape": st.column_config.TextColumn(t("lessons.shapes.col_shape")),
            "params": st.column_config.NumberColumn(t("lessons.shapes.col_params"), format="localized"),
        },
    )
    biggest = max(rows, key=lambda r: r.parameters)
    st.metric(t("lessons.shapes.total", network=network_name(loaded)), f"{total:,}", width="content")
    st.markdown(
        t("lessons.shapes.biggest", layer=biggest.name, count=biggest.parameters, share=biggest.parameters / total)
    )
    claim = SIMPLECNN_PARAMETERS_CLAIM if architecture(loaded) == "simplecnn" else COMPARISON["lenet5"].parameters
    st.info(t("lessons.shapes.claim", network=network_name(loaded), claim=claim, total=total))
    others = " · ".join(f"{fmt.network(name)}: {count_parameters(cls()):,}" for name, cls in ARCHITECTURES.items())
    st.caption(t("lessons.shapes.both", counts=others))


def _padding() -> None:
    st.subheader(t("lessons.shapes.padding_heading"))
    a, b = st.columns(2)
    size = a.slider(t("lessons.shapes.size"), 4, 32, 28, key="lesson_pad_size")
    kernel = b.slider(t("lessons.shapes.kernel"), 1, 7, 3, key="lesson_pad_kernel")
    padding = a.slider(t("lessons.shapes.padding"), 0, 3, 1, key="lesson_pad_padding")
    stride = b.slider(t("lessons.shapes.stride"), 1, 3, 1, key="lesson_pad_stride")
    check = shapes.check_conv(size, kernel, padding, stride)
    left, right = st.columns(2)
    left.metric(
        t("lessons.shapes.formula"), f"{check.formula}", t("lessons.shapes.exact", value=check.exact), delta_color="off"
    )
    right.metric(t("lessons.shapes.real"), "—" if check.real is None else f"{check.real}")
    if check.error:
        st.warning(t("lessons.shapes.refused"))
        st.code(check.error, language="text")
    elif check.real == check.formula:
        st.success(t("lessons.shapes.agree", size=check.real))


# ---- 2. train() vs eval() ------------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def _modes(digest: str, images: int, _model: nn.Module) -> modes.ModesResult:
    x, y = test_images(images)
    return modes.train_vs_eval(_model, x, y)


def modes_lesson(loaded: LoadedModel) -> None:
    if _no_data():
        return
    beside(("modes",), lambda: _modes_result(loaded))


def _modes_result(loaded: LoadedModel) -> None:
    with st.spinner(t("lessons.computing")):
        r = _modes(loaded.digest, len(test_images(modes.IMAGES)[1]), loaded.model)
    st.markdown(t("lessons.modes.setup", count=r.images, passes=r.passes))
    a, b = st.columns(2)
    a.metric(t("lessons.modes.eval_accuracy"), f"{r.eval_accuracy:.2%}")
    low, high = min(r.train_accuracies), max(r.train_accuracies)
    b.metric(t("lessons.modes.train_accuracy"), f"{low:.2%} – {high:.2%}")
    a.metric(t("lessons.modes.changed"), f"{r.changed_fraction:.1%}")
    b.metric(t("lessons.modes.differs"), f"{r.differs_from_eval:.1%}")
    st.markdown(t("lessons.modes.repeat", eval=_yes_no(r.eval_repeatable), train=_yes_no(r.train_repeatable)))
    st.caption(t("lessons.modes.why"))


def _yes_no(value: bool) -> str:
    return t("lessons.yes") if value else t("lessons.no")


# ---- 3. no_grad -------------------------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def _no_grad(digest: str, images: int, nonce: int, _model: nn.Module) -> tuple[nograd.GradModeCost, ...]:
    x, _ = test_images(images)
    return nograd.no_grad_costs(_model, x)


def no_grad_lesson(loaded: LoadedModel) -> None:
    if _no_data():
        return
    beside(("no_grad",), lambda: _no_grad_result(loaded))


def _no_grad_result(loaded: LoadedModel) -> None:
    nonce = st.session_state.get("lesson_no_grad_nonce", 0)
    with st.spinner(t("lessons.computing")):
        costs = _no_grad(loaded.digest, len(test_images(nograd.IMAGES)[1]), nonce, loaded.model)
    st.markdown(t("lessons.no_grad.setup", count=costs[0].images, batch=costs[0].batch_size))
    for cost, column in zip(costs, st.columns(2), strict=True):
        with column:
            st.markdown(t("lessons.no_grad.with_no_grad" if cost.no_grad else "lessons.no_grad.with_grad"))
            st.metric(t("lessons.no_grad.seconds"), f"{cost.seconds:.2f} s")
            st.metric(t("lessons.no_grad.peak"), f"{cost.peak_bytes / MB:.1f} MB")
            st.metric(t("lessons.no_grad.saved"), f"{cost.saved_bytes / MB:.1f} MB")
    with_grad, without = costs
    st.info(
        t(
            "lessons.no_grad.claim",
            saved=(with_grad.peak_bytes - without.peak_bytes) / MB,
            ratio=with_grad.peak_bytes / max(1, without.peak_bytes),
            gpu_with=NO_GRAD_MEMORY_MB[0],
            gpu_without=NO_GRAD_MEMORY_MB[1],
        )
    )
    if st.button(t("lessons.no_grad.again"), key="lesson_no_grad_again"):
        st.session_state["lesson_no_grad_nonce"] = nonce + 1
        st.rerun()


# ---- 4. logits and the loss (the computed part; the race is in ui.lessons_runs) --------------------------------
def loss_parts(loaded: LoadedModel) -> None:
    beside(("cross_entropy",), lambda: _loss_result(loaded))


def _loss_result(loaded: LoadedModel) -> None:
    drawing = st.session_state.get(LAST_X)
    if not isinstance(drawing, torch.Tensor) or not st.toggle(
        t("lessons.loss.use_drawing"), True, key="lesson_loss_drawing"
    ):
        drawing = None
    x: torch.Tensor
    if drawing is not None:
        x = drawing
        target = st.number_input(t("lessons.loss.target"), 0, 9, 0, key="lesson_loss_target")
    elif resources.has_data():
        index = int(
            st.number_input(t("lessons.loss.test_index"), 0, resources.test_count() - 1, 0, key="lesson_loss_index")
        )
        x = normalize(load_mnist().test_pixels[index : index + 1])
        target = resources.test_label(index)
        st.caption(t("lessons.loss.label", digit=target))
    else:
        st.warning(resources.missing_data_message())
        return
    parts = loss.loss_parts(loaded.model, x, int(target))  # one forward pass: not worth a cache
    st.dataframe(
        [
            {"digit": d, "logit": parts.logits[d], "log_prob": parts.log_probs[d], "prob": parts.probs[d]}
            for d in range(10)
        ],
        hide_index=True,
        key="lesson_loss_table",
        column_config={
            "digit": st.column_config.NumberColumn(t("lessons.loss.col_digit")),
            "logit": st.column_config.NumberColumn("logits", format="%.4f"),
            "log_prob": st.column_config.NumberColumn("LogSoftmax", format="%.4f"),
            "prob": st.column_config.NumberColumn("Softmax", format="percent"),
        },
    )
    a, b, c = st.columns(3)
    a.metric("NLLLoss", f"{parts.nll:.6g}")
    b.metric("CrossEntropyLoss", f"{parts.cross_entropy:.6g}")
    c.metric(t("lessons.loss.difference"), f"{parts.difference:.1e}")
    st.caption(t("lessons.loss.why", target=parts.target))


# ---- 5. the checklist's facts (the race is in ui.lessons_runs) ------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def _mistake_facts(digest: str, images: int, _model: nn.Module):
    x, y = test_images(images)
    grads = mistakes.accumulated_gradients(_model, x, y, passes=3)
    return grads, mistakes.one_hot_outcome(_model, x[:8], y[:8]), mistakes.device_mismatch(_model, x[:2])


def mistake_facts(loaded: LoadedModel) -> None:
    if _no_data():
        return
    with st.spinner(t("lessons.computing")):
        grads, one_hot, device = _mistake_facts(loaded.digest, len(test_images(64)[1]), loaded.model)
    st.subheader(t("lessons.mistakes.zero_grad_heading"))
    beside(("zero_grad",), lambda: _zero_grad(grads))
    st.subheader(t("lessons.mistakes.one_hot_heading"))
    beside(("one_hot",), lambda: _one_hot(one_hot))
    st.subheader(t("lessons.mistakes.device_heading"))
    beside(("device",), lambda: _device(device))


def _zero_grad(grads: tuple[float, ...]) -> None:
    st.dataframe(
        [
            {"pass": k + 1, "grad": g, "ratio": g / grads[0] if grads[0] else float("nan"), "tutorial": e}
            for k, (g, e) in enumerate(zip(grads, ZERO_GRAD_EXAMPLE, strict=False))
        ],
        hide_index=True,
        key="lesson_zero_grad_table",
        column_config={
            "pass": st.column_config.NumberColumn(t("lessons.mistakes.col_pass")),
            "grad": st.column_config.NumberColumn("conv1.weight.grad[0,0,0,0]", format="%.4e"),
            "ratio": st.column_config.NumberColumn(t("lessons.mistakes.col_ratio"), format="%.4f×"),
            "tutorial": st.column_config.NumberColumn(t("lessons.mistakes.col_tutorial"), format="%.3f"),
        },
    )
    st.caption(t("lessons.mistakes.zero_grad_why"))


def _one_hot(outcome: mistakes.OneHotOutcome) -> None:
    a, b = st.columns(2)
    a.metric(t("lessons.mistakes.index_loss"), f"{outcome.index_loss:.6f}")
    b.metric(t("lessons.mistakes.float_loss"), f"{outcome.float_one_hot_loss:.6f}")
    st.markdown(t("lessons.mistakes.long_error"))
    st.code(outcome.long_one_hot_error or "—", language="text")
    st.caption(t("lessons.mistakes.one_hot_why"))


def _device(mismatch: mistakes.DeviceMismatch) -> None:
    st.markdown(t("lessons.mistakes.device_setup", model=mismatch.model_device, data=mismatch.data_device))
    st.code(mismatch.error or "—", language="text")
    st.caption(t("lessons.mistakes.device_gpu" if mismatch.gpu else "lessons.mistakes.device_meta"))


# ---- 8. layouts -----------------------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def _layouts(digest: str, batch: int, _model: nn.Module) -> layouts.LayoutFacts:
    return layouts.layout_facts(_model, normalize(load_mnist().train_pixels[:batch]))


def layouts_lesson(loaded: LoadedModel) -> None:
    if _no_data():
        return
    beside(("layouts",), lambda: _layouts_result(loaded))


def _layouts_result(loaded: LoadedModel) -> None:
    batch = int(st.number_input(t("lessons.layouts.batch"), 1, 512, 128, key="lesson_layouts_batch"))
    f = _layouts(loaded.digest, batch, loaded.model)
    rows = [
        ("pytorch", f.pytorch_shape),
        ("keras", f.keras_shape),
        ("features", f.features_shape),
    ]
    code = [("x.view(x.size(0), -1)", f.view_shape), ("x.reshape(x.size(0), -1)", f.reshape_shape)]
    code.append(("torch.flatten(x, 1)", f.flatten_shape))
    st.dataframe(
        [{"what": t(f"lessons.layouts.row_{name}"), "shape": _shape(shape)} for name, shape in rows]
        + [{"what": text, "shape": _shape(shape)} for text, shape in code],
        hide_index=True,
        key="lesson_layouts_table",
        column_config={
            "what": st.column_config.TextColumn(t("lessons.layouts.col_what"), width="large"),
            "shape": st.column_config.TextColumn(t("lessons.shapes.col_shape")),
        },
    )
    st.markdown(t("lessons.layouts.equal", answer=_yes_no(f.all_equal)))
    st.markdown(
        t("lessons.layouts.strides", first=_shape(f.channels_first_strides), last=_shape(f.channels_last_strides))
    )
    if f.view_error:
        st.markdown(t("lessons.layouts.view_error"))
        st.code(f.view_error, language="text")
    st.caption(t("lessons.layouts.reshape_copies" if f.reshape_copies else "lessons.layouts.reshape_no_copy"))
