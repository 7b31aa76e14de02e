"""AppTest checks of issue 28's pages: label a drawing on Draw, My drawings (list, delete, consent, downloads),
the fine-tune from the app with its before/after, take a model home, a run's read-only link."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "ui" / "studio.py")
DRAW, MINE, BOARD = "../pages/draw.py", "../pages/my_drawings.py", "../pages/board.py"


@pytest.fixture()
def drawings_file(tmp_path, runs_dir, monkeypatch):
    path = tmp_path / "drawings.sqlite"
    monkeypatch.setenv("SIMPLECNN_DRAWINGS", str(path))
    monkeypatch.setenv("SIMPLECNN_EVAL_LIMIT", "300")
    return path


def _png_of_a_one() -> bytes:
    from PIL import Image

    image = Image.new("L", (280, 280), 0)
    image.paste(255, (130, 40, 150, 240))  # a thick vertical bar: a "1"
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _open(page: str, token: str | None = None, lang: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if token:
        at.query_params["p"] = token
    if lang:
        at.query_params["lang"] = lang
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _draw_a_one(at: AppTest) -> None:
    at.segmented_control(key="draw_mode").set_value("upload").run()
    at.file_uploader(key="draw_upload").upload("one.png", _png_of_a_one(), "image/png").run()
    assert not at.exception, at.exception


def _rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, label, predicted FROM drawings ORDER BY id").fetchall()


def test_one_tap_keeps_the_drawing_a_second_tap_relabels_it(drawings_file):
    at = _open(DRAW)
    _draw_a_one(at)
    assert at.button(key="personal_label_1").proto.type == "primary"  # the model's answer stands out
    at.button(key="personal_label_7").click().run()
    assert not at.exception, at.exception
    assert [(label, said) for _, label, said in _rows(drawings_file)] == [(7, 1)]
    assert any("Kept as a 7" in s.value for s in at.success)
    at.button(key="personal_label_1").click().run()  # a second tap changes the label, it adds nothing
    assert [(label, said) for _, label, said in _rows(drawings_file)] == [(1, 1)]


def test_my_drawings_lists_deletes_one_and_all(drawings_file):
    at = _open(DRAW)
    _draw_a_one(at)
    at.button(key="personal_label_1").click().run()
    token = at.query_params["p"]  # labelling made this visitor a participant
    mine = _open(MINE, token)
    assert "1 of at most 500" in " ".join(c.value for c in mine.caption)
    first = _rows(drawings_file)[0][0]
    mine.toggle(key="personal_consent").set_value(True).run()
    assert not mine.exception, mine.exception
    with sqlite3.connect(drawings_file) as db:
        assert db.execute("SELECT pooled FROM consent").fetchall() == [(1,)]
    mine.button(key=f"personal_delete_{first}").click().run()
    assert _rows(drawings_file) == []
    assert any("No labelled drawings yet" in i.value for i in mine.info)


def test_a_damaged_store_is_a_clear_message_not_a_traceback(drawings_file):
    drawings_file.write_bytes(b"this is not a database" * 100)
    at = _open(MINE)
    assert not at.exception
    assert "damaged" in at.error[0].value


def _person_id(token: str) -> str:
    from ui import participant

    person = participant.room().find(token)
    assert person is not None
    return person.id


def _add_drawings(path: Path, person_id: str, n: int = 12) -> None:
    import numpy as np

    from simplecnn.personal.store import DrawingStore

    rng = np.random.default_rng(0)
    store = DrawingStore(path)
    for i in range(n):
        store.add(person_id, "room", i % 10, rng.integers(0, 256, (28, 28), dtype=np.uint8))
    store.close()


def test_a_fine_tune_starts_from_my_drawings_as_a_run_and_stops(drawings_file):
    from ui import resources

    mine = _open(MINE)
    token = mine.query_params["p"]
    _add_drawings(drawings_file, _person_id(token))
    mine.run()
    assert "Fine-tuning starts from the model in use" in " ".join(c.value for c in mine.caption)
    mine.segmented_control(key="personal_ft_budget").set_value(15).run()
    mine.button(key="personal_ft_start").click().run()
    assert not mine.exception, mine.exception
    run = resources.scheduler().get(mine.session_state["train_run_id"])
    assert run is not None and run.finetune is not None and run.config.budget == 15
    assert len(run.finetune.train_labels) + len(run.finetune.held_labels) == 12
    assert mine.button(key="personal_ft_start").disabled  # one run at a time
    train = _open("../pages/train.py", token)  # the same run machinery: the Train page rejoins it
    assert train.button(key="train_stop")
    mine.button(key="personal_ft_stop").click().run()
    assert run.cancel.is_set() or not run.active


def test_take_home_offers_the_pt_and_says_which_onnx_packages_are_missing(drawings_file, monkeypatch):
    from simplecnn.personal import export

    monkeypatch.setattr(export, "ONNX_PACKAGES", (*export.ONNX_PACKAGES, "no_such_onnx_helper"))
    at = _open(MINE)
    assert at.selectbox(key="personal_export_model").value == "shipped:" + str(ROOT / "checkpoints" / "simplecnn.pt")
    assert [b for b in at.get("download_button") if b.proto.id and "personal_export_pt" in b.proto.id]
    assert any("no_such_onnx_helper" in i.value and ".pt download works" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "personal_export_make"]


class _InstantExecutor:
    """Stands in for training: the run "ends" at once with a copy of the shipped checkpoint (and, for a
    fine-tune, a BeforeAfter in which the first held-out drawing's answer changed), so page logic is tested
    without spending the test's time on training."""

    def execute(self, config, cancel, out, probe=None, finetune=None):
        import shutil

        from simplecnn.checkpoint import DEFAULT_CHECKPOINT
        from simplecnn.training.events import BeforeAfter, EpochEnd, RunEnded, RunStatus

        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEFAULT_CHECKPOINT, out)
        yield EpochEnd(1, 1, 0.1, 0.97, 0.05, 0.99, 1e-3, True, 0, False, 1.0, 1.0)
        if finetune is not None:
            name, label = finetune.held_names[0], finetune.held_labels[0]
            yield BeforeAfter(len(finetune.held_labels), 0.25, 0.75, 0.995, 0.994, 1000, ((name, label, 9, label),))
        yield RunEnded(RunStatus.COMPLETED, "done", 0.99, 1, 1.0, out)


@pytest.fixture()
def instant_runs(monkeypatch):
    from ui import resources

    monkeypatch.setattr(resources.scheduler(), "executor", _InstantExecutor())


def _finish(run_id: str) -> None:
    import time

    from ui import resources

    run = resources.scheduler().get(run_id)
    deadline = time.time() + 60
    while run is not None and run.active and time.time() < deadline:
        time.sleep(0.1)
    assert run is not None and not run.active and run.checkpoint


def _train_small(at: AppTest) -> str:
    from ui import resources

    at.button(key="train_start").click().run()
    _finish(at.session_state["train_run_id"])
    run = resources.scheduler().get(at.session_state["train_run_id"])
    assert run is not None
    return run.share


def test_the_before_after_shows_held_out_mnist_and_the_changed_drawings(drawings_file, instant_runs):
    mine = _open(MINE)
    _add_drawings(drawings_file, _person_id(mine.query_params["p"]))
    mine.run()
    mine.button(key="personal_ft_start").click().run()
    _finish(mine.session_state["train_run_id"])
    mine.run()
    assert not mine.exception, mine.exception
    shown = {m.label: m.value for m in mine.metric}
    assert shown["Your held-out drawings (9)"] == "25% → 75%"
    assert shown["MNIST test images (1,000)"] == "99.50% → 99.40%"
    assert any("1 held-out drawing changed its answer (1 now right)" in c.value for c in mine.caption)
    assert any(x.value.endswith("9 → " + x.value[0] + " ✓") for x in mine.text)  # the drawing, before → after
    if any(b.key == "personal_ft_use" for b in mine.button):  # a finished run is already the model in use
        mine.button(key="personal_ft_use").click().run()
    assert _reads_with_a_run(mine)  # Draw now reads with the fine-tuned model


def _reads_with_a_run(at: AppTest) -> bool:
    """Draw names the model in use under its answer: a run's name, not the shipped model's."""
    at.switch_page("../pages/draw.py").run()
    captions = " ".join(c.value for c in at.caption)
    return "Model:" in captions and "Shipped model" not in captions


def test_a_shared_link_is_read_only_and_dies_with_the_run(drawings_file, instant_runs):
    owner = _open("../pages/train.py")
    key = _train_small(owner)
    mine = _open(MINE, owner.query_params["p"])
    links = [c.value for c in mine.code]
    assert links == [f"/board?run={key}"] and "p=" not in links[0]  # never the owner's private token
    stranger = AppTest.from_file(APP, default_timeout=120)
    stranger.query_params["run"] = key
    stranger.run()
    stranger.switch_page(BOARD).run()
    assert not stranger.exception, stranger.exception
    assert [t.value for t in stranger.title] == ["A shared training run"]
    assert {b.key for b in stranger.button} == {"shared_open_draw"}  # no Stop, no Delete, no host controls
    assert {m.label for m in stranger.metric} >= {"Best test accuracy", "Training time"}
    stranger.button(key="shared_open_draw").click().run()
    assert not stranger.exception, stranger.exception
    assert [t.value for t in stranger.title] == ["Draw"]  # Draw, with the run's model
    assert _reads_with_a_run(stranger)
    number = owner.session_state["train_run_id"].removeprefix("run-")
    mine.button(key=f"personal_share_delete_{number}").click().run()
    assert any("no longer works" in s.value for s in mine.success)
    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params["run"] = key
    again.run()
    again.switch_page(BOARD).run()
    assert "no longer works" in again.error[0].value


def test_after_a_restart_the_same_link_finds_the_same_drawings(drawings_file):
    from ui import participant

    at = _open(DRAW)
    _draw_a_one(at)
    at.button(key="personal_label_4").click().run()
    token = at.query_params["p"]
    participant.room.clear()  # a new server process: the room forgets everyone, the drawings file stays
    assert participant.room().find(token) is None
    mine = _open(MINE, token)
    assert "1 of at most 500" in " ".join(c.value for c in mine.caption)
    assert mine.query_params["p"] == token  # the same participant, not a new one
