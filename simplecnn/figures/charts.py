"""Every chart SimpleCNN Studio shows: Plotly figures built from plain data (lists, numpy arrays).

No Streamlit here and no torch: callers pass numbers, these functions return `plotly.graph_objects.Figure`s.
Figures size themselves to their container's width; heights are fixed so layouts do not jump.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

DIGITS = list(range(10))
RIGHT = "#2e7d32"  # green: a correct prediction
WRONG = "#c62828"  # red: a mistake
NEUTRAL = "#5f6368"  # grey frame for plain samples
ACCENT = "#1f77b4"
TRAIN = "#1f77b4"
TEST = "#ff7f0e"
_MARGIN = dict(l=10, r=10, t=40, b=10)


# ---- the words on the charts: English defaults; the UI passes its visitor's language ---------------------------
# A field named hover* or *_name is a template: its {placeholders} are filled here (with Plotly's %{...} fields).
@dataclass(frozen=True)
class CurveLabels:
    """A training curve's words; `y` and `title` name the metric. hover_epoch: {epoch} {value}."""

    title: str = "Loss"
    y: str = "loss"
    x: str = "epoch"
    train_batches: str = "train (per batch)"
    train_epochs: str = "train (per epoch)"
    test_epochs: str = "test (per epoch)"
    hover_epoch: str = "epoch {epoch}<br>{value}"
    train: str = "train"
    test: str = "test"
    waiting: str = "waiting for the first report…"

    @classmethod
    def english(cls, metric: str) -> CurveLabels:
        return cls() if metric == "loss" else cls(title="Accuracy", y="accuracy")


@dataclass(frozen=True)
class ConfusionLabels:
    """hover: {true} {predicted} {count}."""

    x: str = "predicted digit"
    y: str = "true digit"
    hover: str = "true {true}, predicted {predicted}: {count} images"


@dataclass(frozen=True)
class BarLabels:
    """A bar per digit. hover: {digit} {value}."""

    title: str = ""
    x: str = "digit"
    y: str = ""
    hover: str = "digit {digit}: {value}"


@dataclass(frozen=True)
class ImageLabels:
    """One 28×28 image. hover: {row} {col} {value}."""

    title: str = "What the model sees (28×28)"
    hover: str = "row {row}, col {col}: {value}"


def _base_layout(fig: go.Figure, title: str = "", height: int = 320) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=15)) if title else None,
        height=height,
        margin=_MARGIN,
        # Below the plot: above it, a legend that wraps (10 digits on a phone, or longer words) covers the title.
        legend=dict(orientation="h", yanchor="top", y=-0.3, xanchor="left", x=0.0),
    )
    return fig


# ---- training curves ----------------------------------------------------------------------------------
def training_curve(
    metric: str,
    batches: dict | None = None,
    epochs: dict | None = None,
    title: str | None = None,
    height: int = 320,
    labels: CurveLabels | None = None,
) -> go.Figure:
    """Loss or accuracy against (fractional) epochs.

    metric: "loss" or "accuracy" (accuracies are fractions, shown as %).
    batches: per-report training values {"x": [epoch + fraction, ...], "loss": [...], "accuracy": [...]}.
    epochs: per-epoch values {"epoch": [...], "train_loss": [...], "test_loss": [...],
            "train_accuracy": [...], "test_accuracy": [...]} (any of them may be missing).
    """
    if metric not in ("loss", "accuracy"):
        raise ValueError("metric must be 'loss' or 'accuracy'")
    words = labels or CurveLabels.english(metric)
    fmt = ".2%" if metric == "accuracy" else ".4f"
    fig = go.Figure()
    batches, epochs = batches or {}, epochs or {}
    if batches.get("x"):
        fig.add_trace(
            go.Scatter(
                x=list(batches["x"]),
                y=list(batches[metric]),
                mode="lines",
                name=words.train_batches,
                line=dict(color=TRAIN, width=1.5),
                opacity=0.45,
                hovertemplate=words.hover_epoch.format(epoch="%{x:.2f}", value="%{y:" + fmt + "}")
                + f"<extra>{words.train}</extra>",
            )
        )
    xs = list(epochs.get("epoch") or [])
    names = {"train": (words.train_epochs, words.train), "test": (words.test_epochs, words.test)}
    for split, colour, symbol in (("train", TRAIN, "circle"), ("test", TEST, "diamond")):
        ys = epochs.get(f"{split}_{metric}")
        if xs and ys:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=list(ys),
                    mode="lines+markers",
                    name=names[split][0],
                    line=dict(color=colour, width=2.5),
                    marker=dict(size=8, symbol=symbol),
                    hovertemplate=words.hover_epoch.format(epoch="%{x}", value="%{y:" + fmt + "}")
                    + f"<extra>{names[split][1]}</extra>",
                )
            )
    fig.update_xaxes(title_text=words.x, rangemode="tozero")
    if metric == "accuracy":
        fig.update_yaxes(title_text=words.y, tickformat=".0%")
    else:
        fig.update_yaxes(title_text=words.y, rangemode="tozero")
    if not fig.data:
        fig.add_annotation(
            text=words.waiting,
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            font=dict(color=NEUTRAL),
        )
    return _base_layout(fig, title if title is not None else words.title, height)


# ---- evaluation ------------------------------------------------------------------------------------------
def confusion_matrix(
    counts: Sequence[Sequence[int]],
    selected: tuple[int, int] | None = None,
    height: int = 460,
    labels: ConfusionLabels | None = None,
) -> go.Figure:
    """Heatmap of counts[true][predicted] with every count written in its cell.

    A transparent marker sits on each cell so that clicking it is a point selection
    (Plotly does not report selections on heatmaps); its x is the predicted digit, y the true digit.
    """
    words = labels or ConfusionLabels()
    z = np.asarray(counts, dtype=float)
    off = z.copy()
    np.fill_diagonal(off, np.nan)
    # Colour by log count so small mistakes stay visible next to ~1000 correct ones.
    colour = np.log10(z + 1)
    text = [[str(int(v)) for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=colour,
            x=DIGITS,
            y=DIGITS,
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=11),
            colorscale="Blues",
            showscale=False,
            hoverinfo="skip",
            xgap=1,
            ygap=1,
        )
    )
    xs, ys, custom = [], [], []
    for t in DIGITS:
        for p in DIGITS:
            xs.append(p)
            ys.append(t)
            custom.append([t, p, int(z[t, p])])
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            customdata=custom,
            showlegend=False,
            marker=dict(symbol="square", size=26, color="rgba(0,0,0,0)", opacity=0.01),
            selected=dict(marker=dict(opacity=0.01)),
            unselected=dict(marker=dict(opacity=0.01)),
            hovertemplate=words.hover.format(
                true="%{customdata[0]}", predicted="%{customdata[1]}", count="%{customdata[2]}"
            )
            + "<extra></extra>",
        )
    )
    if selected is not None:
        t, p = selected
        fig.add_shape(
            type="rect",
            x0=p - 0.5,
            x1=p + 0.5,
            y0=t - 0.5,
            y1=t + 0.5,
            line=dict(color=WRONG if t != p else RIGHT, width=3),
        )
    fig.update_xaxes(title_text=words.x, tickmode="array", tickvals=DIGITS, side="top", showgrid=False, zeroline=False)
    fig.update_yaxes(
        title_text=words.y, tickmode="array", tickvals=DIGITS, autorange="reversed", showgrid=False, zeroline=False
    )
    fig.update_layout(clickmode="event+select", dragmode=False, hovermode="closest")
    fig = _base_layout(fig, "", height)
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10))
    return fig


def per_class_accuracy(values: Sequence[float], height: int = 320, labels: BarLabels | None = None) -> go.Figure:
    """Bar per digit (fractions shown as %); the axis starts near the worst digit so differences show."""
    words = labels or BarLabels(title="Accuracy per digit", y="accuracy")
    vals = [float(v) for v in values]
    low = min(vals) if vals else 0.0
    floor = max(0.0, min(0.9, low - 0.05 * max(1e-9, 1 - low) - 0.01))
    fig = go.Figure(
        go.Bar(
            x=[str(d) for d in DIGITS[: len(vals)]],
            y=vals,
            marker_color=ACCENT,
            text=[f"{v:.1%}" for v in vals],
            textposition="outside",
            cliponaxis=False,
            hovertemplate=words.hover.format(digit="%{x}", value="%{y:.2%}") + "<extra></extra>",
        )
    )
    fig.update_yaxes(range=[floor, 1.0], tickformat=".0%", title_text=words.y)
    fig.update_xaxes(title_text=words.x, type="category")
    return _base_layout(fig, words.title, height)


def probabilities(probs: Sequence[float], height: int = 280, labels: BarLabels | None = None) -> go.Figure:
    """The model's 10 class probabilities; the predicted digit is highlighted."""
    words = labels or BarLabels(title="Probabilities")
    vals = [float(v) for v in probs]
    best = int(np.argmax(vals)) if vals else -1
    colours = [ACCENT if i == best else "#9bbcd9" for i in range(len(vals))]
    fig = go.Figure(
        go.Bar(
            x=[str(d) for d in DIGITS[: len(vals)]],
            y=vals,
            marker_color=colours,
            text=[f"{v:.0%}" if v >= 0.01 else "" for v in vals],
            textposition="outside",
            cliponaxis=False,
            hovertemplate=words.hover.format(digit="%{x}", value="%{y:.2%}") + "<extra></extra>",
        )
    )
    fig.update_yaxes(range=[0, 1.08], tickformat=".0%", title_text=words.y or None)
    fig.update_xaxes(title_text=words.x, type="category")
    return _base_layout(fig, words.title, height)


def digit_image(pixels: np.ndarray, height: int = 280, labels: ImageLabels | None = None) -> go.Figure:
    """One 28×28 image in [0, 1], white on black, shown pixel by pixel."""
    words = labels or ImageLabels()
    img = np.asarray(pixels, dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=img,
            colorscale="gray",
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate=words.hover.format(row="%{y}", col="%{x}", value="%{z:.2f}") + "<extra></extra>",
        )
    )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    return _base_layout(fig, words.title, height)


# ---- image grids ---------------------------------------------------------------------------------------------
def _hex_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def image_grid(
    images: Sequence[np.ndarray],
    captions: Sequence[str] | None = None,
    colours: Sequence[str | None] | None = None,
    cols: int = 5,
    title: str = "",
    tile_height: int = 92,
    empty: str = "no images",
) -> go.Figure:
    """A mosaic of 28×28 images in [0, 1] (white on black), each in a coloured frame with a caption above.

    colours: a frame and caption colour per image (e.g. RIGHT / WRONG); None for the neutral grey.
    One image trace for the whole grid keeps this light in the browser.
    """
    n = len(images)
    if n == 0:
        fig = go.Figure()
        fig.add_annotation(text=empty, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return _base_layout(fig, title, 120)
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    frame, gap, cap = 2, 4, 12  # pixels of frame, gap between tiles, caption band (image pixels)
    tile = 28 + 2 * frame
    cell_w, cell_h = tile + gap, tile + gap + cap
    height_px, width_px = rows * cell_h, cols * cell_w
    mosaic = np.full((height_px, width_px, 3), 255, dtype=np.uint8)
    captions = list(captions) if captions is not None else [""] * n
    colours = list(colours) if colours is not None else [None] * n
    annotations = []
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        top, left = r * cell_h + cap, c * cell_w + gap // 2
        rgb = _hex_rgb(colours[i] or NEUTRAL)
        mosaic[top : top + tile, left : left + tile] = rgb
        grey = (np.clip(np.asarray(img, dtype=float), 0, 1) * 255).astype(np.uint8)
        mosaic[top + frame : top + frame + 28, left + frame : left + frame + 28] = grey[:, :, None]
        if captions[i]:
            annotations.append(
                dict(
                    x=left + tile / 2,
                    y=top - 1,
                    text=captions[i],
                    showarrow=False,
                    xanchor="center",
                    yanchor="bottom",
                    xref="x",
                    yref="y",
                    font=dict(size=12, color=colours[i] or "#31333f"),
                )
            )
    fig = go.Figure(go.Image(z=mosaic, hoverinfo="skip"))
    fig.update_layout(annotations=annotations)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, constrain="domain")
    fig = _base_layout(fig, title, rows * tile_height + (40 if title else 10))
    fig.update_layout(margin=dict(l=0, r=0, t=40 if title else 10, b=0))
    return fig


def prediction_captions(
    predicted: Sequence[int], true: Sequence[int], confidences: Sequence[float]
) -> tuple[list[str], list[str]]:
    """Captions ("7 · 99%" when right, "3 ≠ 5 · 62%" when wrong) and frame colours (green / red)."""
    caps, colours = [], []
    for p, t, c in zip(predicted, true, confidences, strict=True):
        ok = int(p) == int(t)
        caps.append(f"{int(p)} · {float(c):.0%}" if ok else f"{int(p)}≠{int(t)} · {float(c):.0%}")
        colours.append(RIGHT if ok else WRONG)
    return caps, colours
