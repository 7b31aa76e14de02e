"""The budgets as the pages apply them (AppTest): host sign-in throttled per browser, runs queued per browser, the
batch size within the host's memory allowance. Each AppTest is its own browser (it sends no cookie), unless a
test makes several share one."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from simplecnn.settings import HOST_PASSWORD
from simplecnn.training.config import TrainConfig
from simplecnn.visitors import Client
from simplecnn.workshop.scheduler import CancelReason, Quota

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "ui" / "studio.py")
LINK = '<a href="https://example.com/">CLICK</a>'
HUGE = '<span style="font-size:200px">BIG</span>'


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.text, *at.markdown, *at.caption, *at.error, *at.warning, *at.info])


@pytest.fixture()
def room(runs_dir, monkeypatch):
    from ui import resources

    sched = resources.scheduler()
    quota, memory = sched.quota, sched.memory_limit_mb
    yield sched
    for run in sched.runs():
        if run.active:
            sched.cancel(run.id, CancelReason.HOST)
    sched.set_paused(False)
    sched.set_quota(quota)
    sched.set_memory_limit(memory)


def test_a_wrong_password_loop_in_one_browser_never_locks_out_the_host(room, monkeypatch):
    password = f"pw-{uuid.uuid4().hex}"
    monkeypatch.setenv(HOST_PASSWORD.name, password)
    guesser = _open("../pages/board.py")
    for _ in range(8):  # each wrong try doubles this browser's wait (1, 2, 4 … s): soon it must wait
        guesser.text_input(key="host_password").set_value("guess")
        guesser.button[0].click().run()  # the form's submit button
        if "Too many wrong tries from this browser" in _texts(guesser):
            break
    else:
        pytest.fail("a wrong-password loop was never slowed down")
    host = _open("../pages/board.py")  # another browser, at once
    host.text_input(key="host_password").set_value(password)
    host.button[0].click().run()
    assert not host.exception and host.button(key="host_apply")  # signed in
    assert host.number_input(key="host_run_memory").value == int(room.memory_limit_mb)
    assert host.number_input(key="host_per_browser").value == room.quota.per_browser


def test_one_browser_queues_at_most_its_cap_and_a_participant_after_it_is_next(room, monkeypatch):
    from ui import visitor

    room.set_paused(True)  # every run stays queued
    room.set_quota(Quota(per_browser=2, per_address=8))
    flood = Client("xsrf:one-browser")
    monkeypatch.setattr(visitor, "client", lambda: flood)
    pages = [_open("../pages/train.py") for _ in range(4)]  # four tabs of one browser
    for at in pages:
        at.button(key="train_start").click().run()
        assert not at.exception, at.exception
    queued = [r for r in room.runs() if r.active and r.client == flood]
    assert len(queued) == 2
    assert "this browser already has 2 runs queued or training" in _texts(pages[-1])
    monkeypatch.setattr(visitor, "client", lambda: Client("xsrf:a-participant"))
    participant = _open("../pages/train.py")
    participant.button(key="train_start").click().run()
    mine = [r for r in room.runs() if r.active and r.client == Client("xsrf:a-participant")]
    assert len(mine) == 1 and room.queue_position(mine[0].id) <= 3


def test_the_batch_size_stays_within_the_hosts_memory_allowance(room):
    room.set_memory_limit(400)
    at = _open("../pages/train.py")
    state = at.session_state
    like = TrainConfig(augment=bool(state["tf_augment"]), limit_test=int(state["tf_limit_test"]))
    largest = room.largest_batch(like)
    assert at.number_input(key="tf_batch_size").max == largest < 8192
    at.number_input(key="tf_batch_size").set_value(largest).run()
    room.set_memory_limit(300)  # the host lowers it: the form follows, nothing breaks
    at.run()
    assert not at.exception and at.number_input(key="tf_batch_size").value == room.largest_batch(like)


def test_a_name_that_is_a_link_stays_text_in_the_boards_table_picker_and_charts(room):
    from ui import participant

    room.set_paused(True)
    people = [participant.room().join(name) for name in (LINK, HUGE)]
    runs = [room.submit(p.id, TrainConfig(limit_train=256, limit_test=256, epochs=1)) for p in people]
    board = _open("../pages/board.py")
    assert LINK in list(board.dataframe[0].value["participant"])  # a cell's text
    board.multiselect(key="board_selected").set_value([r.id for r in runs]).run()
    assert not board.exception, board.exception
    specs = [c.proto.spec for c in board.get("plotly_chart")]
    assert specs and all("<a " not in spec and "<span" not in spec for spec in specs)
    assert any("&lt;a href=" in spec for spec in specs)  # the legend shows the name as typed
    assert not any("<a " in m.value or "<span" in m.value for m in [*board.markdown, *board.caption])
