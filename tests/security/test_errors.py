"""No traceback reaches the CLI's user: a failure nobody foresaw is one line with an error id, the traceback
goes to the log; a participant forgotten by a flood of visits keeps their name on the board."""

from __future__ import annotations

import pytest

from simplecnn import cli
from simplecnn.training.config import RECIPES
from simplecnn.workshop import room as room_module
from simplecnn.workshop.board import board_rows
from simplecnn.workshop.room import Room
from simplecnn.workshop.scheduler import TrainingScheduler


def test_an_unforeseen_failure_is_one_line_with_an_error_id(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("/secret/server/path went wrong")

    monkeypatch.setattr(cli, "cmd_evaluate", broken)
    assert cli.main(["evaluate"]) == 2
    out = capsys.readouterr()
    assert out.err.startswith("error: unexpected failure (error id ") and len(out.err.strip().splitlines()) == 1
    assert "/secret" not in out.err + out.out and "Traceback" not in out.err + out.out


@pytest.fixture()
def small_room(monkeypatch):
    monkeypatch.setattr(room_module, "MAX_PARTICIPANTS", 50)
    return Room()


def test_a_flood_of_visits_forgets_only_visits(small_room, tmp_path):
    sched = TrainingScheduler(max_concurrent=1, runs_root=tmp_path)
    sched.set_paused(True)
    try:
        trained = small_room.join("Real person")
        run = sched.submit(trained.id, RECIPES["quick"], owner_name=trained.name)
        trained.run_id = run.id
        named = small_room.join("Named")
        named.named = True
        for _ in range(5000):  # 5,000 new visits
            small_room.join()
        assert small_room.find(trained.token) is trained and small_room.find(named.token) is named
        (row,) = board_rows(sched, small_room)
        assert row.name == "Real person"
    finally:
        sched.shutdown(1)
