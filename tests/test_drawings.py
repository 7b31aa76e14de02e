import numpy as np
import torch

from simplecnn.checkpoint import load_model
from simplecnn.data import denormalize
from simplecnn.drawings import ENCODINGS, make_drawing, naive_input
from simplecnn.predict import predict_batch, predict_files
from simplecnn.preprocess import preprocess


def test_drawn_digits_are_recognised_far_better_than_by_a_plain_resize(mnist):
    model, _ = load_model()
    rng = np.random.default_rng(0)
    ours, naive, labels = [], [], []
    for i in range(300):
        digit = denormalize(mnist.test_x[i, 0]).numpy()
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
    for i in range(500):
        path = tmp_path / f"{i}.png"
        Image.fromarray((denormalize(mnist.test_x[i, 0]).numpy() * 255).round().astype(np.uint8)).save(path)
        paths.append(str(path))
    results = predict_files(model, paths)
    correct = sum(r.prediction.digit == int(mnist.test_y[i]) for i, r in enumerate(results))
    assert correct / len(paths) >= 0.99
