"""Charts of the workshop room: a run's probe digit over time, runs overlaid on the board, two runs' digits.

Plain data in, Plotly figures out (no Streamlit, no torch), like simplecnn.plots. Live charts are redrawn every
second or two while a run trains, so every series is thinned to a bounded number of points: the cost of a
redraw (build, serialise, send) then stays flat however long the run is.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from simplecnn.figures.charts import TEST, TRAIN, _base_layout
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


def probe_curve(curve: dict, label: str = "", height: int = 320) -> go.Figure:
    """The probe digit's ten probabilities over training time: {"x": epochs, "p": [[p0..p9], ...]}."""
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
                hovertemplate="epoch %{x:.2f}<br>%{y:.1%}<extra>" + str(digit) + "</extra>",
            )
        )
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    fig.update_yaxes(title_text="probability", tickformat=".0%", range=[0, 1])
    if not xs:
        fig.add_annotation(
            text="waiting for the first report…", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
    return _base_layout(fig, f"How it reads {plain(label) or 'your digit'}", height)


def overlay(runs: Sequence[tuple[str, dict, dict]], height: int = 340) -> go.Figure:
    """Several runs on one chart: each run's training loss per report (line) and test accuracy per epoch
    (markers, right axis). `runs`: (label, batches, epochs) as Run.curves() gives them; labels (participants'
    names) are shown as the literal text they are."""
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
                name=f"{label} · loss",
                line=dict(color=colour, width=1.5),
                legendgroup=label,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=epochs.get("epoch", []),
                y=epochs.get("test_accuracy", []),
                mode="markers+lines",
                name=f"{label} · test acc",
                yaxis="y2",
                legendgroup=label,
                marker=dict(color=colour, size=9, symbol="diamond"),
                line=dict(dash="dot"),
            )
        )
    fig.update_layout(
        yaxis=dict(title="training loss", rangemode="tozero"),
        yaxis2=dict(title="test accuracy", overlaying="y", side="right", tickformat=".1%"),
        xaxis=dict(title="epoch", rangemode="tozero"),
    )
    return _base_layout(fig, "Runs compared: loss (lines) and test accuracy (◆)", height)


def per_digit_pair(a: Sequence[float], b: Sequence[float], labels: tuple[str, str], height: int = 320) -> go.Figure:
    """Two runs' test accuracy per digit, side by side."""
    fig = go.Figure()
    for values, label, colour in ((a, labels[0], TRAIN), (b, labels[1], TEST)):
        fig.add_trace(
            go.Bar(
                x=list(range(10)),
                y=list(values),
                name=plain(label),
                marker_color=colour,
                hovertemplate="digit %{x}<br>%{y:.2%}<extra>%{fullData.name}</extra>",
            )
        )
    low = min(list(a) + list(b) + [1.0])
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="digit", dtick=1)
    fig.update_yaxes(title_text="test accuracy", tickformat=".0%", range=[max(0.0, low - 0.05), 1.0])
    return _base_layout(fig, "Accuracy per digit", height)


# ---- the live panel: plain-dict figures ----------------------------------------------------------------------
# Building plotly graph objects costs tens of ms per figure (validation, the default template); the live panel
# redraws every second or two for every watching participant, so it sends plain dict specs instead (measured:
# a dict spec with the same traces is 2-5x cheaper to build and serialise, see benchmarks/watch_cost.py).
LIVE_POINTS = 100


def _live_layout(title: str, height: int, y: dict) -> dict:
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "xaxis": {"title": {"text": "epoch"}, "rangemode": "tozero"},
        "yaxis": y,
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    }


def live_curve(metric: str, batches: dict, epochs: dict, height: int = 300) -> dict:
    """Loss or accuracy of a run as a plain-dict figure: training per report (thinned) and test per epoch."""
    small = thinned(batches, LIVE_POINTS)
    # Always one trace, even empty: plotly refuses a figure without data.
    data: list[dict] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": small.get("x", []),
            "y": small.get(metric, []),
            "opacity": 0.5,
            "name": "train (per report)",
            "line": {"color": TRAIN, "width": 1.5},
        }
    ]
    if epochs.get("epoch"):
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": epochs["epoch"],
                "y": epochs[f"test_{metric}"],
                "name": "test (per epoch)",
                "line": {"color": TEST, "width": 2.5},
                "marker": {"size": 8, "symbol": "diamond"},
            }
        )
    y = (
        {"title": {"text": metric}, "tickformat": ".0%"}
        if metric == "accuracy"
        else {"title": {"text": metric}, "rangemode": "tozero"}
    )
    return {"data": data, "layout": _live_layout(metric.capitalize(), height, y)}


def live_probe(curve: dict, label: str = "", height: int = 300) -> dict:
    """The probe digit's ten probabilities over time as a plain-dict figure (one line per digit)."""
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
    y = {"title": {"text": "probability"}, "tickformat": ".0%", "range": [0, 1]}
    return {"data": data, "layout": _live_layout(f"How it reads {plain(label) or 'your digit'}", height, y)}
