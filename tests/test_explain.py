"""simplecnn.explain against reference answers: a linear model's exact IG, a plain forward pass's intermediates,
the shipped checkpoint's neighbours and adversarial flips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from simplecnn import explain
from simplecnn.data import BACKGROUND, MNIST_MEAN, MNIST_STD, TEST_SIZE, TRAIN_SIZE, denormalize, normalize
from simplecnn.evaluate import sample_indices
from simplecnn.explain import neighbours
from simplecnn.explain.attribution import IG_STEPS


@pytest.fixture(scope="module")
def shipped():
    from simplecnn.checkpoint import load_model

    return load_model()[0]


@pytest.fixture(scope="module")
def test_sample(mnist):
    """50 fixed test digits (spread over the set), normalised, with their labels."""
    idx = torch.as_tensor(sample_indices(len(mnist.test_y), 50, seed=15))
    return mnist.test_x[idx], mnist.test_y[idx]


# ---------------------------------------------------------------- attribution


def test_integrated_gradients_on_a_linear_model_is_weight_times_input_minus_baseline():
    # For a linear model the gradient is constant, so IG is exactly w_t · (x − baseline) per pixel.
    torch.manual_seed(0)
    linear = nn.Linear(28 * 28, 10)
    model = nn.Sequential(nn.Flatten(), linear)
    x = normalize(torch.rand(1, 1, 28, 28))
    result = explain.integrated_gradients(model, x, target=3, steps=8)
    expected = (linear.weight[3].detach().reshape(28, 28) * (x[0, 0] - BACKGROUND)).numpy()
    np.testing.assert_allclose(result.pixels, expected, rtol=1e-4, atol=1e-6)
    assert result.target == 3 and abs(result.delta) < 1e-4


def test_integrated_gradients_explains_the_prediction_and_sums_to_the_logit_change(shipped, test_sample):
    x = test_sample[0][:1]
    result = explain.integrated_gradients(shipped, x)
    logits = shipped(torch.cat([x, torch.full_like(x, BACKGROUND)])).detach()
    assert result.target == int(logits[0].argmax())
    change = float(logits[0, result.target] - logits[1, result.target])
    assert result.pixels.shape == (28, 28)
    assert abs(result.pixels.sum() - change) < 0.05 * abs(change)  # completeness, up to the Riemann error
    assert abs(result.pixels.sum() - change - result.delta) < 1e-3 * max(1.0, abs(change))


def test_integrated_gradients_equals_captums(shipped, test_sample):
    """Our few lines against captum's IntegratedGradients (default Gauss-Legendre method, same steps)."""
    from captum.attr import IntegratedGradients

    for x in test_sample[0][:3]:
        x = x[None]
        ours = explain.integrated_gradients(shipped, x, steps=IG_STEPS)
        theirs, delta = IntegratedGradients(shipped).attribute(
            x,
            baselines=torch.full_like(x, BACKGROUND),
            target=ours.target,
            n_steps=IG_STEPS,
            return_convergence_delta=True,
        )
        np.testing.assert_allclose(ours.pixels, theirs[0, 0].detach().numpy(), rtol=1e-4, atol=1e-5)
        assert abs(ours.delta - float(delta[0])) < 1e-4


def test_the_library_does_not_import_captum():
    """captum (with matplotlib and IPython) costs the server tens of MB (docs/inside.md): a test dependency only."""
    import subprocess
    import sys

    code = (
        "import sys; from simplecnn import explain, checkpoint; "
        "m = checkpoint.load_model()[0]; import torch; "
        "explain.integrated_gradients(m, torch.zeros(1, 1, 28, 28)); print('captum' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------- activations


def test_feature_maps_equal_a_plain_forward_pass(shipped, test_sample):
    x = test_sample[0][:1]
    captured: dict[str, torch.Tensor] = {}
    hooks = [
        getattr(shipped, name).register_forward_hook(
            lambda _m, _i, out, name=name: captured.__setitem__(name, out.detach().clone())
        )
        for name in ("conv1", "conv2", "conv3", "conv4", "fc1", "pool1", "pool2")
    ]
    try:
        with torch.no_grad():
            logits = shipped(x)
    finally:
        for h in hooks:
            h.remove()
    act = explain.activations(shipped, x)
    shapes = {n: act.stage(n).shape for n in explain.CONV_STAGES}
    assert shapes == {"conv1": (32, 28, 28), "conv2": (32, 28, 28), "conv3": (64, 14, 14), "conv4": (64, 14, 14)}
    # Hooks see the conv outputs before the forward's ReLU (in place, hence the clone above).
    for name in explain.CONV_STAGES:
        np.testing.assert_allclose(act.stage(name), F.relu(captured[name][0]).numpy(), atol=1e-5)
    # Pooling our conv2/conv4 maps gives exactly what the forward hands on (it pools before its ReLU).
    np.testing.assert_allclose(
        F.max_pool2d(torch.from_numpy(act.stage("conv2")), 2).numpy(), F.relu(captured["pool1"][0]).numpy(), atol=1e-5
    )
    np.testing.assert_allclose(
        F.max_pool2d(torch.from_numpy(act.stage("conv4")), 2).numpy(), F.relu(captured["pool2"][0]).numpy(), atol=1e-5
    )
    np.testing.assert_allclose(act.fc128, F.relu(captured["fc1"][0]).numpy(), atol=1e-5)
    np.testing.assert_allclose(act.logits, logits[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(act.probabilities, logits[0].softmax(0).numpy(), atol=1e-6)
    assert act.fc128.shape == (128,) and act.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_conv1_filters_are_the_first_layer_weights(shipped):
    filters = explain.conv1_filters(shipped)
    assert filters.shape == (32, 3, 3)
    np.testing.assert_array_equal(filters, shipped.conv1.weight.detach()[:, 0].numpy())


def test_wrong_input_shape_is_a_one_line_error(shipped):
    with pytest.raises(explain.ExplainError, match="1×1×28×28"):
        explain.activations(shipped, torch.zeros(1, 28, 28))


# ---------------------------------------------------------------- preprocessing view


def test_identity_transform_changes_nothing_and_shift_moves_the_ink():
    pixels = np.zeros((28, 28), np.float32)
    pixels[10:14, 10:14] = 1.0
    np.testing.assert_allclose(explain.transform_pixels(pixels, explain.Transform()), pixels)
    moved = explain.transform_pixels(pixels, explain.Transform(shift_x=3, shift_y=-2))
    np.testing.assert_allclose(moved, np.roll(np.roll(pixels, 3, axis=1), -2, axis=0), atol=1e-5)
    thick = explain.transform_pixels(pixels, explain.Transform(thickness=1))
    thin = explain.transform_pixels(pixels, explain.Transform(thickness=-1))
    assert thick.sum() == 36 and thin.sum() == 4
    turned = explain.transform_pixels(pixels, explain.Transform(rotation=90))
    np.testing.assert_allclose(turned, np.rot90(pixels), atol=1e-5)  # counter-clockwise about the centre
    noisy = explain.transform_pixels(pixels, explain.Transform(noise=0.3, seed=1))
    assert noisy.min() >= 0 and noisy.max() <= 1 and not np.allclose(noisy, pixels)


# ---------------------------------------------------------------- adversarial


def test_adversarial_flips_nine_of_ten_correct_test_digits_within_eps(shipped, test_sample):
    x, y = test_sample
    with torch.no_grad():
        correct = (shipped(x).argmax(1) == y).nonzero()[:10, 0]
    assert len(correct) == 10
    flips = 0
    for i in correct.tolist():
        with explain.single_threaded():  # as the UI runs it: one image gains nothing from threads
            result = explain.adversarial(shipped, x[i : i + 1], 0.3)
        original = denormalize(x[i : i + 1].clone())
        perturbed = result.x * MNIST_STD + MNIST_MEAN  # unclamped: the range check below must be able to fail
        assert result.x.shape == (1, 1, 28, 28)
        assert float(perturbed.min()) >= -1e-5 and float(perturbed.max()) <= 1 + 1e-5
        assert float((perturbed - original).abs().max()) <= 0.3 + 1e-5
        with torch.no_grad():
            again = shipped(result.x).softmax(1)[0]
        assert result.digit == int(again.argmax())  # .digit is the model's answer on .x, for real
        np.testing.assert_allclose(result.probabilities, again.numpy(), atol=1e-5)
        flips += result.digit != int(y[i])
    assert flips >= 9


def test_adversarial_with_zero_eps_is_the_input(shipped, test_sample):
    x = test_sample[0][:1]
    result = explain.adversarial(shipped, x, 0.0)
    np.testing.assert_allclose(result.x.numpy(), x.numpy(), atol=1e-5)
    assert not result.flipped
    with pytest.raises(explain.ExplainError):
        explain.adversarial(shipped, x, 1.5)


# ---------------------------------------------------------------- neighbours and map (small banks, cached)

# The library's default is the whole split (60,000 training, 10,000 test images: tens of seconds to embed on two
# cores); these tests search and map the first few thousand, the same code path.
BANK = 2000


def test_nearest_training_digits_are_mostly_the_same_digit(shipped, test_sample, mnist):
    x, y = test_sample
    same = []
    explain.split_embeddings(shipped, "train", BANK)  # all threads, once per session
    for i in range(len(y)):
        with explain.single_threaded():
            neighbours = explain.nearest_training_digits(shipped, x[i : i + 1], k=5, limit=BANK)
        assert len(neighbours) == 5
        distances = [n.distance for n in neighbours]
        assert distances == sorted(distances)
        assert all(n.index < BANK and int(mnist.train_y[n.index]) == n.label for n in neighbours)
        same.append(sum(n.label == int(y[i]) for n in neighbours))
    assert np.mean(same) >= 4.0 and sum(v >= 4 for v in same) >= 45, same  # ≥ 4 of 5 on average and for 90%
    # A training image's nearest training image is itself (distance ~0): indices point into the training set.
    itself = explain.nearest_training_digits(shipped, mnist.subset(124).train_x[123:124], k=1, limit=BANK)[0]
    assert itself.index == 123 and itself.distance < 0.05  # float rounding of |a|²+|b|²-2a·b


def test_embedding_map_places_a_test_digit_at_its_own_point(shipped, mnist):
    emap = explain.embedding_map(shipped, limit=1000)
    assert emap.points.shape == (1000, 2) and emap.labels.shape == (1000,)
    np.testing.assert_array_equal(emap.labels, mnist.test_y[:1000].numpy())
    act = explain.activations(shipped, mnist.subset(0, 8).test_x[7:8])
    np.testing.assert_allclose(emap.place(act.fc128), emap.points[7], atol=1e-3)


def test_embeddings_are_cached_on_disk_and_reread_safely(shipped, tmp_path, monkeypatch):
    bank = explain.split_embeddings(shipped, "test", 1000)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(neighbours, "_embeddings", neighbours.BoundedCache(4, 1 << 30))  # forget the memory copy
    again = explain.split_embeddings(shipped, "test", 1000)  # embedded again and written to the new cache folder
    assert torch.equal(again, bank)
    (path,) = (tmp_path / "simplecnn").glob("embed-*-test1000-*.pt")
    reread = neighbours._read_embeddings(path, 1000)
    assert reread is not None and torch.equal(reread, bank)
    path.write_bytes(b"not a tensor")
    assert neighbours._read_embeddings(path, 1000) is None


def test_by_default_the_whole_split_is_embedded(shipped, tmp_path, monkeypatch):
    """Without a limit, neighbours search all 60,000 training images and the map holds all 10,000 test images."""
    seen: list[int] = []

    def quick_embed(model, images):  # the real embedding of 60,000 images takes tens of seconds
        seen.append(len(images))
        return torch.rand(len(images), 128)

    monkeypatch.setattr(neighbours, "embed", quick_embed)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(neighbours, "_embeddings", neighbours.BoundedCache(4, 1 << 30))
    monkeypatch.setattr(neighbours, "_maps", neighbours.OrderedDict())
    assert explain.split_embeddings(shipped).shape == (TRAIN_SIZE, 128)
    assert explain.embedding_map(shipped).points.shape == (TEST_SIZE, 2)
    assert len(explain.nearest_training_digits(shipped, torch.zeros(1, 1, 28, 28), k=3)) == 3
    # each split once, in chunks (then from memory), and the query
    assert sum(seen) == TRAIN_SIZE + TEST_SIZE + 1 and seen[-1] == 1
    assert explain.split_embeddings(shipped, "train", 100).shape == (100, 128)
    with pytest.raises(explain.ExplainError, match="k must be between 1 and 100"):
        explain.nearest_training_digits(shipped, torch.zeros(1, 1, 28, 28), k=101, limit=100)
