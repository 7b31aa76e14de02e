"""The room's library: participants and tokens, the host's rules and sign-in, board rows, CSV, comparisons."""

import csv
import io
import time

import pytest

from simplecnn import recipe
from simplecnn.training.events import BatchEnd, EpochEnd, RunEnded, RunStarted, RunStatus
from simplecnn.workshop.board import board_csv, board_rows, leaderboard, settings_diff
from simplecnn.workshop.host import HostGate, SignIn
from simplecnn.workshop.room import CUSTOM, Room, RoomRuleError, RoomRules, clean_name, friendly_name
from simplecnn.workshop.scheduler import TrainingScheduler

TINY = recipe("tutorial", epochs=1, limit_train=256, limit_test=128)


def test_participants_are_found_by_their_private_token_only():
    room = Room()
    a, b = room.join(), room.join("Ada")
    assert a.token != b.token and a.id != b.id and len(a.token) >= 20
    assert room.find(a.token) is a and room.find(b.token) is b
    assert room.find("not-a-token") is None and room.find(None) is None and room.find(a.id) is None
    assert b.name == "Ada" and a.name  # a random friendly default
    assert room.names() == {a.id: a.name, b.id: "Ada"}  # the board sees public ids, never tokens


def test_names_are_one_line_of_plain_text():
    assert clean_name("  <b>Bob</b>\n**x**\x00 ") == "<b>Bob</b> **x**"  # kept as text; pages never render it
    assert len(clean_name("x" * 500)) == 40
    room = Room()
    person = room.join()
    assert room.rename(person, "   ") == person.name and not person.named  # blank: the name stays
    assert room.rename(person, "Grace") == "Grace" and person.named
    assert len(friendly_name().split()) == 3


def test_rules_limit_presets_and_caps():
    rules = RoomRules(allowed_presets=("quick",), max_epochs=2, max_train_images=5000)
    rules.check("quick", TINY)
    with pytest.raises(RoomRuleError, match="presets"):
        rules.check("tutorial", TINY)
    with pytest.raises(RoomRuleError, match="epoch"):
        rules.check("quick", TINY.replace(epochs=3))
    with pytest.raises(RoomRuleError, match="training images"):
        rules.check("quick", TINY.replace(limit_train=0))  # 0 = all 60,000
    capped = rules.cap(recipe("tutorial"))
    assert (capped.epochs, capped.limit_train) == (2, 5000)
    rules.check("quick", capped)
    assert RoomRules(busy_presets=RoomRules().allowed_presets).describe() == []
    assert rules.describe({"quick": "Quick"}) == [
        "Presets allowed: Quick",
        "At most 2 epochs per run",
        "At most 5,000 training images per run",
    ]


def test_while_others_wait_only_quick_starts_unless_the_host_allows_more():
    rules = RoomRules()
    rules.check("tutorial", recipe("tutorial"))  # nobody waiting: any allowed preset
    assert rules.allowed_now(others_waiting=True) == ("quick",)
    with pytest.raises(RoomRuleError, match="while others are waiting"):
        rules.check("tutorial", recipe("tutorial"), others_waiting=True)
    rules.check("quick", recipe("quick"), others_waiting=True)
    assert rules.describe({"quick": "Quick"}) == ["While others are waiting: Quick only"]
    generous = RoomRules(busy_presets=("quick", "tutorial"))
    generous.check("tutorial", recipe("tutorial"), others_waiting=True)


def test_a_finished_run_becomes_its_owners_model():
    room = Room()
    ada, bo = room.join("Ada"), room.join("Bo")
    ada.run_id, bo.run_id = "run-1", "run-2"
    room.adopt_result(ada.id, "run-1", "/runs/a/best.pt")
    room.adopt_result(bo.id, "run-9", "/runs/b/best.pt")  # not Bo's latest run: Bo's choice stays
    room.adopt_result(bo.id, "run-2", None)  # no checkpoint: nothing to use
    assert (ada.model, bo.model) == ("/runs/a/best.pt", None)


def test_host_sign_in_is_rate_limited():
    now = [0.0]
    gate = HostGate("s3cret", clock=lambda: now[0])
    assert gate.sign_in("guess") == SignIn.WRONG
    assert gate.sign_in("s3cret") == SignIn.WAIT  # even the right password waits after a wrong one
    now[0] += 1.01
    assert gate.sign_in("guess2") == SignIn.WRONG
    now[0] += 1.01
    assert gate.sign_in("s3cret") == SignIn.WAIT  # the delay doubled (2 s)
    now[0] += 1.0
    assert gate.sign_in("s3cret") == SignIn.OK
    assert not HostGate("").enabled and HostGate("").sign_in("") == SignIn.WRONG


class ScriptedExecutor:
    """A finished epoch per run, with the accuracy given by the run's seed (a known board)."""

    name = "scripted"

    def execute(self, config, cancel, out_path, probe=None):
        yield RunStarted("fake", False, 256, 128, 4, 4, 1)
        yield BatchEnd(1, 3, 4, 3, 4, 0.5, 0.8, 1e-3, 0.1, None, 192, 0.75)
        acc = config.seed / 100
        yield EpochEnd(1, 1, 0.5, 0.8, 0.4, acc, 1e-3, True, 0, False, 0.2, 0.1, 192, stopped=True)
        yield RunEnded(RunStatus.STOPPED, "stopped", acc, 1, 0.2, None, images=192)


def test_board_rows_leaderboard_and_csv(runs_dir):
    room = Room()
    s = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, executor=ScriptedExecutor())
    try:
        people = [room.join(name) for name in ("Ada", '=HYPERLINK("http://x")', "Cy")]
        runs = [s.submit(p.id, TINY.replace(seed=seed)) for p, seed in zip(people, (97, 99, 98), strict=True)]
        deadline = time.time() + 10
        while any(r.active for r in runs) and time.time() < deadline:
            time.sleep(0.02)
        rows = board_rows(s, room)
        assert [r.run_id for r in rows] == [r.id for r in runs]
        assert [r.status for r in rows] == [RunStatus.STOPPED] * 3  # stopped at 3 of 4 batches, evaluated
        assert [r.owner for r in rows] == [p.id for p in people] and rows[0].progress == 0.75
        assert [r.name for r in leaderboard(rows)] == [people[1].name, "Cy", "Ada"]
        table = list(csv.DictReader(io.StringIO(board_csv(rows))))
        assert len(table) == 3 and table[0]["participant"] == "Ada" and table[0]["best_test_accuracy"] == "0.97"
        # What happened, not the size of the data set: 192 images seen, one evaluation, on 128 test images.
        assert (table[0]["training_images"], table[0]["epochs"], table[0]["test_images"]) == ("192", "1", "128")
        assert table[0]["status"] == "stopped"
        assert table[1]["participant"].startswith("'=")  # a spreadsheet shows it, never runs it
        assert not any(p.token in board_csv(rows) for p in people)
        room.clear_board()
        assert board_rows(s, room) == []
    finally:
        s.shutdown()


def test_settings_diff_lists_what_differs():
    a, b = recipe("tutorial"), recipe("fast")
    diff = {name: (x, y) for name, x, y in settings_diff(a, b)}
    assert diff["epochs"] == (15, 1) and diff["schedule"] == ("step", "onecycle") and "seed" not in diff
    assert settings_diff(a, a.replace(report_every=3)) == []
    assert CUSTOM == "custom"


def test_report_interval_scales_with_run_length():
    from simplecnn.workshop.room import live_report_every

    assert live_report_every(recipe("fast")) == 6  # 938 batches: ~150 reports
    assert live_report_every(recipe("tutorial")) == 46  # 15 x 469 batches: ~150 reports
    assert live_report_every(recipe("fast", limit_train=1000)) == 1  # 16 batches: every one (probe chart)


def test_live_figures_are_thinned_plain_dicts():
    from simplecnn.figures import room as room_plots

    n = 1000
    batches = {"x": [i / n for i in range(n)], "loss": [1.0] * n, "accuracy": [0.5] * n}
    epochs = {"epoch": [1], "test_loss": [0.3], "test_accuracy": [0.9]}
    spec = room_plots.live_curve("loss", batches, epochs)
    assert len(spec["data"][0]["x"]) <= room_plots.LIVE_POINTS and spec["data"][0]["x"][-1] == batches["x"][-1]
    assert spec["data"][1]["y"] == [0.3]
    empty = room_plots.live_curve("accuracy", {"x": [], "loss": [], "accuracy": []}, {})
    assert empty["data"] and empty["data"][0]["x"] == []  # plotly refuses a figure without traces
    probe = room_plots.live_probe({"x": batches["x"], "p": [[0.1] * 10] * n})
    assert len(probe["data"]) == 10 and all(len(t["y"]) <= room_plots.LIVE_POINTS for t in probe["data"])


def test_the_overlay_names_runs_whole_and_keeps_its_accuracy_axis_in_range():
    from simplecnn.figures import room as room_plots

    name = "<b>a name longer than fifteen characters</b> · run 1"
    batches = {"x": [0.1, 0.2], "loss": [2.0, 1.5]}
    fresh = room_plots.overlay([(name, batches, {})])
    assert fresh.layout.hoverlabel.namelength == -1 and "&lt;b&gt;" in fresh.data[0].name
    assert list(fresh.layout.yaxis2.range) == [0, 1]  # no evaluation yet: 0-100 %, not a made-up -100 %
    measured = room_plots.overlay([(name, batches, {"epoch": [1], "test_accuracy": [0.97]})])
    assert measured.layout.yaxis2.range is None  # evaluated: the axis fits the points
