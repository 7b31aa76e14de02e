import math

import torch

from simplecnn.calibration import Calibration, calibrate, expected_calibration_error, fit_temperature, probabilities


def _logits(n: int, scale: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits whose softmax is calibrated at scale 1 (labels drawn from it); `scale` makes them over- (>1) or
    under-confident (<1)."""
    g = torch.Generator().manual_seed(seed)
    true = torch.randn(n, 10, generator=g) * 3
    labels = torch.multinomial(true.softmax(1), 1, generator=g)[:, 0]
    return true * scale, labels


def test_ece_of_a_perfectly_calibrated_model_is_small_and_of_an_overconfident_one_large():
    logits, labels = _logits(20_000, 1.0)
    assert expected_calibration_error(logits.softmax(1), labels) < 0.02
    assert expected_calibration_error((logits * 3).softmax(1), labels) > 0.1


def test_ece_by_hand():
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    labels = torch.tensor([0, 1, 0, 0])
    # bin (0.85, 0.9]: 2 answers, confidence 0.9, accuracy 0.5; bin (0.55, 0.6]: 2 answers, 0.6 vs 0.5
    assert math.isclose(expected_calibration_error(probs, labels, bins=20), 0.5 * 0.4 + 0.5 * 0.1, abs_tol=1e-6)


def test_fitted_temperature_undoes_a_known_scale():
    for scale in (0.5, 2.0):
        logits, labels = _logits(20_000, scale, seed=1)
        assert math.isclose(fit_temperature(logits, labels), scale, rel_tol=0.1)


def test_calibrate_fits_on_one_half_reports_on_the_other_and_keeps_every_answer():
    logits, labels = _logits(4_000, 3.0, seed=2)
    cal = calibrate(logits, labels)
    assert cal.fit_images == cal.report_images == 2_000
    assert cal.ece_after < cal.ece_before / 3
    assert torch.equal(probabilities(logits, cal.temperature).argmax(1), logits.argmax(1))


def test_calibration_round_trips_and_refuses_foreign_values():
    cal = Calibration(1.13, 0.0013, 0.0010, 5000, 5000)
    assert Calibration.from_dict(cal.to_dict()) == cal
    assert Calibration.from_dict({"temperature": "abc"}) is None
    assert Calibration.from_dict({**cal.to_dict(), "temperature": 0.0}) is None
    assert Calibration.from_dict(None) is None


def test_predictions_use_the_checkpoints_temperature():
    from simplecnn.inference.predict import predict_batch
    from simplecnn.model import SimpleCNN

    torch.manual_seed(0)
    model, x = SimpleCNN().eval(), torch.randn(3, 1, 28, 28)
    logits = model(x).detach()
    hot = predict_batch(model, x, temperature=0.5)
    assert [p.digit for p in hot] == logits.argmax(1).tolist()
    assert torch.allclose(torch.tensor([p.probabilities for p in hot]), (logits / 0.5).softmax(1), atol=1e-6)
