"""simplecnn.figures.inside: pictures are uint8 RGB of the promised size, colours carry the sign, no hover needed."""

from __future__ import annotations

import numpy as np

from simplecnn.figures import inside as plots


def test_grey_and_diverging_pictures():
    g = plots.grey(np.array([[0.0, 1.0]]), factor=3)
    assert g.shape == (3, 6, 3) and g.dtype == np.uint8
    assert g[0, 0].tolist() == [0, 0, 0] and g[0, 5].tolist() == [255, 255, 255]
    d = plots.diverging(np.array([[1.0, 0.0, -1.0]]), factor=1)
    assert d[0, 0].tolist() == plots.POSITIVE.astype(int).tolist()  # red for positive
    assert d[0, 1].tolist() == [255, 255, 255]
    assert d[0, 2].tolist() == plots.NEGATIVE.astype(int).tolist()  # blue for negative


def test_feature_maps_are_tiled_in_a_grid():
    maps = np.random.default_rng(0).random((32, 28, 28)).astype(np.float32)
    picture = plots.feature_maps(maps, columns=8, factor=1)
    assert picture.shape == (4 * 30 - 2, 8 * 30 - 2, 3)
    assert plots.filters(np.ones((32, 3, 3)), factor=2).shape == (4 * 9 - 3, 8 * 9 - 3, 3)
    assert plots.activations_strip(np.ones(128), columns=16, factor=2).shape == (16, 32, 3)


def test_attribution_overlay_colours_the_pushing_pixels():
    pixels = np.zeros((28, 28), np.float32)
    attr = np.zeros((28, 28), np.float32)
    attr[5, 5], attr[20, 20] = 1.0, -1.0
    picture = plots.attribution_overlay(pixels, attr, factor=1)
    assert picture[5, 5].tolist() == plots.POSITIVE.astype(int).tolist()
    assert picture[20, 20].tolist() == plots.NEGATIVE.astype(int).tolist()
    assert picture[0, 0].tolist() == [30, 30, 30]


def test_embedding_map_and_its_marker():
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(500, 2)).astype(np.float32), rng.integers(0, 10, 500)
    base = plots.embedding_map(points, labels, size=200)
    assert base.shape == (200, 200, 3) and base.dtype == np.uint8
    marked = plots.mark_map(base, points, np.array([0.0, 0.0]))
    assert (marked != base).any()
    far = plots.mark_map(base, points, np.array([1e6, -1e6]))  # off the map: still drawn, at the edge
    assert (far != base).any()


def test_logits_and_probabilities_picture_has_a_row_per_digit():
    picture = plots.logits_and_probabilities(np.linspace(-5, 5, 10), np.full(10, 0.1), width=300, row=20)
    assert picture.shape == (220, 300, 3) and picture.dtype == np.uint8
    assert (picture[20:] != 255).any()
