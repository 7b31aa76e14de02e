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

from simplecnn import explain
from simplecnn.figures import inside as plots
from simplecnn.inference.preprocess import ImageError
from simplecnn.model import SimpleCNN

TIMINGS = "inside_timings"  # session_state: {view: ms} of the last run, to measure the views (docs/inside.md)
STAGE_HELP = {
    "conv1": "32 channels at 28×28: edges and stroke pieces.",
    "conv2": "32 channels at 28×28 (max-pooled to 14×14 before conv3).",
    "conv3": "64 channels at 14×14: stroke combinations.",
    "conv4": "64 channels at 14×14 (max-pooled to 7×7 before fc128): digit parts.",
}


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
    model: SimpleCNN, x: torch.Tensor, image: np.ndarray | None = None, key: str = "inside", open_heavy: bool = False
) -> None:
    """Everything the network does with one digit. `x`: the normalised 1×1×28×28 input; `image`: the raw
    drawing or upload it came from (shows the preprocessing steps), None for a test image."""
    act = _timed("activations", lambda: explain.activations(model, x))
    pixels = explain.pixels_of(x)
    st.subheader("Inside the network")
    if image is not None:
        _preprocessing(model, image, act, key)
    _decision(model, x, pixels, act, key)
    _feature_maps(model, act, key)
    token = (_fingerprint(x), id(model))
    with st.expander(
        "Why this answer: nearest training digits and the map", expanded=open_heavy, key=f"{key}_why", on_change="rerun"
    ) as why:
        if why.open:
            _why(model, x, act, token, key)
    with st.expander(
        "Robustness lab: shift, turn, scale, thicken, add noise",
        expanded=open_heavy,
        key=f"{key}_robust",
        on_change="rerun",
    ) as robust:
        if robust.open:
            st.fragment(_robustness)(model, x, act, key)
    with st.expander(
        "Adversarial nudge: the smallest change that fools it", expanded=open_heavy, key=f"{key}_adv", on_change="rerun"
    ) as adv:
        if adv.open:
            st.fragment(_adversarial)(model, x, token, key)


def _preprocessing(model: SimpleCNN, image: np.ndarray, act: explain.Activations, key: str) -> None:
    try:
        view = _timed("preprocessing", lambda: explain.preprocess_view(image))
    except ImageError as exc:
        st.info(f"No preprocessing steps to show: {exc}")
        return
    plain = _timed("plain resize", lambda: explain.score(model, explain.pixels_of(view.plain)))
    s = view.stages
    st.markdown(
        "**Preprocessing**: your ink → cropped → longer side 20 px → placed by its centre of mass in "
        "28×28, as MNIST's digits were made."
    )
    cols = st.columns(5)
    pictures = [
        (plots.grey(s.ink, 1), "your ink"),
        (plots.grey(s.crop, 1), "cropped"),
        (plots.grey(s.box, 8), f"{s.box.shape[1]}×{s.box.shape[0]} box"),
        (plots.grey(s.pixels, 8), f"ours → {act.digit} ({act.probabilities[act.digit]:.0%})"),
        (plots.grey(plain.pixels, 8, 1.0), f"plain resize → {plain.digit} ({plain.confidence:.0%})"),
    ]
    for col, (picture, caption) in zip(cols, pictures, strict=False):
        col.image(picture, caption=caption, width="stretch")
    if plain.digit != act.digit:
        st.caption(
            f"A plain resize of the whole canvas would have read {_verdict(plain.digit, plain.probabilities)} "
            f"instead of {_verdict(act.digit, act.probabilities)}: small or off-centre digits need the "
            "cropping and centring."
        )


def _decision(model: SimpleCNN, x: torch.Tensor, pixels: np.ndarray, act: explain.Activations, key: str) -> None:
    attribution = _timed("attribution", lambda: explain.integrated_gradients(model, x))
    st.markdown(f"**Decision**: {_verdict(act.digit, act.probabilities)}")
    left, right = st.columns([1, 1.6])
    left.image(
        plots.attribution_overlay(pixels, attribution.pixels),
        width="stretch",
        caption=f"Which pixels made it a {attribution.target}: red for, blue against (Integrated Gradients "
        "from a blank image)",
    )
    right.image(
        plots.logits_and_probabilities(act.logits, act.probabilities),
        width="stretch",
        caption="The 10 logits (fc2's outputs) and their softmax: the probabilities.",
    )


def _feature_maps(model: SimpleCNN, act: explain.Activations, key: str) -> None:
    st.markdown("**Feature maps** (after ReLU; brighter = stronger)")
    names = [*explain.CONV_STAGES, "conv1 filters", "fc128"]
    tabs = st.tabs(names, key=f"{key}_maps")
    for tab, name in zip(tabs, explain.CONV_STAGES, strict=False):
        maps = act.stage(name)
        tab.image(
            _timed(f"picture {name}", functools.partial(plots.feature_maps, maps)),
            width="stretch",
            caption=f"{name}: {STAGE_HELP[name]}",
        )
    tabs[4].image(
        plots.filters(explain.conv1_filters(model)),
        width="stretch",
        caption="The 32 conv1 kernels (3×3): red weights add the pixel, blue subtract it.",
    )
    tabs[5].image(
        plots.activations_strip(act.fc128),
        width="stretch",
        caption=f"The 128 fc1 units ({int((act.fc128 > 0).sum())} active): the digit's embedding.",
    )


def _why(model: SimpleCNN, x: torch.Tensor, act: explain.Activations, token: tuple, key: str) -> None:
    with st.spinner("Embedding the 60,000 training digits (once per model)…"):
        explain.split_embeddings(model, "train")  # all threads: 60,000 images do gain from them
        neighbours = _memo(
            f"{key}_nn", token, lambda: _timed("neighbours", lambda: explain.nearest_training_digits(model, x, k=5))
        )
    st.markdown("**The 5 training digits nearest in the fc128 embedding**")
    cols = st.columns(5)
    for col, n, picture in zip(cols, neighbours, explain.training_pixels([n.index for n in neighbours]), strict=False):
        col.image(plots.grey(picture, 4, 1.0), caption=f"{n.label} · #{n.index} · d={n.distance:.1f}", width="stretch")
    with st.spinner("Mapping the 10,000 test digits (once per model)…"):
        explain.split_embeddings(model, "test")
        emap, base = _memo(f"{key}_map", token[1:], lambda: _timed("map", lambda: _map_and_picture(model)))
    st.image(
        plots.mark_map(base, emap.points, emap.place(act.fc128)),
        width="stretch",
        caption="The test set's fc128 embeddings (first two principal components), coloured by true digit; "
        "the cross is your digit.",
    )


def _map_and_picture(model: SimpleCNN) -> tuple[explain.EmbeddingMap, np.ndarray]:
    emap = explain.embedding_map(model)
    return emap, plots.embedding_map(emap.points, emap.labels)


def _robustness(model: SimpleCNN, x: torch.Tensor, act: explain.Activations, key: str) -> None:
    a, b = st.columns(2)
    shift_x = a.slider("Shift right (px)", -8, 8, 0, key=f"{key}_shift_x")
    shift_y = b.slider("Shift down (px)", -8, 8, 0, key=f"{key}_shift_y")
    rotation = a.slider("Rotate (degrees, anticlockwise)", -90, 90, 0, step=5, key=f"{key}_rotation")
    scale = b.slider("Scale", 0.4, 1.6, 1.0, step=0.05, key=f"{key}_scale")
    thickness = a.slider("Stroke thickness (−thin, +thick)", -2, 2, 0, key=f"{key}_thickness")
    noise = b.slider("Noise", 0.0, 0.6, 0.0, step=0.05, key=f"{key}_noise")
    setting = explain.Transform(
        float(shift_x), float(shift_y), float(rotation), float(scale), int(thickness), float(noise)
    )
    scored = _timed("robustness", lambda: explain.robustness(model, x, setting))
    left, right = st.columns([1, 1.6])
    left.image(plots.grey(scored.pixels, 8, 1.0), width="stretch", caption="the changed digit")
    changed = "" if scored.digit == act.digit else f" (was {act.digit})"
    right.metric("Now reads", f"{scored.digit}{changed}", f"{scored.confidence:.0%} confident", delta_color="off")


def _adversarial(model: SimpleCNN, x: torch.Tensor, token: tuple, key: str) -> None:
    eps = st.slider("ε: largest change per pixel (0–1 scale)", 0.0, 0.5, 0.15, step=0.01, key=f"{key}_eps")
    result = _memo(
        f"{key}_adv", (*token, eps), lambda: _timed("adversarial", lambda: explain.adversarial(model, x, eps))
    )
    cols = st.columns(3)
    cols[0].image(
        plots.grey(explain.pixels_of(x), 8, 1.0), caption=f"original → {result.original_digit}", width="stretch"
    )
    cols[1].image(
        plots.diverging(result.perturbation, 8, max(eps, 1e-3)),
        width="stretch",
        caption=f"the nudge (±{eps:.2f}; red adds ink)",
    )
    cols[2].image(
        plots.grey(result.pixels, 8, 1.0),
        width="stretch",
        caption=f"nudged → {result.digit} ({float(result.probabilities[result.digit]):.0%})",
    )
    if result.flipped:
        st.warning(
            f"Fooled: a change of at most {eps:.2f} per pixel turns the {result.original_digit} into a "
            f"**{result.digit}** ({float(result.probabilities[result.digit]):.0%} confident)."
        )
    else:
        st.success(f"Not fooled at ε = {eps:.2f}: the model still reads {result.digit}. Try a larger ε.")
