"""AppTest checks of the workshop room: a run follows its participant's link, the class board, the host."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from simplecnn.settings import HOST_PASSWORD
from simplecnn.workshop.room import RoomRules
from tests.support.i18n_text import english_words, has_cjk, visible_text, without_names
from ui import i18n

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "ui" / "studio.py")


def _open(page: str, token: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if token:
        at.query_params["p"] = token
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "success", "error", "text", "subheader")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def _start_small(at: AppTest, budget: float = 0.0) -> str:
    """Start a run of 512 training images: one epoch (a second or two), or for `budget` seconds (Quick's clock)."""
    at.number_input(key="tf_limit_train").set_value(512)
    at.number_input(key="tf_limit_test").set_value(256)
    at.number_input(key="tf_budget").set_value(budget)
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    return at.session_state["train_run_id"]


def _wait_finished(at: AppTest, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.5)
        at.run()
        # (A run that ends mid-script reruns the page; skip a tree caught in between.)
        start = [b for b in at.button if b.key == "train_start"]
        if start and not start[0].disabled:
            return
    pytest.fail("the run did not finish in time")


@pytest.fixture()
def room_env(runs_dir, monkeypatch):
    monkeypatch.delenv(HOST_PASSWORD.name, raising=False)
    yield
    from ui import participant, resources  # undo what a test's host did to the process-wide room

    resources.scheduler().set_paused(False)
    participant.room().set_rules(RoomRules())


def test_the_link_rejoins_the_run_and_a_stranger_cannot_stop_it(room_env):
    mine = _open("../pages/train.py")
    assert mine.segmented_control(key="train_preset").value == "quick"  # Quick is the default
    token = mine.query_params["p"]
    run_id = _start_small(mine, budget=30.0)  # still training while the others look; stopped below
    # A reload / reconnect / new tab / phone: a new session with the same link.
    again = _open("../pages/train.py", token)
    assert f"Run {run_id.removeprefix('run-')}" in _texts(again)
    assert again.button(key="train_stop").label == "Stop"
    assert again.number_input(key="tf_limit_train").value == 512  # the settings came along
    assert again.query_params["p"] == token
    # Someone else: no Stop; the run is on the board under the participant's name.
    stranger = _open("../pages/train.py")
    assert stranger.query_params["p"] != token
    assert not [b for b in stranger.button if b.key == "train_stop"]
    board = _open("../pages/board.py")
    names = list(board.dataframe[0].value["participant"])
    assert mine.text_input(key="train_name").value in names
    again.button(key="train_stop").click().run()
    _wait_finished(again)
    assert not again.exception


def test_an_unknown_link_gets_a_new_participant(room_env):
    at = _open("../pages/train.py", "no-such-token")
    assert at.query_params["p"] != "no-such-token"
    assert "not known to this server" in _texts(at)


def test_board_overlays_two_runs_and_compares_them(room_env):
    runs = []
    for seed, name in enumerate(("Ada", "<script>alert(1)</script>")):
        at = _open("../pages/train.py")
        at.text_input(key="train_name").set_value(name).run()
        at.number_input(key="tf_seed").set_value(seed)
        runs.append(_start_small(at))
        _wait_finished(at)
        # Watch it learn: the picked test digit's ten probabilities over the run, one point per report.
        probe = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "How it reads" in c.proto.spec]
        assert probe and len(probe[0]["data"]) == 10 and len(probe[0]["data"][0]["x"]) >= 5
    board = _open("../pages/board.py")
    table = board.dataframe[0].value
    assert "<script>alert(1)</script>" in list(table["participant"])  # shown as a cell's text
    assert not any("<script>" in m.value for m in board.markdown)  # never as markdown
    board.multiselect(key="board_selected").set_value(runs).run()
    assert not board.exception, board.exception
    charts = [c for c in board.get("plotly_chart")]
    assert len(charts) >= 2  # overlay + per-digit
    diff = [d.value for d in board.dataframe if "setting" in d.value.columns]
    assert diff and list(diff[0]["setting"]) == ["Seed"] and set(diff[0].columns) == {"setting", "a", "b"}
    assert len(board.metric) == 2
    assert board.get("download_button")
    # The same finished run and comparison in Chinese: no English sentence on the Train page or the board.
    for page in (at, board):
        page.sidebar.segmented_control(key=i18n.LANG_KEY).set_value(i18n.ZH_TW).run()
        assert not page.exception, page.exception
        text = without_names(visible_text(page))  # participants' names are theirs, in any language
        assert has_cjk(text) and len(english_words(text)) <= 3, english_words(text)


def test_no_host_controls_without_a_password(room_env):
    board = _open("../pages/board.py")
    assert not [e for e in board.expander if "Host" in e.label]
    assert not [t for t in board.text_input if t.key == "host_password"]


def test_host_signs_in_sets_rules_and_cancels_a_run(room_env, monkeypatch):
    password = f"pw-{uuid.uuid4().hex}"
    monkeypatch.setenv(HOST_PASSWORD.name, password)
    host = _open("../pages/board.py")
    host.text_input(key="host_password").set_value("wrong")
    host.button[0].click().run()  # the form's submit button
    assert "Wrong password." in _texts(host) and not [b for b in host.button if b.key == "host_apply"]
    host.text_input(key="host_password").set_value(password)
    host.button[0].click().run()
    assert "Too many wrong tries" in _texts(host)  # rate-limited, even when right
    time.sleep(1.1)
    host.text_input(key="host_password").set_value(password)
    host.button[0].click().run()
    assert host.button(key="host_apply")

    host.toggle(key="host_paused").set_value(True).run()  # the participant's run stays queued
    participant = _open("../pages/train.py")
    run_id = _start_small(participant)
    assert "Queued" in _texts(participant) and "paused" in _texts(participant)

    host.multiselect(key="host_presets").set_value(["quick"])
    host.number_input(key="host_max_epochs").set_value(1)
    host.button(key="host_apply").click().run()
    participant.run()
    assert "Presets allowed: Quick · 30 s" in _texts(participant)
    assert [o for o in participant.segmented_control(key="train_preset").options if o.startswith("Tutorial")] == []

    host.run()
    host.button(key=f"host_cancel_{run_id}").click().run()
    participant.run()
    assert "cancelled by the host" in _texts(participant)
