"""LeNet-5 beside SimpleCNN: the tutorial's part 2 network, trainable, saved, reloaded, evaluated, predicted with,
checked and explained wherever SimpleCNN is."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from simplecnn import explain
from simplecnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from simplecnn.data import normalize
from simplecnn.inference import digitcheck
from simplecnn.inference.predict import predict_batch
from simplecnn.inference.stages import forward_stages
from simplecnn.model import ARCHITECTURES, LeNet5, SimpleCNN, count_parameters
from simplecnn.perf.layers import training_forward
from simplecnn.training.config import Architecture, TrainConfig, recipe
from simplecnn.training.engine import train
from simplecnn.training.events import RunEnded, RunStarted, RunStatus
from simplecnn.training.runs import list_runs
from simplecnn.workshop.board import BoardRow, board_csv

ROOT = Path(__file__).resolve().parent.parent


def test_lenet5_is_the_tutorials_part2_network():
    model = LeNet5().eval()
    assert count_parameters(model) == 61_706  # the tutorial's "~60K"
    assert (model.conv1.kernel_size, model.conv1.padding, model.conv2.kernel_size) == ((5, 5), (2, 2), (5, 5))
    x = torch.randn(4, 1, 28, 28)
    m = model
    by_hand = F.avg_pool2d(torch.tanh(m.conv2(F.avg_pool2d(torch.tanh(m.conv1(x)), 2))), 2)
    by_hand = m.fc3(torch.tanh(m.fc2(torch.tanh(m.fc1(torch.flatten(by_hand, 1))))))
    torch.testing.assert_close(model(x), by_hand)
    assert set(ARCHITECTURES) == set(Architecture._value2member_map_)


def test_config_names_the_network_and_recipes_are_tuned_for_it():
    config = recipe("quick", model="lenet5")
    assert config.model is Architecture.LENET5 and config.to_dict()["model"] == "lenet5"
    assert (config.lr, config.limit_test, config.budget) == (1e-2, 0, 30.0)
    assert recipe("quick").model is Architecture.SIMPLECNN and recipe("quick").limit_test == 0
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="model must be"):
        TrainConfig(model="resnet").validate()  # type: ignore[arg-type]


def test_checkpoints_name_and_rebuild_their_network(tmp_path):
    lenet = LeNet5()
    path = save_checkpoint(tmp_path / "l.pt", lenet.state_dict(), {"model": "lenet5"})
    raw = torch.load(path, weights_only=True)
    assert raw["architecture"] == "lenet5"
    ckpt = load_checkpoint(path)
    assert ckpt.architecture == "lenet5" and isinstance(ckpt.model(), LeNet5)
    torch.testing.assert_close(ckpt.model().state_dict(), lenet.state_dict())
    torch.save(lenet.state_dict(), tmp_path / "plain.pt")  # a bare state_dict, as the tutorial saves one
    assert load_checkpoint(tmp_path / "plain.pt").architecture == "lenet5"
    # A checkpoint written before LeNet-5 came names no network: it is a SimpleCNN.
    old = dict(torch.load(save_checkpoint(tmp_path / "s.pt", SimpleCNN().state_dict()), weights_only=True))
    old.pop("architecture")
    torch.save(old, tmp_path / "old.pt")
    assert isinstance(load_checkpoint(tmp_path / "old.pt").model(), SimpleCNN)
    for name, message in (("lenet5", "not a LeNet5 state_dict"), ("vgg16", "unknown network"), (["x"], "unknown")):
        torch.save({**old, "architecture": name}, tmp_path / "bad.pt")
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(tmp_path / "bad.pt")


def test_the_engine_trains_lenet5_without_simplecnns_speed_layers(tmp_path, mnist):
    config = recipe("tutorial", model="lenet5", epochs=1, batch_size=64, limit_train=1024, limit_test=256)
    events = list(train(config, data=mnist, out_path=tmp_path / "best.pt"))
    assert isinstance(events[0], RunStarted) and events[0].parameters == 61_706
    end = events[-1]
    assert isinstance(end, RunEnded) and end.status == "completed" and end.best_accuracy > 0.5
    ckpt = load_checkpoint(end.checkpoint)
    assert ckpt.architecture == "lenet5" and ckpt.config["model"] == "lenet5"
    model = ckpt.model()
    assert training_forward(model) is model and training_forward(SimpleCNN()) is not None


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "simplecnn", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_cli_trains_and_evaluates_lenet5(tmp_path, mnist, capsys):
    from simplecnn.cli import main

    # `train` in a child process (it sets process-wide thread and malloc settings); the rest in this one.
    r = cli("train", "--model", "lenet5", "--epochs", "1", "--limit-train", "2048", "--limit-test", "256",
            "--json", "--out", tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    assert (summary["model"], summary["parameters"], summary["train_images"]) == ("lenet5", 61_706, 2048)
    assert "Model: lenet5" in r.stdout
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(tmp_path / "best.pt"), "--limit-test", "500", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 500 and result["accuracy"] > 0.6
    assert main(["train", "--model", "vgg16"]) == 2  # refused before any process-wide setting
    assert capsys.readouterr().err.strip().endswith("model must be 'simplecnn' or 'lenet5'")


def test_stages_digit_check_and_inside_view_work_on_lenet5(tmp_path, mnist):
    torch.manual_seed(0)
    model = LeNet5().eval()
    x = normalize(mnist.test_pixels[:1])
    stages = forward_stages(model, x)
    assert {k: tuple(v.shape) for k, v in stages.items() if k.startswith("pool")} == {
        "pool1": (1, 6, 14, 14),
        "pool2": (1, 16, 5, 5),
    }
    torch.testing.assert_close(stages["logits"], model(x))
    features = digitcheck.embed(model, normalize(mnist.test_pixels[:5]))
    assert (features.block1.shape, features.block2.shape, features.fc.shape) == ((5, 6), (5, 16), (5, 120))
    act = explain.activations(model, x)
    assert act.conv_stages == ("conv1", "conv2") and act.stage("conv2").shape == (16, 10, 10)
    assert act.embedding.shape == (84,) and np.isclose(act.probabilities.sum(), 1.0)
    assert explain.conv1_filters(model).shape == (6, 5, 5)
    assert explain.embed(model, normalize(mnist.test_pixels[:3])).shape == (3, 84)
    assert explain.integrated_gradients(model, x, steps=8).pixels.shape == (28, 28)
    assert explain.robustness(model, x, explain.Transform(rotation=10)).digit in range(10)
    assert explain.adversarial(model, x, eps=0.1, steps=3).original_digit in range(10)
    answers = predict_batch(model, normalize(mnist.test_pixels[:4]), digitcheck.LogitOnly())
    assert len(answers) == 4 and all(0 <= a.digit <= 9 for a in answers)


def test_run_lists_and_the_board_name_the_network(runs_dir):
    save_checkpoint(runs_dir / "a" / "best.pt", LeNet5().state_dict(), {"model": "lenet5", "recipe": "quick"})
    save_checkpoint(runs_dir / "b" / "best.pt", SimpleCNN().state_dict(), {"recipe": "tutorial"})
    assert {r.name: r.model for r in list_runs()} == {"a": "lenet5", "b": "simplecnn"}
    row = BoardRow("r1", "Ada", "quick", RunStatus.COMPLETED, None, 1.0, 0.98, 30.0, 1, 60_000, model="lenet5")
    table = list(csv.DictReader(io.StringIO(board_csv([row]))))
    assert table[0]["model"] == "lenet5" and list(table[0])[:4] == ["run", "participant", "preset", "model"]
