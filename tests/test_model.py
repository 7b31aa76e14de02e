import torch
import torch.nn.functional as F

from simplecnn.evaluate import predict_logits
from simplecnn.model import PARAMETER_COUNT, SimpleCNN, count_parameters

TUTORIAL_KEYS = [
    "conv1.weight",
    "conv1.bias",
    "conv2.weight",
    "conv2.bias",
    "conv3.weight",
    "conv3.bias",
    "conv4.weight",
    "conv4.bias",
    "fc1.weight",
    "fc1.bias",
    "fc2.weight",
    "fc2.bias",
]


def test_parameter_count_is_467818():
    # 320 + 9248 + 18496 + 36928 + 401536 + 1290
    assert count_parameters(SimpleCNN()) == PARAMETER_COUNT == 467_818


def test_output_shape_and_names():
    model = SimpleCNN().eval()
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    assert list(model.state_dict()) == TUTORIAL_KEYS
    for name in ["pool1", "pool2", "dropout1", "dropout2", "dropout3"]:
        assert hasattr(model, name)
    assert (model.dropout1.p, model.dropout2.p, model.dropout3.p) == (0.25, 0.25, 0.5)


def test_layer_shapes_match_tutorial():
    shapes = {k: tuple(v.shape) for k, v in SimpleCNN().state_dict().items()}
    assert shapes["conv1.weight"] == (32, 1, 3, 3)
    assert shapes["conv2.weight"] == (32, 32, 3, 3)
    assert shapes["conv3.weight"] == (64, 32, 3, 3)
    assert shapes["conv4.weight"] == (64, 64, 3, 3)
    assert shapes["fc1.weight"] == (128, 3136)
    assert shapes["fc2.weight"] == (10, 128)


def _tutorial_forward(m, x):
    """The tutorial's layout: ReLU before each pool, dropout off (eval)."""
    x = F.max_pool2d(F.relu(m.conv2(F.relu(m.conv1(x)))), 2)
    x = F.max_pool2d(F.relu(m.conv4(F.relu(m.conv3(x)))), 2)
    return m.fc2(F.relu(m.fc1(torch.flatten(x, 1))))


def test_forward_and_gradients_match_tutorial_layout():
    torch.manual_seed(0)
    model = SimpleCNN().eval()
    x = torch.randn(16, 1, 28, 28)
    for channels_last in (False, True):
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        model.zero_grad()
        out = model(x)
        out.square().sum().backward()
        grads = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        ref = _tutorial_forward(model, x)
        ref.square().sum().backward()
        assert torch.allclose(out, ref, atol=1e-6, rtol=0)
        for g, p in zip(grads, model.parameters(), strict=True):
            assert torch.allclose(g, p.grad, atol=1e-6, rtol=1e-5)


def test_predict_logits_matches_plain_forward():
    torch.manual_seed(0)
    model = SimpleCNN().eval()
    x = torch.randn(300, 1, 28, 28)
    with torch.no_grad():
        ref = model(x)
    assert torch.allclose(predict_logits(model, x), ref, atol=1e-5, rtol=0)
    assert torch.allclose(predict_logits(model, x, batch_size=7), ref, atol=1e-5, rtol=0)
