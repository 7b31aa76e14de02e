"""AppTest checks of the inside view (ui/inside.py) and the /inside page (pages/inside.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "ui" / "studio.py")


def _inside_view_of_a_drawing() -> None:
    import numpy as np

    from simplecnn.checkpoint import load_model
    from simplecnn.data import load_mnist
    from simplecnn.explain import pixels_of
    from simplecnn.inference.predict import predict_image
    from simplecnn.inference.synthetic import make_drawing
    from ui.inside import render_inside_view

    model, _ = load_model()
    image = make_drawing(pixels_of(load_mnist().test_x[0:1]), np.random.default_rng(0), encoding="alpha")
    _, x = predict_image(model, image)
    render_inside_view(model, x, image, key="t")


def _images(at: AppTest) -> int:
    count = 0

    def walk(node) -> None:
        nonlocal count
        count += getattr(node, "type", None) == "image"
        children = getattr(node, "children", None) or {}
        for child in children.values() if isinstance(children, dict) else children:
            walk(child)

    walk(at._tree)
    return count


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_inside_view_of_a_drawing_shows_one_step_at_a_time(monkeypatch):
    monkeypatch.setenv("SIMPLECNN_EVAL_LIMIT", "1000")  # neighbours among 1,000 training digits, a 1,000-digit map
    at = AppTest.from_function(_inside_view_of_a_drawing, default_timeout=600).run()
    assert not at.exception, at.exception
    assert _images(at) == 5  # the first step only: the five preprocessing pictures, nothing heavy computed
    assert "Preprocessing" in _texts(at.markdown)
    at.segmented_control(key="t_step").set_value("decision").run()
    assert _images(at) == 2 and "**Decision**: **7**" in _texts(at.markdown)  # test digit 0 is a 7
    at.segmented_control(key="t_step").set_value("maps").run()
    assert _images(at) == 6  # four conv stages, the conv1 filters, fc1
    at.segmented_control(key="t_step").set_value("why").run()
    assert _images(at) == 6 and "nearest in the fc1" in _texts(at.markdown)
    at.segmented_control(key="t_step").set_value("robust").run()
    assert at.metric[0].label == "Now reads" and at.metric[0].value.startswith("7")
    at.slider(key="t_shift_y").set_value(8).run()
    assert not at.exception
    assert "(was 7)" in at.metric[0].value
    at.segmented_control(key="t_step").set_value("nudge").run()
    at.slider(key="t_eps").set_value(0.3).run()
    assert not at.exception
    assert "Fooled" in _texts(at.warning)


@pytest.fixture()
def app(runs_dir, monkeypatch):
    monkeypatch.setenv("SIMPLECNN_EVAL_LIMIT", "300")
    return AppTest.from_file(APP, default_timeout=300)


def test_inside_page_opens_the_test_image_named_in_the_url(app):
    app.query_params["test"] = "3"
    app.run()
    app.switch_page("../pages/inside.py").run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Inside"
    assert "Test image 3: true digit **0**" in _texts(app.caption)
    assert app.number_input(key="inside_test_index").value == 3
    assert _images(app) == 2  # opened at the decision (attribution, logits); the other steps wait for a tap
    assert "**Decision**: **0**" in _texts(app.markdown)
    app.number_input(key="inside_test_index").set_value(0).run()
    assert not app.exception
    assert "true digit **7**" in _texts(app.caption) and app.query_params["test"] in ("0", ["0"])


def test_inside_page_says_what_is_wrong_with_a_bad_test_number(app):
    app.query_params["test"] = "99999"
    app.run()
    app.switch_page("../pages/inside.py").run()
    assert not app.exception
    assert "There is no test image 99999" in _texts(app.error)
