"""Every page in zh-TW shows no English sentence (AppTest), in English no Chinese; the switch and the host's default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.i18n_text import english_words, has_cjk, visible_text, without_names
from ui import i18n

APP = str(Path(__file__).resolve().parent.parent / "ui" / "studio.py")
PAGES = [
    f"../pages/{name}.py" for name in ("home", "train", "evaluate", "draw", "my_drawings", "inside", "board", "lessons")
]
STRAY = 3  # English words allowed per page: terms in brackets after their Chinese name, key names ("Enter")


def _app(lang: str | None, page: str | None = None, locale: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if lang:
        at.query_params[i18n.LANG_PARAM] = lang
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _sentences(text: str) -> list[str]:
    """Runs of three or more English words in a row: a sentence that was not translated."""
    prose = re.sub(r"`[^`]*`|https?://\S+", " ", text)
    runs = re.findall(r"[A-Za-z][A-Za-z'’-]+(?:[ ,]+[A-Za-z][A-Za-z'’-]+){2,}", prose)
    return [run for run in runs if len(english_words(run)) >= 3]


@pytest.fixture(autouse=True)
def _quick_evaluation(monkeypatch, runs_dir):
    monkeypatch.setenv("SIMPLECNN_EVAL_LIMIT", "300")
    monkeypatch.setenv("SIMPLECNN_HOST_PASSWORD", "pw")  # the board shows the host's sign-in too


@pytest.mark.parametrize("page", PAGES)
def test_every_page_in_zh_tw_has_no_english_sentence(page):
    text = without_names(visible_text(_app(i18n.ZH_TW, page)))
    assert has_cjk(text)
    assert not _sentences(text), _sentences(text)
    assert len(english_words(text)) <= STRAY, english_words(text)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_in_english_has_no_chinese(page):
    text = visible_text(_app(i18n.EN, page))
    assert not has_cjk(text), re.findall(r".{0,20}[\u3400-\u9fff].{0,20}", text)[:5]


def test_the_host_controls_speak_chinese():
    at = _app(i18n.ZH_TW, "../pages/board.py")
    at.text_input(key="host_password").input("pw")
    next(b for b in at.button if b.label == "以主持人身分登入").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="host_language") is not None
    text = without_names(visible_text(at))  # the board lists other tests' participants
    assert not _sentences(text) and len(english_words(text)) <= STRAY, english_words(text)


def test_the_sidebar_switch_changes_the_language_and_keeps_it_in_the_url():
    at = _app(None, "../pages/train.py")
    assert at.title[0].value == "Train"
    at.sidebar.segmented_control(key=i18n.LANG_KEY).set_value(i18n.ZH_TW).run()
    assert at.title[0].value == "訓練"
    assert at.query_params[i18n.LANG_PARAM] == i18n.ZH_TW
    at.switch_page("../pages/draw.py").run()  # a page move keeps the choice
    assert at.title[0].value == "手寫"


def test_the_participant_remembers_the_choice_and_the_room_default_applies(monkeypatch):
    from ui import participant

    at = _app(None, "../pages/train.py")  # the Train page makes the participant
    at.sidebar.segmented_control(key=i18n.LANG_KEY).set_value(i18n.ZH_TW).run()
    token = at.query_params[participant.TOKEN_PARAM]
    person = participant.room().find(token)
    assert person is not None and person.language == i18n.ZH_TW
    # The same link without ?lang= (e.g. copied before the switch) finds the participant's choice.
    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params[participant.TOKEN_PARAM] = token
    again.run()
    assert again.title[0].value == "SimpleCNN Studio" and has_cjk(visible_text(again))
    # A visitor with no choice of their own gets the room's default.
    participant.room().set_language(i18n.ZH_TW)
    try:
        assert has_cjk(visible_text(_app(None, "../pages/draw.py")))
    finally:
        participant.room().set_language("")
    assert not has_cjk(visible_text(_app(None, "../pages/draw.py")))
