import torch

from simplecnn.model import PARAMETER_COUNT, SimpleCNN, count_parameters

TUTORIAL_KEYS = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight", "conv3.bias",
                 "conv4.weight", "conv4.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


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
