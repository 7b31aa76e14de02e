"""Charts that work with a finger: every page shows its Plotly figures through `plot()`.

Why: Plotly's drag layer listens to `touchstart` and calls preventDefault(), so on a phone a vertical swipe that
starts on a chart never scrolls the page (measured: 0 px of scroll for a 200 px swipe on Evaluate's confusion
matrix). It also made touch taps act one tap late: Plotly's click used the hover point of the *previous* touch.
Two cures, both here so every page gets them:
- Charts nobody interacts with are drawn with `staticPlot` (no drag layer at all, cheaper too).
- `install_page_helpers()` (called once per run by studio.py) adds one capture-phase listener that keeps a
  touchstart on a Plotly chart from reaching Plotly. The browser then scrolls on a swipe and, on a tap, sends
  the usual compatibility mouse events (move, down, up, click), which Plotly handles like a mouse click on the
  cell under the finger, hover point included.
The same script hides streamlit-drawable-canvas's hover toolbar (no hover on phones; the Draw page has its
own Undo and Clear buttons): the canvas lives in an open shadow root that page CSS cannot reach; and it sends a
finished stroke at once instead of after the canvas's 200 ms debounce (docs/draw.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import i18n

L = TypeVar("L")
# A new session's metrics go to the browser this long before its first charts, which would hold them back while
# Plotly loads (pages/evaluate.py; docs/pages.md).
FIRST_PAINT_PAUSE_S = 1.0

_PAGE_JS = """
(() => {
  if (window.__simplecnnHelpers) return;
  window.__simplecnnHelpers = true;
  // Let a swipe on a chart scroll the page; a tap still reaches Plotly as mouse events.
  window.addEventListener('touchstart', (e) => {
    const t = e.target;
    if (t && t.closest && t.closest('.js-plotly-plot')) e.stopPropagation();
  }, {capture: true, passive: true});
  // Hide the drawable canvas's hover-only toolbar inside its shadow root.
  const css = '.dc-toolbar{display:none !important}';
  const hide = () => {
    document.querySelectorAll('[data-testid="stBidiComponentIsolated"]').forEach((host) => {
      const root = host.shadowRoot;
      // Every isolated component gets the rule: it only matches the canvas's toolbar.
      if (!root || root.querySelector('style[data-simplecnn]')) return;
      const style = document.createElement('style');
      style.setAttribute('data-simplecnn', '');
      style.textContent = css;
      root.appendChild(style);
    });
  };
  // Send a finished stroke at once: the canvas otherwise waits out its own 200 ms debounce before telling the
  // app (measured: touchend -> websocket 0.21 s). Its hidden toolbar's send button does it now.
  const sendNow = (e) => {
    const isCanvas = (n) => n && n.getAttribute && n.getAttribute('data-testid') === 'stBidiComponentIsolated';
    const host = e.composedPath().find(isCanvas);
    if (!host || !host.shadowRoot) return;
    setTimeout(() => {
      const b = host.shadowRoot.querySelector('button[aria-label="Update the app with this drawing"]');
      if (b) b.click();
    }, 0);
  };
  window.addEventListener('touchend', sendNow, true);
  window.addEventListener('mouseup', sendNow, true);
  // Polled: a component attaches its shadow root after its host appears, which no MutationObserver reports.
  setInterval(hide, 300);
  hide();
})();
"""

BASE_CONFIG: dict[str, Any] = {"displayModeBar": False, "scrollZoom": False, "doubleClick": False}


# Streamlit leaves ~6rem above the title; on a 844 px phone that pushes the answer below the fold.
# Captions carry key information: Streamlit fades them to 4.0:1 on white, so they get a darker grey (6.6:1); the
# chosen option of a segmented control, 4.2:1, gets a darker blue (7.0:1 on its tint) (WCAG AA: 4.5:1). Buttons a
# finger presses are at least 44 px tall.
_PAGE_CSS = (
    '[data-testid="stMainBlockContainer"]{padding-top:3.5rem}'
    '[data-testid="stCaptionContainer"],[data-testid="stCaptionContainer"] p'
    "{color:#565d64 !important;opacity:1 !important}"
    '[data-testid="stButtonGroup"] button[data-selected="true"] p{color:#15557f !important}'
    '[data-testid="stButtonGroup"] button,.stButton button,.stDownloadButton button,'
    '[data-testid="stPageLink-NavLink"]{min-height:44px}'
)


def install_page_helpers() -> None:
    """Once per script run (studio.py): the touch and canvas-toolbar helpers above (idempotent in the browser)."""
    st.html(f"<style>{_PAGE_CSS}</style><script>{_PAGE_JS}</script>", unsafe_allow_javascript=True)


def config(interactive: bool) -> dict[str, Any]:
    """Plotly config: no mode bar, no scroll-zoom; static (no drag layer, no hover) unless `interactive`."""
    return {**BASE_CONFIG, "staticPlot": not interactive}


def plot(
    fig: go.Figure,
    key: str,
    *,
    interactive: bool = False,
    on_select: Literal["rerun"] | Callable[[], None] | None = None,
    selection_mode: Literal["points", "box", "lasso"] = "points",
) -> Any:
    """st.plotly_chart for phones and desktops alike.

    interactive=False (default): a picture that a finger scrolls past (image grids, bars).
    interactive=True: hover on desktop (training curves); with on_select, tap/click selection of points.
    """
    if on_select is not None:
        fig.update_layout(dragmode=False)  # a drag must never zoom: on a phone it is a scroll
        return st.plotly_chart(fig, key=key, on_select=on_select, selection_mode=selection_mode, config=config(True))
    if interactive:
        fig.update_layout(dragmode=False)
    return st.plotly_chart(fig, key=key, config=config(interactive))


def enlarge(pixels: np.ndarray, factor: int) -> np.ndarray:
    """A 28×28 picture repeated pixel by pixel, so the browser shows it sharp instead of blurred."""
    return np.kron(np.clip(pixels, 0, 1), np.ones((factor, factor), dtype=np.float32))


def labels(cls: type[L], prefix: str) -> L:
    """A figure's words in the visitor's language: each field of the library's labels dataclass `cls` from the
    catalog key `charts.<prefix>.<field>` (templates: the figure fills their placeholders)."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    return cls(**{field.name: i18n.raw(f"charts.{prefix}.{field.name}") for field in fields})
