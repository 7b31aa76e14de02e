"""The lessons' charts: curves of two (or more) runs side by side, from plain lists; no torch, no Streamlit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

PALETTE = ("#1f77b4", "#c62828", "#2e7d32", "#ff7f0e")  # the correct run first, in the charts' blue
_MARGIN = dict(l=10, r=10, t=40, b=10)


@dataclass(frozen=True)
class LinesLabels:
    """A lesson chart's words (English defaults; the UI passes its visitor's language). hover: {x} {y}."""

    title: str = "Training loss"
    x: str = "step"
    y: str = "loss"
    floor: str = "lowest possible loss"
    waiting: str = "waiting for the first report…"


@dataclass(frozen=True)
class Series:
    name: str  # the legend's text
    x: Sequence[float]
    y: Sequence[float]
    dash: bool = False  # dashed: the second metric of the same run (e.g. test beside train)
    colour: int = 0  # index into PALETTE: one colour per run


def lines(
    series: Sequence[Series],
    labels: LinesLabels = LinesLabels(),
    floor: float | None = None,
    percent: bool = False,
    height: int = 320,
) -> go.Figure:
    """One line per series (gaps where a value is not a number: a run that failed stops there); `floor`: a
    dotted horizontal line (the softmax-at-the-end loss can never go under it)."""
    fig = go.Figure()
    for s in series:
        colour = PALETTE[s.colour % len(PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=list(s.x),
                y=[v if v == v else None for v in s.y],  # NaN → a gap
                name=s.name,
                mode="lines+markers" if len(s.x) < 30 else "lines",
                line=dict(color=colour, dash="dash" if s.dash else "solid", width=2),
                marker=dict(size=5),
            )
        )
    if floor is not None:
        fig.add_hline(y=floor, line=dict(color="#5f6368", dash="dot"), annotation_text=labels.floor)
    if not any(len(s.x) for s in series):
        fig.add_annotation(text=labels.waiting, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(title_text=labels.x)
    fig.update_yaxes(title_text=labels.y, tickformat=".0%" if percent else None, rangemode="tozero")
    fig.update_layout(
        title=dict(text=labels.title, x=0, xanchor="left", font=dict(size=15)),
        height=height,
        margin=_MARGIN,
        legend=dict(orientation="h", yanchor="top", y=-0.3, xanchor="left", x=0.0),
        hovermode="x unified",
    )
    return fig


def series_of(points: Mapping[str, tuple[Sequence[float], Sequence[float]]], names: Mapping[str, str]) -> list[Series]:
    """Series from {key: (x, y)}, named by `names`, coloured in order."""
    return [Series(names.get(k, k), x, y, colour=i) for i, (k, (x, y)) in enumerate(points.items())]
