"""The inside view of one digit (used by /draw after each stroke and by /inside): thin Streamlit layout over
`simplecnn.explain` (numbers) and `simplecnn.figures.inside` (pictures).

One step at a time (what it sees, decision, feature maps, why, robustness, nudge): only the chosen step is
computed, so the answer it follows is never kept waiting; the lab and the nudge are fragments so their sliders
rerun just themselves. Everything is a rendered picture or text with alt text: nothing needs hover.
"""

from __future__ import annotations

import dataclasses
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
from simplecnn.calibration import probabilities
from simplecnn.figures import inside as plots
from simplecnn.inference.preprocess import ImageError
from ui import verdict as verdicts
from ui.i18n import choices, error_text, t

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


def _recalibrated(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax probabilities at the model's temperature (log p are the logits up to a constant)."""
    logits = torch.from_numpy(np.asarray(probs, np.float32)).clamp_min(1e-30).log()
    return probabilities(logits[None], temperature)[0].numpy()


def _verdict(digit: int, probabilities: np.ndarray) -> str:
    return t("draw.verdict.digit", digit=digit, sure=verdicts.confidence_text(float(probabilities[digit])))


STEPS = ("sees", "decision", "maps", "why", "robust", "nudge")  # one concept per screen; labels: inside.steps.*


def render_inside_view(
    model: nn.Module,
    x: torch.Tensor,
    image: np.ndarray | None = None,
    key: str = "inside",
    temperature: float = 1.0,
    verdict: str | None = None,
    step: str | None = None,
) -> None:
    """Everything the network does with one digit, one step at a time (only the chosen step is computed).
    `x`: the normalised 1×1×28×28 input; `image`: the raw drawing or upload it came from (shows the
    preprocessing), None for a test image; `temperature`: the model's (ui.models), so its probabilities are the
    ones the answer showed; `verdict`: the answer's own words (Draw's three answers), else the top digit;
    `step`: the step to open first (tests)."""
    act = _timed("activations", lambda: explain.activations(model, x))
    calibrated = probabilities(torch.from_numpy(act.logits)[None], temperature)[0].numpy()
    act = dataclasses.replace(act, probabilities=calibrated)  # the model's one temperature, as on every page
    st.subheader(t("inside.view.heading"))
    chosen = st.segmented_control(
        t("inside.steps.label"),
        STEPS,
        default=step or STEPS[0],
        required=True,
        key=f"{key}_step",
        format_func=choices(STEPS, lambda s: t(f"inside.steps.{s}", number=STEPS.index(s) + 1)),
    )
    token = (_fingerprint(x), id(model))
    if chosen == "sees":
        _sees(model, x, image, act)
    elif chosen == "decision":
        _decision(model, x, explain.pixels_of(x), act, verdict or _verdict(act.digit, act.probabilities))
    elif chosen == "maps":
        _feature_maps(model, act, key)
    elif chosen == "why":
        _why(model, x, act, token, key)
    elif chosen == "robust":
        st.fragment(_robustness)(model, x, act, key, temperature)
    else:
        st.fragment(_adversarial)(model, x, token, key, temperature)


def _sees(model: nn.Module, x: torch.Tensor, image: np.ndarray | None, act: explain.Activations) -> None:
    if image is not None:
        _preprocessing(model, image, act)
        return
    picture = plots.grey(explain.pixels_of(x), 4, 1.0)
    st.image(picture, width=112, caption=t("inside.pre.input"), alt=t("inside.pre.input"))


def _preprocessing(model: nn.Module, image: np.ndarray, act: explain.Activations) -> None:
    try:
        view = _timed("preprocessing", lambda: explain.preprocess_view(image))
    except ImageError as exc:
        st.info(t("inside.pre.none", problem=error_text(exc)))
        return
    plain = _timed("plain resize", lambda: explain.score(model, explain.pixels_of(view.plain)))
    s = view.stages
    st.markdown(t("inside.pre.heading"))
    pictures = [
        (plots.grey(s.ink, 1), t("inside.pre.ink")),
        (plots.grey(s.crop, 1), t("inside.pre.cropped")),
        (plots.grey(s.box, 4), t("inside.pre.box", width=s.box.shape[1], height=s.box.shape[0])),
        (plots.grey(s.pixels, 4), t("inside.pre.ours", digit=act.digit)),
        (plots.grey(plain.pixels, 4, 1.0), t("inside.pre.plain", digit=plain.digit)),
    ]
    # Small pictures side by side (they wrap on a phone), not five full-width ones stacked.
    with st.container(horizontal=True, gap="small", key="inside_pre_pictures"):
        for picture, caption in pictures:
            st.image(picture, caption=caption, width=96, alt=caption)
    if plain.digit != act.digit:
        st.caption(t("inside.pre.differs", plain=f"**{plain.digit}**", ours=f"**{act.digit}**"))


def _decision(model: nn.Module, x: torch.Tensor, pixels: np.ndarray, act: explain.Activations, verdict: str) -> None:
    attribution = _timed("attribution", lambda: explain.integrated_gradients(model, x))
    st.markdown(t("inside.decision.heading", verdict=verdict))
    left, right = st.columns([1, 1.6])
    caption = t("inside.decision.attribution", digit=attribution.target)
    left.image(plots.attribution_overlay(pixels, attribution.pixels), width="stretch", caption=caption, alt=caption)
    caption = t("inside.decision.logits")
    right.image(
        plots.logits_and_probabilities(act.logits, act.probabilities, headers=None),
        width="stretch",
        caption=caption,
        alt=caption,
    )


def _feature_maps(model: nn.Module, act: explain.Activations, key: str) -> None:
    st.markdown(t("inside.maps.heading"))
    names = [*explain.CONV_STAGES, t("inside.maps.filters_tab"), "fc1"]
    tabs = st.tabs(names, key=f"{key}_maps")
    for tab, name in zip(tabs, explain.CONV_STAGES, strict=False):
        caption = f"{name}: {t(f'inside.maps.{name}')}"
        picture = _timed(f"picture {name}", functools.partial(plots.feature_maps, act.stage(name)))
        tab.image(picture, width="stretch", caption=caption, alt=caption)
    caption = t("inside.maps.filters")
    tabs[4].image(plots.filters(explain.conv1_filters(model)), width="stretch", caption=caption, alt=caption)
    caption = t("inside.maps.fc128", count=int((act.fc128 > 0).sum()))
    tabs[5].image(plots.activations_strip(act.fc128), width="stretch", caption=caption, alt=caption)


def _why(model: nn.Module, x: torch.Tensor, act: explain.Activations, token: tuple, key: str) -> None:
    st.caption(t("inside.why.heading"))
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
    with st.container(horizontal=True, gap="small", key=f"{key}_neighbours"):
        for n, picture in zip(neighbours, explain.training_pixels([n.index for n in neighbours]), strict=False):
            caption = t("inside.why.neighbour", label=n.label, index=n.index, distance=n.distance)
            st.image(plots.grey(picture, 4, 1.0), caption=caption, width=96, alt=caption)
    with st.spinner(t("inside.why.mapping", count=10_000)):
        explain.split_embeddings(model, "test", settings.eval_limit())
        emap, base = _memo(f"{key}_map", token[1:], lambda: _timed("map", lambda: _map_and_picture(model)))
    caption = t("inside.why.map")
    st.image(plots.mark_map(base, emap.points, emap.place(act.fc128)), width="stretch", caption=caption, alt=caption)


def _map_and_picture(model: nn.Module) -> tuple[explain.EmbeddingMap, np.ndarray]:
    emap = explain.embedding_map(model, settings.eval_limit())
    return emap, plots.embedding_map(emap.points, emap.labels)


def _robustness(model: nn.Module, x: torch.Tensor, act: explain.Activations, key: str, temperature: float) -> None:
    st.caption(t("inside.robust.heading"))
    # The result first, the sliders under it: on a phone the result stays in view while a slider moves.
    result = st.container(key=f"{key}_robust_result")
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
    confidence = float(_recalibrated(scored.probabilities, temperature)[scored.digit])
    changed = "" if scored.digit == act.digit else t("inside.robust.was", digit=act.digit)
    with result.container(horizontal=True, vertical_alignment="center", key=f"{key}_robust_row"):
        caption = t("inside.robust.changed")
        st.image(plots.grey(scored.pixels, 4, 1.0), width=112, caption=caption, alt=caption)
        st.metric(
            t("inside.robust.now_reads"),
            f"{scored.digit}{changed}",
            verdicts.confidence_text(confidence),
            delta_color="off",
            delta_arrow="off",
            width="content",
        )


def _adversarial(model: nn.Module, x: torch.Tensor, token: tuple, key: str, temperature: float) -> None:
    st.caption(t("inside.adv.heading"))
    eps = st.slider(t("inside.adv.eps"), 0.0, 0.5, 0.15, step=0.01, key=f"{key}_eps")
    result = _memo(
        f"{key}_adv", (*token, eps), lambda: _timed("adversarial", lambda: explain.adversarial(model, x, eps))
    )
    p = float(_recalibrated(result.probabilities, temperature)[result.digit])
    if result.flipped:
        st.warning(t("inside.adv.fooled", eps=eps, original=result.original_digit, digit=result.digit, p=p))
    else:
        st.success(t("inside.adv.not_fooled", eps=eps, digit=result.digit))
    pictures = (
        (plots.grey(explain.pixels_of(x), 4, 1.0), t("inside.adv.original", digit=result.original_digit)),
        (plots.diverging(result.perturbation, 4, max(eps, 1e-3)), t("inside.adv.nudge", eps=eps)),
        (plots.grey(result.pixels, 4, 1.0), t("inside.adv.nudged", digit=result.digit, p=p)),
    )
    with st.container(horizontal=True, gap="small", key=f"{key}_adv_pictures"):
        for picture, caption in pictures:
            st.image(picture, width=112, caption=caption, alt=caption)
