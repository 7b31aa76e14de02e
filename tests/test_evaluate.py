import torch

from simplecnn.data import TEST_SIZE
from simplecnn.evaluate import EvalResult, confusion_matrix


def _result(targets, preds):
    t, p = torch.tensor(targets), torch.tensor(preds)
    cm = confusion_matrix(t, p)
    return EvalResult(len(t), 0.0, cm.diag().sum().item() / len(t), cm, p, torch.ones(len(t)), t)


def test_confusion_matrix_counts_true_by_predicted():
    cm = confusion_matrix(torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 2, 0]))
    assert cm.shape == (10, 10)
    assert cm[0, 0] == 1 and cm[0, 1] == 1 and cm[1, 1] == 1 and cm[2, 2] == 2 and cm[2, 0] == 1
    assert cm.sum() == 6


def test_precision_recall_f1_reference_values():
    r = _result([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0])
    # class 0: tp 1, predicted 2, support 2 → P 0.5, R 0.5, F1 0.5
    # class 1: tp 1, predicted 2, support 1 → P 0.5, R 1.0, F1 2/3
    # class 2: tp 2, predicted 2, support 3 → P 1.0, R 2/3, F1 0.8
    assert torch.allclose(r.precision[:3], torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64))
    assert torch.allclose(r.recall[:3], torch.tensor([0.5, 1.0, 2 / 3], dtype=torch.float64))
    assert torch.allclose(r.f1[:3], torch.tensor([0.5, 2 / 3, 0.8], dtype=torch.float64))
    assert r.support[:3].tolist() == [2, 1, 3] and r.support[3:].sum() == 0
    assert r.precision[5] == 0 and r.f1[5] == 0  # empty classes are 0, not NaN
    assert abs(r.accuracy - 4 / 6) < 1e-12
    assert r.misclassified.tolist() == [1, 5]
    assert r.indices_for(2, 0).tolist() == [5]
    assert r.most_confused() in {(0, 1), (2, 0)}  # both cells hold one image
    assert _result([1, 2], [1, 2]).most_confused() == (0, 0)


def test_to_json_has_required_fields():
    j = _result([3, 4], [3, 3]).to_json()
    assert set(["accuracy", "loss", "n", "per_class_accuracy", "confusion_matrix"]) <= set(j)
    assert len(j["per_class_accuracy"]) == 10 and len(j["confusion_matrix"]) == 10


def _tiny_test_set(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def _same(a, b):
    return (
        a.n == b.n
        and a.accuracy == b.accuracy
        and abs(a.loss - b.loss) < 1e-6
        and torch.equal(a.confusion, b.confusion)
        and torch.equal(a.predictions, b.predictions)
        and torch.allclose(a.confidences, b.confidences)
        and torch.equal(a.targets, b.targets)
    )


def test_evaluation_is_computed_once_then_read_from_disk(tmp_path, monkeypatch):
    import simplecnn.evaluate as ev
    from simplecnn.model import SimpleCNN

    torch.manual_seed(0)
    model, (x, y) = SimpleCNN(), _tiny_test_set()
    first = ev.evaluate_cached(model, "a" * 64, x, y, cache_dir=tmp_path)
    assert _same(first, ev.evaluate(model, x, y))
    (stored,) = tmp_path.glob("eval-*.pt")
    assert torch.load(stored, weights_only=True)["digest"] == "a" * 64  # plain tensors: weights_only loads it

    def no_compute(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(ev, "evaluate", no_compute)
    assert _same(ev.evaluate_cached(model, "a" * 64, x, y, cache_dir=tmp_path), first)


def test_evaluation_cache_is_keyed_by_checkpoint_and_test_set(tmp_path):
    from simplecnn.evaluate import evaluate_cached, test_set_key
    from simplecnn.model import SimpleCNN

    torch.manual_seed(0)
    model, (x, y) = SimpleCNN(), _tiny_test_set()
    evaluate_cached(model, "a" * 64, x, y, cache_dir=tmp_path)
    evaluate_cached(model, "b" * 64, x, y, cache_dir=tmp_path)
    evaluate_cached(model, "a" * 64, x[:32], y[:32], cache_dir=tmp_path)
    assert len(list(tmp_path.glob("eval-*.pt"))) == 3
    assert test_set_key(x, y) != test_set_key(x[:32], y[:32])
    assert test_set_key(x, y) == test_set_key(x.clone(), y.clone())


def test_corrupt_or_foreign_cache_is_recomputed(tmp_path):
    from simplecnn.evaluate import evaluate, evaluate_cached
    from simplecnn.model import SimpleCNN

    torch.manual_seed(0)
    model, (x, y) = SimpleCNN(), _tiny_test_set()
    evaluate_cached(model, "a" * 64, x, y, cache_dir=tmp_path)
    (stored,) = tmp_path.glob("eval-*.pt")
    stored.write_bytes(b"garbage")
    assert _same(evaluate_cached(model, "a" * 64, x, y, cache_dir=tmp_path), evaluate(model, x, y))
    assert torch.load(stored, weights_only=True)["n"] == 64  # rewritten whole


def test_shipped_evaluation_belongs_to_the_shipped_checkpoint(mnist):
    from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_model
    from simplecnn.evaluate import SHIPPED_EVALUATION, evaluate, test_set_key
    from simplecnn.files import digest_file as file_digest

    blob = torch.load(SHIPPED_EVALUATION, weights_only=True)
    assert blob["digest"] == file_digest(DEFAULT_CHECKPOINT)
    assert blob["test_set"] == test_set_key(mnist.test_x, mnist.test_y) and blob["n"] == len(mnist.test_y)
    model, _ = load_model()
    fresh = evaluate(model, mnist.test_x[:500], mnist.test_y[:500])
    assert torch.allclose(blob["logits"][:500], fresh.logits, atol=1e-4)


def test_stored_evaluation_is_found_without_the_test_set(tmp_path):
    from simplecnn.checkpoint import DEFAULT_CHECKPOINT
    from simplecnn.evaluate import evaluate_cached, stored_evaluation
    from simplecnn.files import digest_file as file_digest
    from simplecnn.model import SimpleCNN

    shipped = stored_evaluation(file_digest(DEFAULT_CHECKPOINT), TEST_SIZE, cache_dir=tmp_path)
    assert shipped is not None and shipped.accuracy > 0.99
    torch.manual_seed(0)
    model, (x, y) = SimpleCNN(), _tiny_test_set()
    assert stored_evaluation("c" * 64, 64, cache_dir=tmp_path) is None
    kept = evaluate_cached(model, "c" * 64, x, y, cache_dir=tmp_path)
    assert _same(stored_evaluation("c" * 64, 64, cache_dir=tmp_path), kept)
    assert stored_evaluation("c" * 64, 32, cache_dir=tmp_path) is None


def test_every_confidence_is_calibrated_by_the_checkpoints_own_temperature(tmp_path):
    from simplecnn.calibration import Calibration, probabilities
    from simplecnn.evaluate import evaluate, evaluate_cached
    from simplecnn.model import SimpleCNN

    torch.manual_seed(0)
    model = SimpleCNN()
    x, y = torch.randn(400, 1, 28, 28), torch.randint(0, 10, (400,))
    result = evaluate(model, x, y)
    assert result.calibration is not None and result.calibration.fit_images == 200
    assert torch.allclose(result.confidences, probabilities(result.logits, result.temperature).max(1).values)
    assert evaluate(model, x, y, calibrated=False).calibration is None
    assert evaluate(model, x[:64], y[:64]).calibration is None  # too few images to fit on half of them
    recorded = Calibration(2.0, 0.1, 0.05, 100, 100)  # e.g. the one its training run recorded
    assert torch.allclose(result.recalibrated(recorded).confidences, probabilities(result.logits, 2.0).max(1).values)
    kept = evaluate_cached(model, "d" * 64, x, y, cache_dir=tmp_path)
    again = evaluate_cached(model, "d" * 64, x, y, cache_dir=tmp_path)
    assert again.calibration == kept.calibration and torch.equal(again.confidences, kept.confidences)


def test_known_calibration_prefers_the_recorded_one_then_a_kept_evaluation(tmp_path):
    from simplecnn.calibration import Calibration
    from simplecnn.checkpoint import DEFAULT_CHECKPOINT
    from simplecnn.evaluate import known_calibration
    from simplecnn.files import digest_file

    recorded = Calibration(0.8, 0.02, 0.01, 5000, 5000)
    assert known_calibration({"calibration": recorded.to_dict()}, "e" * 64, tmp_path) == recorded
    shipped = known_calibration({}, digest_file(DEFAULT_CHECKPOINT), tmp_path)  # from the shipped evaluation
    assert shipped is not None and 1.0 < shipped.temperature < 1.3 and shipped.report_images == 5000
    assert known_calibration({"calibration": "junk"}, "e" * 64, tmp_path) is None
