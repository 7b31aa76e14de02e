"""The Lessons page (AppTest): every lesson opens, and the numbers it shows come from the model and data in use
(switching the model or the data changes them); the training lessons run with tiny budgets; LeNet-5 on the Train
form, the board, Evaluate, Draw and Inside."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from simplecnn import settings
from simplecnn.checkpoint import save_checkpoint
from simplecnn.model import LeNet5
from ui import lessons, lessons_runs
from ui.models import MODEL_PARAM

APP = str(Path(__file__).resolve().parent.parent / "ui" / "studio.py")
PAGE = "../pages/lessons.py"
TINY = lessons_runs.Budgets(
    race_seconds=60,
    race_steps=3,
    race_test_images=100,
    overfit_seconds=60,
    overfit_epochs=2,
    overfit_train_images=64,
    overfit_test_images=100,
    compare_seconds=2,
    compare_train_images=500,
    compare_test_images=200,
)


@pytest.fixture(autouse=True)
def _small(monkeypatch, runs_dir):
    monkeypatch.setenv("SIMPLECNN_EVAL_LIMIT", "100")
    monkeypatch.setattr(lessons_runs, "BUDGETS", TINY)


@pytest.fixture(scope="module")
def lenet5_checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    return str(save_checkpoint(tmp_path_factory.mktemp("lenet") / "best.pt", LeNet5().state_dict()))


def _open(lesson: str, checkpoint: str | None = None, page: str = PAGE) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    if checkpoint:  # the model in use comes from the link, as when a page opens another (ui.models)
        folder = settings.runs_dir() / "lenet5-test"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(checkpoint, folder / "best.pt")
        at.query_params[MODEL_PARAM] = folder.name
    at.query_params[lessons.LESSON_PARAM] = lesson
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    if page == PAGE:
        assert at.selectbox(key=lessons.LESSON_KEY).value == lesson
        assert at.code, "the tutorial's code is beside the result"
    return at


def _metric(at: AppTest, label_start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label_start))


def _table(at: AppTest, column: str) -> list:
    frames = [df.value for df in at.dataframe if column in df.value.columns]
    assert frames, [list(df.value.columns) for df in at.dataframe]
    return list(frames[0][column])


def test_shapes_follow_the_model(lenet5_checkpoint):
    simple = _open("shapes")
    assert _metric(simple, "SimpleCNN") == "467,818"
    assert _table(simple, "params")[0] == 320  # conv1: 1·32·3·3 + 32
    lenet = _open("shapes", lenet5_checkpoint)
    assert _metric(lenet, "LeNet-5") == "61,706"
    assert sum(_table(lenet, "params")) == 61_706


def test_padding_sliders_are_checked_by_a_real_conv():
    at = _open("shapes")
    assert _metric(at, "The formula") == "28" and _metric(at, "A real nn.Conv2d") == "28"
    at.slider(key="lesson_pad_padding").set_value(0).run()
    at.slider(key="lesson_pad_stride").set_value(2).run()
    assert _metric(at, "The formula") == "13" and _metric(at, "A real nn.Conv2d") == "13"


def test_modes_and_no_grad_are_measured_on_the_model(lenet5_checkpoint):
    trained, untrained = _open("modes"), _open("modes", lenet5_checkpoint)
    assert _metric(trained, "Accuracy in eval mode") != _metric(untrained, "Accuracy in eval mode")
    with_grad = [m.value for m in _open("no_grad").metric if m.label.startswith("Peak")]
    lenet = [m.value for m in _open("no_grad", lenet5_checkpoint).metric if m.label.startswith("Peak")]
    assert len(with_grad) == 2 and with_grad != lenet


def test_loss_parts_change_with_the_test_image():
    at = _open("loss")
    first = _metric(at, "CrossEntropyLoss")
    assert first == _metric(at, "NLLLoss")
    at.number_input(key="lesson_loss_index").set_value(8).run()  # a hard 5 the shipped model is unsure of
    assert _metric(at, "CrossEntropyLoss") != first


def test_zero_grad_accumulates_on_the_model_in_use(lenet5_checkpoint):
    at = _open("mistakes")
    ratios = _table(at, "ratio")
    assert ratios == pytest.approx([1, 2, 3], rel=1e-4)
    assert _table(at, "grad") != _table(_open("mistakes", lenet5_checkpoint), "grad")


def test_layouts_follow_the_batch_and_the_model(lenet5_checkpoint):
    at = _open("layouts")
    assert "(128, 64, 7, 7)" in _table(at, "shape")
    at.number_input(key="lesson_layouts_batch").set_value(4).run()
    assert "(4, 64, 7, 7)" in _table(at, "shape")
    assert "(128, 16, 5, 5)" in _table(_open("layouts", lenet5_checkpoint), "shape")


def _start_and_wait(at: AppTest, name: str, done, seconds: float = 120) -> None:
    """Press the lesson's Start, then rerun the page (as its polling fragment would) until `done(at)`."""
    at.button(key=f"lesson_{name}_start").click().run()
    deadline = time.monotonic() + seconds
    while not done(at):
        assert not at.exception, at.exception
        assert time.monotonic() < deadline, f"the {name} lesson did not finish"
        time.sleep(0.5)  # the lesson trains in a background thread meanwhile
        at.run()


def _run_to_the_end(at: AppTest, name: str, column: str, seconds: float = 120) -> list:
    _start_and_wait(at, name, lambda at: any(column in df.value.columns for df in at.dataframe), seconds)
    return _table(at, column)


def test_the_softmax_race_trains_and_reports_test_accuracy():
    at = _open("loss")
    _start_and_wait(at, "race", lambda at: any(m.label == "Correct loop" for m in at.metric))
    assert _metric(at, "Correct loop").endswith("%")
    assert _metric(at, "Softmax at the end").endswith("%")


def test_overfit_remedies_change_the_curves():
    at = _open("overfit")
    plain = _run_to_the_end(at, "overfit", "train")
    at.slider(key="lesson_of_conv").set_value(0.0).run()
    at.toggle(key="lesson_of_augment").set_value(False).run()
    assert not at.dataframe or "train" not in at.dataframe[0].value.columns  # other settings: not run yet
    changed = _run_to_the_end(at, "overfit", "train")
    assert plain[1] != changed[1]  # the remedies row
    assert plain[0] == changed[0]  # the run without remedies is seeded: the same both times


def test_the_comparison_shows_both_networks_measured_here():
    at = _open("lenet5")
    accuracy = _run_to_the_end(at, "compare", "accuracy", seconds=180)
    assert _table(at, "parameters") == [61_706, 467_818]
    assert all(0 <= a <= 1 for a in accuracy)
    assert all(n > 0 for n in _table(at, "images"))


def test_the_train_form_offers_lenet5_with_its_own_recipe():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("../pages/train.py").run()
    lr = at.number_input(key="tf_lr").value
    at.radio(key="tf_model").set_value("lenet5").run()
    assert not at.exception, at.exception
    assert at.number_input(key="tf_lr").value == pytest.approx(1e-2) != lr
    assert any("Quick" in c.value and "LeNet" not in c.value for c in at.caption)  # still the Quick preset


@pytest.mark.parametrize("page", ["evaluate", "draw", "inside", "board"])
def test_lenet5_on_the_other_pages(page, lenet5_checkpoint):
    at = _open("shapes", lenet5_checkpoint, page=f"../pages/{page}.py")
    assert not at.error, [e.value for e in at.error]


def test_the_app_trains_lenet5_and_draws_with_it(runs_dir):

    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("../pages/train.py").run()
    at.radio(key="tf_model").set_value("lenet5").run()
    at.number_input(key="tf_limit_train").set_value(512)
    at.number_input(key="tf_limit_test").set_value(256)
    at.number_input(key="tf_epochs").set_value(1)
    at.number_input(key="tf_budget").set_value(0.0).run()
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 120
    done = {"train_use_model", "train_switch_back"}  # a finished run is the model in use, or one tap from it
    while at.button(key="train_start").disabled or not any(b.key in done for b in at.button):
        assert time.monotonic() < deadline, "the LeNet-5 run did not finish"
        time.sleep(1)
        at.run()
        assert not at.exception, at.exception
    if any(b.key == "train_use_model" for b in at.button):
        at.button(key="train_use_model").click().run()
    at.switch_page("../pages/draw.py").run()  # Evaluate and Inside with a LeNet-5: test_lenet5_on_the_other_pages
    assert not at.exception, at.exception
    assert "LeNet-5" in " ".join(c.value for c in at.caption)
