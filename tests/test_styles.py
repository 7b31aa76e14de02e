"""simplecnn.inference.styles: named digit styles and non-digit kinds, as the check's fit and measurements use them."""

import numpy as np
import pytest

from simplecnn.inference import styles
from simplecnn.inference.preprocess import preprocess


@pytest.mark.parametrize("style", styles.STROKE_STYLES, ids=lambda s: s.name)
def test_each_stroke_style_draws_canvas_pictures_that_preprocess(style):
    images, labels = styles.style_set(style, 3, seed=5)
    assert len(images) == 3 and labels == [style.digits[i % len(style.digits)] for i in range(3)]
    for image in images:
        assert image.shape[:2] == (280, 280) and image.dtype == np.uint8
        assert preprocess(image).shape == (1, 1, 28, 28)
    again, _ = styles.style_set(style, 3, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(images, again, strict=True))  # a seed gives the same set


def test_holding_out_a_way_of_writing_one_digit_bans_that_digit_everywhere():
    by_name = styles.digit_styles(typefaces=False)
    fold = styles.held_out(by_name["closed_4"])
    assert fold.banned_digits == {4}
    _, labels = styles.style_set(by_name["pen"], 20, seed=1, fold=fold)
    assert 4 not in labels and len(labels) == 20
    assert styles.held_out(by_name["marker"]) == styles.EVERYTHING


def test_non_digit_kinds_draw_without_mnist_except_the_mnist_ones():
    pixels = np.zeros((4, 28, 28), np.float32)
    pixels[:, 6:22, 12:16] = 1.0
    labels = np.array([1, 7, 1, 7])
    for kind in styles.NON_DIGIT_KINDS:
        images = styles.non_digit_set(kind, 2, seed=3)
        assert len(images) == (0 if kind in styles.NEEDS_MNIST else 2), kind
        with_mnist = styles.non_digit_set(kind, 2, seed=3, mnist=(pixels, labels))
        assert len(with_mnist) == 2 and all(preprocess(i).shape == (1, 1, 28, 28) for i in with_mnist)


def test_typeface_styles_are_absent_without_fonts(monkeypatch, tmp_path):
    monkeypatch.setattr(styles, "FONT_DIRS", (str(tmp_path),))
    assert styles.typeface_styles() == ()
    assert set(styles.digit_styles()) == {s.name for s in styles.STROKE_STYLES}


def test_pillow_font_typesets_without_system_fonts():
    ink = styles.typeset("A", None, np.random.default_rng(0))
    assert ink is not None and ink.shape == (280, 280) and ink.max() > 0.5
