"""One model in use per visitor (ui/models.py): every page and every link explains the same model."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import torch
from streamlit.testing.v1 import AppTest

from simplecnn.training.events import RunStatus
from ui import resources

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "ui" / "studio.py")


def _image_lists(at: AppTest) -> list:
    found = []

    def walk(node) -> None:
        if getattr(node, "type", None) == "image":
            found.append(node.proto)
        children = getattr(node, "children", None) or {}
        for child in children.values() if isinstance(children, dict) else children:
            walk(child)

    walk(at._tree)
    return found


def _own_run(runs_dir: Path, owner: str) -> Path:
    """A run of this participant: the shipped weights, nudged so its answers differ from the shipped model's."""
    from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, save_checkpoint

    state = load_checkpoint(DEFAULT_CHECKPOINT).state_dict
    generator = torch.Generator().manual_seed(0)
    nudged = {
        k: v + 0.02 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
        for k, v in state.items()
    }
    path = runs_dir / f"20261203-101500-{owner}-a1b2c3" / "best.pt"
    save_checkpoint(path, nudged, config={"recipe": "quick"}, metrics={"best_test_acc": 0.95})
    return path


@pytest.fixture()
def app(runs_dir, monkeypatch):
    monkeypatch.setenv("SIMPLECNN_EVAL_LIMIT", "300")
    return AppTest.from_file(APP, default_timeout=300)


def test_an_evaluate_image_opens_the_inside_view_of_the_same_model_and_participant(app, runs_dir):
    from ui import participant

    person = participant.room().join("Ada")  # their private link: ?p=<token>
    token = person.token
    run = _own_run(runs_dir, person.id)
    app.query_params["p"] = token
    app.switch_page("../pages/evaluate.py").run()
    assert any(o.startswith("Yours: Quick run of") for o in app.selectbox(key="eval_source").options)
    app.selectbox(key="eval_source").set_value(f"run:{run}").run()
    assert not app.exception, app.exception
    images = [lst for lst in _image_lists(app) if lst.link.startswith("inside?")]
    assert images, "the cell images link to their inside view"
    link = images[0]
    query = parse_qs(urlparse(link.link).query)
    assert query["p"] == [token] and query["model"] == [run.parent.name]  # the participant and the model travel
    shown = re.search(r"read as (\d) \((\d+)%", link.imgs[0].alt)
    assert shown is not None, link.imgs[0].alt

    # The new tab: a fresh session that only has the link.
    tab = AppTest.from_file(APP, default_timeout=300)
    for name, values in query.items():
        tab.query_params[name] = values[0]
    tab.switch_page("../pages/inside.py").run()
    assert not tab.exception, tab.exception
    captions = "\n".join(str(c.value) for c in tab.caption)
    assert "Yours" in captions  # the run's model, named as the participant's own
    decision = next(str(m.value) for m in tab.markdown if "**Decision**" in str(m.value))
    assert f"**Decision**: **{shown[1]}** · {shown[2]}% sure" in decision, (decision, link.imgs[0].alt)


def test_a_finished_run_becomes_the_participants_model_and_can_be_switched_back(runs_dir):
    from simplecnn.workshop.room import Room

    room = Room()
    person = room.join("Ada")
    person.run_id = "run-1"
    room.adopt_result(person.id, "run-1", runs_dir / "x" / "best.pt")
    assert person.model == str(runs_dir / "x" / "best.pt")
    room.adopt_result(person.id, "run-0", runs_dir / "old" / "best.pt")  # not their latest run: ignored
    assert person.model == str(runs_dir / "x" / "best.pt")


def test_stop_keeps_an_evaluated_checkpoint_that_becomes_the_model_on_draw_and_evaluate(app, runs_dir):
    app.switch_page("../pages/train.py").run()
    app.number_input(key="tf_limit_test").set_value(256)  # Quick's clock, evaluated on 256 test images
    app.button(key="train_start").click().run()
    assert not app.exception, app.exception
    run = None
    deadline = time.time() + 120
    while time.time() < deadline and not (run is not None and run.batches):
        time.sleep(0.5)
        app.run()
        run = resources.scheduler().get(app.session_state["train_run_id"])
    assert run is not None and run.batches, "the run did not start training in time"
    app.button(key="train_stop").click().run()
    while time.time() < deadline and run.active:
        time.sleep(0.5)
    app.run()
    assert not app.exception, app.exception
    assert run.status == RunStatus.STOPPED and run.checkpoint is not None
    done = _texts(app.success)
    assert "Stopped after" in done and "what it had learned is kept" in done and "on 256 test images" in done
    assert "now your model on Draw and Evaluate" in done
    app.switch_page("../pages/draw.py").run()
    assert "Yours" in _texts(app.caption)
    app.switch_page("../pages/evaluate.py").run()
    assert not app.exception, app.exception
    assert app.selectbox(key="eval_source").value == f"run:{run.checkpoint}"
    assert "Test accuracy" in {m.label for m in app.metric}


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)
