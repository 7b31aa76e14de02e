"""Small text formatting shared by the pages, in the visitor's language."""

from __future__ import annotations

import time

from ui.i18n import t


def duration(seconds: float | None) -> str:
    """12 s, 3 min 05 s, 1 h 02 min; '—' when unknown."""
    if seconds is None:
        return t("common.duration.unknown")
    s = max(0, int(round(seconds)))
    if s < 60:
        return t("common.duration.seconds", s=s)
    if s < 3600:
        return t("common.duration.minutes", m=s // 60, s=s % 60)
    return t("common.duration.hours", h=s // 3600, m=(s % 3600) // 60)


def about(seconds: float) -> str:
    """A rough duration for estimates: 'about 40 s', 'about 6 min', 'about 1.5 h'."""
    if seconds < 90:
        return t("common.duration.about_seconds", s=max(1, round(seconds / 5) * 5 if seconds > 10 else round(seconds)))
    if seconds < 5400:
        return t("common.duration.about_minutes", m=round(seconds / 60))
    return t("common.duration.about_hours", h=seconds / 3600)


def percent(value: float | None, digits: int = 2) -> str:
    return t("common.duration.unknown") if value is None else f"{value:.{digits}%}"


def run_label(recipe: str, modified: float, accuracy: float | None) -> str:
    """A run as people name it ('Quick run of 07:45 · 98.10%'), not by its folder name or path."""
    when = time.strftime(t("common.models.disk_when"), time.localtime(modified))
    kind = recipe if recipe in ("quick", "tutorial", "custom") else "other"
    return t("common.models.disk_run", kind=t(f"common.models.kind_{kind}"), when=when, accuracy=percent(accuracy))


NETWORK_NAMES = {"simplecnn": "SimpleCNN", "lenet5": "LeNet-5"}  # proper nouns: the same in every language


def network(model: str) -> str:
    """A network (TrainConfig.model's value) as people write it: 'LeNet-5', not 'lenet5'."""
    return NETWORK_NAMES.get(str(model), str(model))
