"""The inside view of one digit (used by /draw after each stroke and by /inside): thin Streamlit layout over
`simplecnn.explain` (numbers) and `simplecnn.figures.inside` (pictures).

Cheap views (activations, attribution, feature maps, preprocessing) render every run; the heavy ones
(neighbours and map, robustness lab, adversarial nudge) only while their expander is open, inside fragments so
their sliders rerun just themselves. Everything is a rendered picture or text: nothing needs hover.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st
import torch
from torch import nn

from simplecnn import explain, settings
from simplecnn.figures import inside as plots
from simplecnn.inference.preprocess import ImageError
from ui.i18n import error_text, t

TIMINGS = "inside_timings"  # session_state: {view: ms} of the last run, to measure the views (docs/inside.md)


def _timed(view: str, fn: Callable[[], Any]) -> Any:
    """Run one view's computation on a single torch thread (see explain.single_threaded) and note its time."""
    start = time.perf_counter()
    with explain.single_threaded():
        result = fn()
    st.session_state.setdefault(TIMINGS, {})[view] = (time.perf_counter() - start) * 1000
    return result


def _memo(key: str, token: tuple, fn: Callable[[], Any]) -> Any:
    """The last result for this widget key, recomputed only when its inputs (token) change."""
    slot = f"{key}__memo"
    held = st.session_state.get(slot)
    if held is None or held[0] != token:
        held = (token, fn())
        st.session_state[slot] = held
    return held[1]


def _fingerprint(x: torch.Tensor) -> str:
    return hashlib.sha1(x.detach().cpu().float().numpy().tobytes()).hexdigest()[:16]


def _verdict(digit: int, probabilities: np.ndarray) -> str:
    return f"**{digit}** ({float(probabilities[digit]):.0%})"


def render_inside_view(
    model: nn.Module, x: torch.Tensor, image: np.ndarray | None = None, key: str = "inside", open_heavy: bool = False
) -> None:
    """Everything the network does with one digit. `x`: the normalised 1×1×28×28 input; `image`: the raw
    drawing or upload it came from (shows the preprocessing steps), None for a test image."""
    act = _timed("activations", lambda: explain.activations(model, x))
    pixels = explain.pixels_of(x)
    st.subheader(t("inside.view.heading"))
    if image is not None:
        _preprocessing(model, image, act, key)
    _decision(model, x, pixels, act, key)
    _feature_maps(model, act, key)
    token = (_fingerprint(x), id(model))
    with st.expander(t("inside.why.heading"), expanded=open_heavy, key=f"{key}_why", on_change="rerun") as why:
        if why.open:
            _why(model, x, act, token, key)
    with st.expander(t("inside.robust.heading"), expanded=open_heavy, key=f"{key}_robust", on_change="rerun") as robust:
        if robust.open:
            st.fragment(_robustness)(model, x, act, key)
    with st.expander(t("inside.adv.heading"), expanded=open_heavy, key=f"{key}_adv", on_change="rerun") as adv:
        if adv.open:
            st.fragment(_adversarial)(model, x, token, key)


def _preprocessing(model: nn.Module, image: np.ndarray, act: explain.Activations, key: str) -> None:
    try:
        view = _timed("preprocessing", lambda: explain.preprocess_view(image))
    except ImageError as exc:
        st.info(t("inside.pre.none", problem=error_text(exc)))
        return
    plain = _timed("plain resize", lambda: explain.score(model, explain.pixels_of(view.plain)))
    s = view.stages
    st.markdown(t("inside.pre.heading"))
    cols = st.columns(5)
    pictures = [
        (plots.grey(s.ink, 1), t("inside.pre.ink")),
        (plots.grey(s.crop, 1), t("inside.pre.cropped")),
        (plots.grey(s.box, 8), t("inside.pre.box", width=s.box.shape[1], height=s.box.shape[0])),
        (plots.grey(s.pixels, 8), t("inside.pre.ours", digit=act.digit, p=act.probabilities[act.digit])),
        (plots.grey(plain.pixels, 8, 1.0), t("inside.pre.plain", digit=plain.digit, p=plain.confidence)),
    ]
    for col, (picture, caption) in zip(cols, pictures, strict=False):
        col.image(picture, caption=caption, width="stretch")
    if plain.digit != act.digit:
        st.caption(
            t(
                "inside.pre.differs",
                plain=_verdict(plain.digit, plain.probabilities),
                ours=_verdict(act.digit, act.probabilities),
            )
        )


def _decision(model: nn.Module, x: torch.Tensor, pixels: np.ndarray, act: explain.Activations, key: str) -> None:
    attribution = _timed("attribution", lambda: explain.integrated_gradients(model, x))
    st.markdown(t("inside.decision.heading", verdict=_verdict(act.digit, act.probabilities)))
    left, right = st.columns([1, 1.6])
    left.image(
        plots.attribution_overlay(pixels, attribution.pixels),
        width="stretch",
        caption=t("inside.decision.attribution", digit=attribution.target),
    )
    right.image(
        plots.logits_and_probabilities(act.logits, act.probabilities, headers=None),
        width="stretch",
        caption=t("inside.decision.logits"),
    )


def _feature_maps(model: nn.Module, act: explain.Activations, key: str) -> None:
    st.markdown(t("inside.maps.heading"))
    stages = act.conv_stages  # each network's own (LeNet-5: conv1, conv2)
    simple = stages == explain.CONV_STAGES
    embedding = "fc128" if simple else f"fc{len(act.embedding)}"
    tabs = st.tabs([*stages, t("inside.maps.filters_tab"), embedding], key=f"{key}_maps")
    for tab, name in zip(tabs, stages, strict=False):
        maps = act.stage(name)
        words = t(f"inside.maps.{name}") if simple else t("networks.maps", channels=maps.shape[0], size=maps.shape[-1])
        tab.image(
            _timed(f"picture {name}", functools.partial(plots.feature_maps, maps)),
            width="stretch",
            caption=f"{name}: {words}",
        )
    kernels = explain.conv1_filters(model)
    tabs[len(stages)].image(
        plots.filters(kernels),
        width="stretch",
        caption=t("inside.maps.filters")
        if simple
        else t("networks.filters", count=len(kernels), size=kernels.shape[-1]),
    )
    active = int((act.embedding > 0).sum())
    tabs[len(stages) + 1].image(
        plots.activations_strip(act.embedding),
        width="stretch",
        caption=t("inside.maps.fc128", count=active)
        if simple
        else t("networks.embedding", size=len(act.embedding), count=active),
    )


def _why(model: nn.Module, x: torch.Tensor, act: explain.Activations, token: tuple, key: str) -> None:
    with st.spinner(t("inside.why.embedding", count=60_000)):
        explain.split_embeddings(model, "train", settings.eval_limit())  # all threads: 60,000 images do gain from them
        neighbours = _memo(
            f"{key}_nn",
            token,
            lambda: _timed(
                "neighbours", lambda: explain.nearest_training_digits(model, x, k=5, limit=settings.eval_limit())
            ),
        )
    st.markdown(t("inside.why.nearest", count=5))
    cols = st.columns(5)
    for col, n, picture in zip(cols, neighbours, explain.training_pixels([n.index for n in neighbours]), strict=False):
        caption = t("inside.why.neighbour", label=n.label, index=n.index, distance=n.distance)
        col.image(plots.grey(picture, 4, 1.0), caption=caption, width="stretch")
    with st.spinner(t("inside.why.mapping", count=10_000)):
        explain.split_embeddings(model, "test", settings.eval_limit())
        emap, base = _memo(f"{key}_map", token[1:], lambda: _timed("map", lambda: _map_and_picture(model)))
    st.image(
        plots.mark_map(base, emap.points, emap.place(act.fc128)),
        width="stretch",
        caption=t("inside.why.map"),
    )


def _map_and_picture(model: nn.Module) -> tuple[explain.EmbeddingMap, np.ndarray]:
    emap = explain.embedding_map(model, settings.eval_limit())
    return emap, plots.embedding_map(emap.points, emap.labels)


def _robustness(model: nn.Module, x: torch.Tensor, act: explain.Activations, key: str) -> None:
    a, b = st.columns(2)
    shift_x = a.slider(t("inside.robust.shift_x"), -8, 8, 0, key=f"{key}_shift_x")
    shift_y = b.slider(t("inside.robust.shift_y"), -8, 8, 0, key=f"{key}_shift_y")
    rotation = a.slider(t("inside.robust.rotation"), -90, 90, 0, step=5, key=f"{key}_rotation")
    scale = b.slider(t("inside.robust.scale"), 0.4, 1.6, 1.0, step=0.05, key=f"{key}_scale")
    thickness = a.slider(t("inside.robust.thickness"), -2, 2, 0, key=f"{key}_thickness")
    noise = b.slider(t("inside.robust.noise"), 0.0, 0.6, 0.0, step=0.05, key=f"{key}_noise")
    setting = explain.Transform(
        float(shift_x), float(shift_y), float(rotation), float(scale), int(thickness), float(noise)
    )
    scored = _timed("robustness", lambda: explain.robustness(model, x, setting))
    left, right = st.columns([1, 1.6])
    left.image(plots.grey(scored.pixels, 8, 1.0), width="stretch", caption=t("inside.robust.changed"))
    changed = "" if scored.digit == act.digit else t("inside.robust.was", digit=act.digit)
    right.metric(
        t("inside.robust.now_reads"),
        f"{scored.digit}{changed}",
        t("draw.answer.confident", confidence=scored.confidence),
        delta_color="off",
    )


def _adversarial(model: nn.Module, x: torch.Tensor, token: tuple, key: str) -> None:
    eps = st.slider(t("inside.adv.eps"), 0.0, 0.5, 0.15, step=0.01, key=f"{key}_eps")
    result = _memo(
        f"{key}_adv", (*token, eps), lambda: _timed("adversarial", lambda: explain.adversarial(model, x, eps))
    )
    cols = st.columns(3)
    cols[0].image(
        plots.grey(explain.pixels_of(x), 8, 1.0),
        caption=t("inside.adv.original", digit=result.original_digit),
        width="stretch",
    )
    cols[1].image(
        plots.diverging(result.perturbation, 8, max(eps, 1e-3)),
        width="stretch",
        caption=t("inside.adv.nudge", eps=eps),
    )
    p = float(result.probabilities[result.digit])
    cols[2].image(
        plots.grey(result.pixels, 8, 1.0),
        width="stretch",
        caption=t("inside.adv.nudged", digit=result.digit, p=p),
    )
    if result.flipped:
        st.warning(t("inside.adv.fooled", eps=eps, original=result.original_digit, digit=result.digit, p=p))
    else:
        st.success(t("inside.adv.not_fooled", eps=eps, digit=result.digit))
