"""The digit gate (simplecnn.inference.gate, simplecnn.training.train_gate): shipped, used by the check, trainable."""

import glob
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import torch

from simplecnn.data import denormalize
from simplecnn.inference import digitcheck, gate, styles
from simplecnn.inference.preprocess import preprocess
from simplecnn.training import train_gate


def test_the_shipped_gate_is_small_and_the_shipped_statistics_were_fit_with_it():
    shipped = gate.load_gate()
    assert shipped is not None and not shipped.training
    assert gate.SHIPPED_DIGIT_GATE.stat().st_size < 2_500_000
    blob = torch.load(digitcheck.SHIPPED_STATS, weights_only=True)
    assert blob["gate_digest"] == gate.gate_digest(shipped)


def test_the_gate_tells_digits_from_non_digits(mnist):
    """MNIST test digits score under 0 and generated non-digits over it, nearly all (docs: the gate alone flags
    most non-digits; the probe combines it with the model's layers)."""
    shipped = gate.load_gate()
    digits = gate.gate_scores(shipped, denormalize(mnist.test_x[:300, 0].clone()))
    pixels = denormalize(mnist.test_x[:500, 0].clone()).numpy()
    others = []
    for k, kind in enumerate(styles.NON_DIGIT_KINDS):
        others += styles.non_digit_set(kind, 3, seed=960 + k, mnist=(pixels, mnist.test_y[:500].numpy()))
    views = torch.cat([preprocess(image) for image in others])
    scores = gate.gate_scores(shipped, denormalize(views[:, 0]))
    assert (digits < 0).float().mean() >= 0.97
    assert (scores > 0).float().mean() >= 0.75


def test_statistics_fit_with_another_gate_are_not_used(tmp_path):
    stats = digitcheck.OODStats.from_dict(torch.load(digitcheck.SHIPPED_STATS, weights_only=True))
    path = tmp_path / "ood.pt"
    torch.save({**stats.to_dict(), "gate_digest": "another gate"}, path)
    assert digitcheck.load_stats(path, stats.digest) is None
    torch.save(stats.to_dict(), path)
    assert digitcheck.load_stats(path, stats.digest) is not None


def test_a_tiny_gate_trains_and_round_trips(mnist):
    g = np.random.default_rng(0)
    blobs = torch.tensor(g.uniform(0, 255, size=(64, 28, 28)) > 200, dtype=torch.uint8) * 255  # speckle: not a digit
    inputs = train_gate.GateInputs({"pen": mnist.train_pixels[-64:, 0]}, {"dot": blobs})
    data = SimpleNamespace(train_pixels=mnist.train_pixels[-(train_gate.MNIST_FROM + 64) :])
    recipe = replace(train_gate.HOLDOUT_RECIPE, epochs=1, batch_size=32, channels=(4, 4, 8, 8), hidden=8)
    logged = []
    trained = train_gate.train(inputs, data, recipe, log=logged.append)
    assert len(logged) == 1 and "loss" in logged[0]
    again = gate.gate_from_blob(gate.gate_blob(trained, {"epochs": 1}))
    x = torch.rand(5, 28, 28)
    torch.testing.assert_close(gate.gate_scores(trained, x), gate.gate_scores(again, x))
    seen = gate.gate_features(trained, x)  # log-odds, then the hidden layer the digit check's probe also reads
    assert seen.shape == (5, 1 + recipe.hidden) and (seen[:, 1:] >= 0).all()
    assert train_gate.recipe_key(recipe) != train_gate.recipe_key(replace(recipe, without="dot"))


def _as_picture(ink):
    return ink if ink.dtype == np.uint8 else styles.encode(ink, "light_on_dark")  # pencil looks come as photos


def test_more_non_digits_for_the_gate():
    rng = np.random.default_rng(1)
    curves = [_as_picture(styles.curve_non_digit(rng)) for _ in range(6)]
    assert all(c.shape[:2] == (styles.SIZE, styles.SIZE) for c in curves)
    assert all(preprocess(c).shape == (1, 1, 28, 28) for c in curves)  # drawn: something to read
    assert styles.glyph_non_digit(rng, []) is None  # no fonts: nothing, not an error
    faces = sorted(glob.glob("/usr/share/fonts/**/*.tt[fc]", recursive=True))[:5]
    drawn = [styles.glyph_non_digit(rng, faces) for _ in range(6)] if faces else []
    assert all(d is None or d.shape[:2] == (styles.SIZE, styles.SIZE) for d in drawn)
    assert not faces or any(d is not None for d in drawn)
