"""Small text formatting shared by the pages."""

from __future__ import annotations

import time


def duration(seconds: float | None) -> str:
    """12 s, 3 min 05 s, 1 h 02 min; '—' when unknown."""
    if seconds is None:
        return "—"
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def about(seconds: float) -> str:
    """A rough duration for estimates: 'about 40 s', 'about 6 min', 'about 1.5 h'."""
    if seconds < 90:
        return f"about {max(1, round(seconds / 5) * 5 if seconds > 10 else round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def percent(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def run_label(recipe: str, modified: float, accuracy: float | None) -> str:
    """A run as people name it ('Quick run of 07:45 · 98.10%'), not by its folder name or path."""
    when = time.strftime("%d %b %H:%M", time.localtime(modified))
    kind = recipe.capitalize() if recipe and recipe != "?" else "Training"
    return f"{kind} run of {when} · {percent(accuracy)}"
