"""The answer's words (ui/verdict.py): the digit check's three answers, and confidences that never say 100%."""

from __future__ import annotations

import pytest

from simplecnn.inference.digitcheck import Verdict
from simplecnn.inference.predict import Prediction
from ui import verdict


def _prediction(answer: Verdict, top: float) -> Prediction:
    probabilities = [(1 - top) / 9] * 10
    probabilities[7] = top
    return Prediction(7, probabilities, answer is not Verdict.NOT_DIGIT, "", answer, 0.0)


@pytest.mark.parametrize(
    "answer,top,expected",
    [
        (Verdict.DIGIT, 0.9999, "**7** · over 99% sure"),
        (Verdict.DIGIT, 0.984, "**7** · 98% sure"),
        (Verdict.UNSURE, 0.64, "Not sure this is one digit — best guess **7** (64% sure)."),
        (Verdict.NOT_DIGIT, 0.4, "That doesn't look like one digit — best guess **7** (40% sure)."),
    ],
)
def test_each_answer_reads_the_same_wherever_it_shows(answer, top, expected):
    prediction = _prediction(answer, top)
    assert verdict.answer_of(prediction) == answer.value
    assert verdict.headline(prediction).startswith(expected)
    assert "**" not in verdict.plain(prediction) and "100%" not in verdict.headline(prediction)


def test_a_prediction_without_the_check_is_a_digit_or_not_by_its_flag():
    assert verdict.answer_of(Prediction(3, [0.1] * 10)) == verdict.DIGIT
    assert verdict.answer_of(Prediction(3, [0.1] * 10, looks_like_digit=False)) == verdict.NOT_DIGIT


def test_short_percentages_never_round_up_to_100():
    assert verdict.percent(0.9996) == "99%+" and verdict.percent(0.72) == "72%"
