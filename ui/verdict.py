"""One answer for one drawing, in the same words wherever it shows: Draw's answer box, its probability chart and
the inside view. The digit check (simplecnn.inference.digitcheck) gives one of three answers: a digit; "not sure
this is one digit — best guess 7"; "that doesn't look like one digit"."""

from __future__ import annotations

from typing import Any

from ui.i18n import t

DIGIT, UNSURE, NOT_DIGIT = "digit", "unsure", "not_digit"  # the check's Verdict values
OVER = 0.995  # from here a confidence reads "over 99%": "100%" would claim a certainty no model has


def answer_of(prediction: Any) -> str:
    """The check's answer for a Prediction (DIGIT, UNSURE or NOT_DIGIT)."""
    verdict = getattr(prediction, "verdict", None)
    if verdict is not None:
        return str(getattr(verdict, "value", verdict))
    return DIGIT if prediction.looks_like_digit else NOT_DIGIT


def confidence_text(p: float) -> str:
    """'98% sure', 'over 99% sure': whole percents, never '100%'."""
    return t("draw.answer.over") if p >= OVER else t("draw.answer.confident", confidence=p)


def percent(p: float) -> str:
    """A confidence in a few characters ('72%', '99%+'), for captions under small pictures."""
    return "99%+" if p >= OVER else f"{p:.0%}"


def headline(prediction: Any) -> str:
    """The answer in one line of Markdown, e.g. '**7** · 98% sure' or 'Not sure this is one digit — best guess
    **7** (64% sure)'."""
    answer = answer_of(prediction)
    sure = confidence_text(prediction.confidence)
    return t(f"draw.verdict.{answer}", digit=prediction.digit, sure=sure)


def plain(prediction: Any) -> str:
    """The headline without Markdown (chart titles)."""
    return headline(prediction).replace("**", "")
