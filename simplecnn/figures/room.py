"""Charts of the workshop room: a run's probe digit over time, runs overlaid on the board, two runs' digits.

Plain data in, Plotly figures out (no Streamlit, no torch), like figures.charts. Live charts are redrawn every
second or two while a run trains, so every series is thinned to a bounded number of points: the cost of a
redraw (build, serialise, send) then stays flat however long the run is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from simplecnn.figures.charts import TEST, TRAIN, CurveLabels, _base_layout
from simplecnn.figures.text import plain

MAX_POINTS = 150
# Ten distinguishable colours, one per digit (Plotly's default qualitative palette).
DIGIT_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


@dataclass(frozen=True)
class ProbeLabels:
    """The watched digit's probabilities over training. hover_epoch: {epoch} {value}."""

    title: str = "How it reads your digit"
    x: str = "epoch"
    y: str = "probability"
    hover_epoch: str = "epoch {epoch}<br>{value}"
    waiting: str = "waiting for the first report…"


@dataclass(frozen=True)
class OverlayLabels:
    """Runs compared. loss_name / accuracy_name: {run}."""

    title: str = "Runs compared: loss (lines) and test accuracy (◆)"
    x: str = "epoch"
    y_loss: str = "training loss"
    y_accuracy: str = "test accuracy"
    loss_name: str = "{run} · loss"
    accuracy_name: str = "{run} · test acc"


@dataclass(frozen=True)
class PairLabels:
    """Two runs' accuracy per digit. hover: {digit} {value}."""

    title: str = "Accuracy per digit"
    x: str = "digit"
    y: str = "test accuracy"
    hover: str = "digit {digit}<br>{value}"


def thin(n: int, max_points: int = MAX_POINTS) -> list[int]:
    """Indices of at most `max_points` evenly spread points out of n, always keeping the last one."""
    if n <= max_points:
        return list(range(n))
    step = n / max_points
    picked = sorted({int(i * step) for i in range(max_points - 1)} | {n - 1})
    return picked


def thinned(batches: dict, max_points: int = MAX_POINTS) -> dict:
    """A run's per-report curves ({"x": [...], metric: [...]}) reduced to at most max_points points."""
    keep = thin(len(batches.get("x") or []), max_points)
    return {key: [values[i] for i in keep] for key, values in batches.items()}


def probe_curve(curve: dict, height: int = 320, labels: ProbeLabels | None = None) -> go.Figure:
    """The probe digit's ten probabilities over training time: {"x": epochs, "p": [[p0..p9], ...]}."""
    words = labels or ProbeLabels()
    keep = thin(len(curve.get("x") or []))
    xs = [curve["x"][i] for i in keep]
    fig = go.Figure()
    for digit in range(10):
        ys = [curve["p"][i][digit] for i in keep]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=str(digit),
                line=dict(color=DIGIT_COLOURS[digit], width=2),
                hovertemplate=words.hover_epoch.format(epoch="%{x:.2f}", value="%{y:.1%}") + f"<extra>{digit}</extra>",
            )
        )
    fig.update_xaxes(title_text=words.x, rangemode="tozero")
    fig.update_yaxes(title_text=words.y, tickformat=".0%", range=[0, 1])
    if not xs:
        fig.add_annotation(text=words.waiting, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return _base_layout(fig, words.title, height)


def overlay(
    runs: Sequence[tuple[str, dict, dict]], height: int = 340, labels: OverlayLabels | None = None
) -> go.Figure:
    """Several runs on one chart: each run's training loss per report (line) and test accuracy per epoch
    (markers, right axis). `runs`: (label, batches, epochs) as Run.curves() gives them; the labels (participants'
    names) are shown as the literal text they are."""
    words = labels or OverlayLabels()
    fig = go.Figure()
    for k, (raw_label, batches, epochs) in enumerate(runs):
        label = plain(raw_label)
        colour = DIGIT_COLOURS[k % len(DIGIT_COLOURS)]
        small = thinned(batches, 100)
        fig.add_trace(
            go.Scatter(
                x=small.get("x", []),
                y=small.get("loss", []),
                mode="lines",
                name=words.loss_name.format(run=label),
                line=dict(color=colour, width=1.5),
                legendgroup=label,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=epochs.get("x") or epochs.get("epoch", []),
                y=epochs.get("test_accuracy", []),
                mode="markers+lines",
                name=words.accuracy_name.format(run=label),
                yaxis="y2",
                legendgroup=label,
                marker=dict(color=colour, size=9, symbol="diamond"),
                line=dict(dash="dot"),
            )
        )
    fig.update_layout(
        yaxis=dict(title=words.y_loss, rangemode="tozero"),
        yaxis2=dict(title=words.y_accuracy, overlaying="y", side="right", tickformat=".1%"),
        xaxis=dict(title=words.x, rangemode="tozero", hoverformat=".2f"),
        hoverlabel=dict(namelength=-1),  # a participant's whole name, not its first 15 characters
    )
    if not any(epochs.get("test_accuracy") for _, _, epochs in runs):  # nothing measured yet: 0-100 %, not -100 %
        fig.update_layout(yaxis2=dict(range=[0, 1]))
    return _base_layout(fig, words.title, height)


def per_digit_pair(
    a: Sequence[float],
    b: Sequence[float],
    names: tuple[str, str],
    height: int = 320,
    labels: PairLabels | None = None,
) -> go.Figure:
    """Two runs' test accuracy per digit, side by side (`names`: the two runs' legend entries)."""
    words = labels or PairLabels()
    fig = go.Figure()
    for values, label, colour in ((a, names[0], TRAIN), (b, names[1], TEST)):
        fig.add_trace(
            go.Bar(
                x=list(range(10)),
                y=list(values),
                name=plain(label),
                marker_color=colour,
                # The name joins the hover label as data, never as part of the template (it may hold "%{").
                hovertemplate=words.hover.format(digit="%{x}", value="%{y:.2%}") + "<extra>%{fullData.name}</extra>",
            )
        )
    low = min(list(a) + list(b) + [1.0])
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text=words.x, dtick=1)
    fig.update_yaxes(title_text=words.y, tickformat=".0%", range=[max(0.0, low - 0.05), 1.0])
    return _base_layout(fig, words.title, height)


# ---- the live panel: plain-dict figures ----------------------------------------------------------------------
# Building plotly graph objects costs tens of ms per figure (validation, the default template); the live panel
# redraws every second or two for every watching participant, so it sends plain dict specs instead: several
# times cheaper to build and serialise (docs/performance.md, benchmarks/watch_cost.py).
LIVE_POINTS = 100


def _live_layout(title: str, x: str, height: int, y: dict) -> dict:
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "xaxis": {"title": {"text": x}, "rangemode": "tozero"},
        "yaxis": y,
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.3, "xanchor": "left", "x": 0.0},
    }


def live_curve(metric: str, batches: dict, epochs: dict, height: int = 300, labels: CurveLabels | None = None) -> dict:
    """Loss or accuracy of a run as a plain-dict figure: training per report (thinned) and test per epoch."""
    words = labels or CurveLabels.english(metric)
    small = thinned(batches, LIVE_POINTS)
    # Always one trace, even empty: plotly refuses a figure without data.
    data: list[dict] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": small.get("x", []),
            "y": small.get(metric, []),
            "opacity": 0.5,
            "name": words.train_batches,
            "line": {"color": TRAIN, "width": 1.5},
        }
    ]
    if epochs.get("epoch"):
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": epochs.get("x") or epochs["epoch"],
                "y": epochs[f"test_{metric}"],
                "name": words.test_epochs,
                "line": {"color": TEST, "width": 2.5},
                "marker": {"size": 8, "symbol": "diamond"},
            }
        )
    y = (
        {"title": {"text": words.y}, "tickformat": ".0%"}
        if metric == "accuracy"
        else {"title": {"text": words.y}, "rangemode": "tozero"}
    )
    return {"data": data, "layout": _live_layout(words.title, words.x, height, y)}


def live_probe(curve: dict, height: int = 300, labels: ProbeLabels | None = None) -> dict:
    """The probe digit's ten probabilities over time as a plain-dict figure (one line per digit)."""
    words = labels or ProbeLabels()
    keep = thin(len(curve.get("x") or []), LIVE_POINTS)
    xs = [curve["x"][i] for i in keep]
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": xs,
            "y": [curve["p"][i][d] for i in keep],
            "name": str(d),
            "line": {"color": DIGIT_COLOURS[d], "width": 2},
        }
        for d in range(10)
    ]
    y = {"title": {"text": words.y}, "tickformat": ".0%", "range": [0, 1]}
    return {"data": data, "layout": _live_layout(words.title, words.x, height, y)}
