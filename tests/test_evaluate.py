import torch

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
