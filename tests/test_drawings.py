import numpy as np
import torch

from simplecnn.checkpoint import load_model
from simplecnn.data import denormalize
from simplecnn.explain.activations import plain_resize_input as naive_input
from simplecnn.inference.predict import predict_batch, predict_files
from simplecnn.inference.preprocess import preprocess
from simplecnn.inference.synthetic import ENCODINGS, make_drawing


def test_drawn_digits_are_recognised_far_better_than_by_a_plain_resize(mnist):
    model, _ = load_model()
    rng = np.random.default_rng(0)
    ours, naive, labels = [], [], []
    test_x = mnist.subset(0, 300).test_x  # normalised once (test_x makes a new tensor on each access)
    for i in range(300):
        digit = denormalize(test_x[i, 0]).numpy()
        drawing = make_drawing(digit, rng, encoding=ENCODINGS[i % 3])
        ours.append(preprocess(drawing))
        naive.append(naive_input(drawing))
        labels.append(int(mnist.test_y[i]))
    ours_acc = np.mean([p.digit == y for p, y in zip(predict_batch(model, torch.cat(ours)), labels, strict=True)])
    naive_acc = np.mean([p.digit == y for p, y in zip(predict_batch(model, torch.cat(naive)), labels, strict=True)])
    assert ours_acc >= 0.97, (ours_acc, naive_acc)
    assert ours_acc - naive_acc >= 0.25, (ours_acc, naive_acc)


def test_mnist_test_digits_as_png_files_are_recognised(mnist, tmp_path):
    from PIL import Image

    model, _ = load_model()
    paths = []
    test_x = mnist.subset(0, 500).test_x  # normalised once (test_x makes a new tensor on each access)
    for i in range(500):
        path = tmp_path / f"{i}.png"
        Image.fromarray((denormalize(test_x[i, 0]).numpy() * 255).round().astype(np.uint8)).save(path)
        paths.append(str(path))
    results = predict_files(model, paths)
    correct = sum(r.prediction.digit == int(mnist.test_y[i]) for i, r in enumerate(results))
    assert correct / len(paths) >= 0.99


def test_stroke_drawn_digits_are_read():
    """The hand-stroke digits (inference.synthetic.digit_strokes) that measure the digit check are real digits."""
    from simplecnn.inference.synthetic import stroke_digit_set

    model, _ = load_model()
    images, labels = stroke_digit_set(200, seed=5)
    predictions = predict_batch(model, torch.cat([preprocess(im) for im in images]))
    assert np.mean([p.digit == y for p, y in zip(predictions, labels, strict=True)]) >= 0.95


def test_non_digit_set_has_every_kind_in_every_encoding(mnist):
    from simplecnn.inference.synthetic import NON_DIGIT_KINDS, non_digit_set

    pixels = denormalize(mnist.test_x[:50, 0].clone()).numpy()
    images, kinds = non_digit_set(3, seed=0, mnist=(pixels, mnist.test_y[:50].numpy()))
    assert kinds == [k for k in NON_DIGIT_KINDS for _ in range(3)]
    assert [im.shape for im in images[:3]] == [(280, 280), (280, 280, 3), (280, 280, 4)]
    assert "mnist_pair" not in non_digit_set(1, seed=0)[1]  # without MNIST that kind is left out
