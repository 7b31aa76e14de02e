"""'Is this a digit?' (simplecnn.inference.digitcheck): the shipped statistics, the verdicts, caching, the fallback."""

import numpy as np
import pytest
import torch

from simplecnn.checkpoint import load_model
from simplecnn.data import denormalize
from simplecnn.inference import digitcheck, styles
from simplecnn.inference.digitcheck import Verdict
from simplecnn.inference.predict import predict_batch, predict_image
from simplecnn.inference.preprocess import preprocess
from simplecnn.inference.synthetic import digit_strokes, render_strokes


@pytest.fixture(scope="module")
def shipped():
    model, _ = load_model()
    return model, digitcheck.checker_for(model, compute=False)


def test_shipped_statistics_belong_to_the_shipped_weights_and_are_small(shipped):
    model, checker = shipped
    blob = torch.load(digitcheck.SHIPPED_STATS, weights_only=True)
    assert blob["digest"] == digitcheck.model_digest(model)
    assert digitcheck.SHIPPED_STATS.stat().st_size < 300_000
    assert isinstance(checker, digitcheck.StatsChecker)  # found without computing anything


def test_a_dot_and_a_scribble_are_not_digits(shipped):
    model, checker = shipped
    dot = render_strokes([[(0.5, 0.5)]], 30)
    scribble = render_strokes([[(0.1, 0.3), (0.25, 0.7), (0.4, 0.3), (0.55, 0.7), (0.7, 0.3), (0.85, 0.7)]], 20)
    dot_answer, _ = predict_image(model, dot, checker)
    assert dot_answer.verdict is not Verdict.DIGIT and dot_answer.doubt  # a round dot: at least "not sure"
    prediction, _ = predict_image(model, scribble, checker)
    assert prediction.verdict is Verdict.NOT_DIGIT
    assert not prediction.looks_like_digit and prediction.doubt == digitcheck.DOUBT


@pytest.mark.parametrize("digit", [1, 7, 0])
def test_the_e2e_strokes_are_digits(shipped, digit):
    model, checker = shipped
    prediction, _ = predict_image(model, render_strokes(digit_strokes(digit), 20), checker)
    assert prediction.digit == digit and prediction.verdict is Verdict.DIGIT and prediction.doubt == ""


def test_three_answers_from_two_thresholds():
    assert digitcheck.verdict_for(-0.5, 3.0) is Verdict.DIGIT
    assert digitcheck.verdict_for(1.0, 3.0) is Verdict.UNSURE
    assert digitcheck.verdict_for(3.5, 3.0) is Verdict.NOT_DIGIT
    unsure = digitcheck.DigitCheck(Verdict.UNSURE, 1.0, 3.0)
    assert unsure.looks_like_digit and unsure.doubt == digitcheck.UNSURE  # unsure is not a rejection
    assert Verdict.NOT_DIGIT.value == "not_digit"  # what predict --json prints


def _inputs(images):
    return torch.cat([preprocess(image) for image in images])


def test_rates_on_small_unseen_sets(shipped, mnist):
    """Small samples of docs/digit-check.md's sets (other seeds than the fit): generous bounds, but a checker
    that flags everything or nothing fails."""
    model, checker = shipped
    digits = predict_batch(model, mnist.test_x[-400:], checker)
    assert sum(p.verdict is not Verdict.DIGIT for p in digits) <= 8  # docs: under 1%
    drawn, labels = [], []
    for k, style in enumerate(styles.STROKE_STYLES):
        images, digit_labels = styles.style_set(style, 4, seed=900 + k)
        drawn += images
        labels += digit_labels
    answers = predict_batch(model, _inputs(drawn), checker)
    assert sum(p.verdict is Verdict.NOT_DIGIT for p in answers) <= 2  # of 42 styled digits
    assert sum(p.digit == y for p, y in zip(answers, labels, strict=True)) >= len(labels) - 2
    pixels = denormalize(mnist.test_x[:500, 0].clone()).numpy()
    others = []
    for k, kind in enumerate(styles.NON_DIGIT_KINDS):
        others += styles.non_digit_set(kind, 3, seed=950 + k, mnist=(pixels, mnist.test_y[:500].numpy()))
    flags = [p.verdict is not Verdict.DIGIT for p in predict_batch(model, _inputs(others), checker)]
    assert np.mean(flags) >= 0.75  # docs: about 90%


def test_without_statistics_or_mnist_the_check_falls_back_to_confidence(tmp_path, monkeypatch):
    import simplecnn.data as data
    from simplecnn.model import SimpleCNN

    def no_data(*args, **kwargs):
        raise data.DataUnavailableError("no MNIST here")

    monkeypatch.setattr(data, "load_mnist", no_data)
    torch.manual_seed(0)
    checker = digitcheck.checker_for(SimpleCNN(), folder=tmp_path)
    assert isinstance(checker, digitcheck.LogitOnly)
    x = torch.randn(4, 1, 28, 28)
    answers = predict_batch(SimpleCNN().eval(), x, checker)
    assert all(p.verdict is Verdict.NOT_DIGIT and not p.looks_like_digit for p in answers)  # untrained: ~10%


def test_statistics_are_fitted_once_then_read_from_disk(tmp_path, monkeypatch, shipped):
    import simplecnn.data as data
    from simplecnn.model import SimpleCNN

    torch.manual_seed(1)
    model = SimpleCNN()
    digest = digitcheck.model_digest(model)
    fitted = []
    template = digitcheck.OODStats.from_dict(torch.load(digitcheck.SHIPPED_STATS, weights_only=True))

    def fake_fit(m, d, dig):
        fitted.append(dig)
        return digitcheck.OODStats(**{**template.__dict__, "digest": dig})

    monkeypatch.setattr(digitcheck, "fit_stats", fake_fit)
    monkeypatch.setattr(data, "load_mnist", lambda **kwargs: None)
    first = digitcheck.stats_for(model, folder=tmp_path)
    (path,) = tmp_path.glob("ood-*.pt")
    assert first is not None and first.digest == digest and fitted == [digest]
    assert digitcheck.stats_for(model, folder=tmp_path).digest == digest and fitted == [digest]  # read, not refitted
    path.write_bytes(b"corrupt")
    assert digitcheck.stats_for(model, folder=tmp_path).digest == digest and len(fitted) == 2  # refitted
    assert torch.load(path, weights_only=True)["digest"] == digest
    assert digitcheck.stats_for(model, folder=tmp_path / "empty", compute=False) is None


def test_digest_follows_the_weights_not_the_object():
    from simplecnn.model import SimpleCNN

    torch.manual_seed(2)
    a = SimpleCNN()
    b = SimpleCNN()
    b.load_state_dict(a.state_dict())
    assert digitcheck.model_digest(a) == digitcheck.model_digest(b)
    with torch.no_grad():
        b.fc2.bias[0] += 1e-3
    assert digitcheck.model_digest(a) != digitcheck.model_digest(b)


def test_sessions_checking_drawings_at_once_never_mix_their_layers(shipped, mnist):
    """One model object serves every session: concurrent checks (batches of 1 and 2) must not see each other's
    layers. With forward hooks on the shared model this failed under load ("stack expects each tensor to be equal
    size"); each thread's answers must also equal the same check run alone."""
    import threading

    model, checker = shipped
    inputs = [mnist.test_x[i : i + 1 + i % 2] for i in range(6)]
    alone = [[c.looks_like_digit for c in checker.check(digitcheck.embed(model, x))] for x in inputs]
    errors: list[BaseException] = []
    mismatches: list[int] = []

    def work(k: int) -> None:
        try:
            for _ in range(40):
                got = [c.looks_like_digit for c in checker.check(digitcheck.embed(model, inputs[k]))]
                if got != alone[k]:
                    mismatches.append(k)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert not mismatches
    with torch.no_grad():
        torch.testing.assert_close(digitcheck.embed(model, inputs[1]).logits, model(inputs[1]).float())


def test_the_probe_separates_what_a_line_cannot_and_is_the_same_each_fit():
    """A ring of non-digits around the digits: no linear score separates them, one hidden layer does."""
    g = torch.Generator().manual_seed(0)
    digits = torch.randn(400, 2, generator=g) * 0.5
    angle = torch.rand(400, generator=g) * 6.283
    others = torch.stack([angle.cos(), angle.sin()], 1) * 3 + torch.randn(400, 2, generator=g) * 0.2
    first = digitcheck.fit_probe(digits, others, seed=3)
    stats = digitcheck.OODStats({}, {}, *first.__dict__.values(), threshold=0.0)
    scores = digitcheck.score_inputs(torch.cat([digits, others]), stats)
    assert (scores[:400] < scores[400:].min()).float().mean() >= 0.95
    again = digitcheck.fit_probe(digits, others, seed=3)
    assert torch.equal(first.hidden_weight, again.hidden_weight) and first.bias == again.bias
