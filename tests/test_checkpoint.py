import io
import os
import pickle
from pathlib import Path

import pytest
import torch

from simplecnn.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from simplecnn.model import SimpleCNN
from tests.support.checkpoints import RunsCode, malicious_checkpoint


def test_round_trip_keeps_weights_config_metrics_history(tmp_path):
    model = SimpleCNN()
    path = save_checkpoint(
        tmp_path / "c.pt", model.state_dict(), {"epochs": 3}, {"test_accuracy": 0.99}, {"test_accuracy": [0.98, 0.99]}
    )
    raw = torch.load(path, weights_only=True)
    assert set(raw) >= {"state_dict", "config", "metrics", "history", "format_version"}
    loaded = load_checkpoint(path)
    assert loaded.config == {"epochs": 3} and loaded.accuracy == 0.99
    assert loaded.history["test_accuracy"] == [0.98, 0.99]
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict[k], v)


def test_tutorial_state_dict_loads_both_ways(tmp_path):
    tutorial = SimpleCNN()
    torch.save(tutorial.state_dict(), tmp_path / "best_simplecnn.pth")  # exactly what the notebook does
    ours, ckpt = load_model(tmp_path / "best_simplecnn.pth")
    assert ckpt.plain
    x = torch.randn(2, 1, 28, 28)
    assert torch.allclose(ours(x), tutorial.eval()(x))
    save_checkpoint(tmp_path / "ours.pt", ours.state_dict())
    back = SimpleCNN()
    back.load_state_dict(torch.load(tmp_path / "ours.pt", weights_only=True)["state_dict"])


def test_code_running_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = malicious_checkpoint(tmp_path / "evil.pt", marker)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda sd: sd.pop("fc2.bias"), "missing"),
        (lambda sd: sd.__setitem__("extra", torch.zeros(1)), "unexpected"),
        (lambda sd: sd.__setitem__("fc2.weight", torch.zeros(11, 128)), "shape"),
        (lambda sd: sd.__setitem__("fc1.bias", torch.full((128,), float("nan"))), "NaN"),
    ],
)
def test_strict_checks(tmp_path, mutate, message):
    sd = SimpleCNN().state_dict()
    mutate(sd)
    torch.save(sd, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(tmp_path / "bad.pt")


@pytest.mark.parametrize("payload", [b"", b"not a checkpoint", b"PK\x03\x04" + b"\0" * 50])
def test_garbage_bytes_are_refused(payload):
    with pytest.raises(CheckpointError):
        load_checkpoint(payload)


def test_truncated_checkpoint_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", SimpleCNN().state_dict())
    data = path.read_bytes()
    with pytest.raises(CheckpointError):
        load_checkpoint(data[: len(data) // 2])


def test_missing_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nope.pt")


def test_atomic_save_never_damages_previous_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.pt", SimpleCNN().state_dict(), metrics={"test_accuracy": 0.5})
    before = path.read_bytes()

    def crash(self, data):
        with open(self, "wb") as f:
            f.write(b"partial garbage")
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(Path, "write_bytes", crash)  # the write of the serialized checkpoint
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, SimpleCNN().state_dict(), metrics={"test_accuracy": 0.9})
    assert path.read_bytes() == before
    assert load_checkpoint(path).accuracy == 0.5
    assert os.listdir(tmp_path) == ["c.pt"]  # no temp file left behind


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol_that_runs_code_is_called_unsafe(tmp_path, protocol):
    marker = tmp_path / "pwned"
    with pytest.raises(CheckpointError, match="unsafe pickle"):
        load_checkpoint(pickle.dumps({"state_dict": RunsCode(str(marker))}, protocol=protocol))
    assert not marker.exists()


def test_a_torch_zip_checkpoint_that_runs_code_is_called_unsafe(tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"state_dict": RunsCode(str(marker))}, buffer)
    with pytest.raises(CheckpointError, match="unsafe pickle"):
        load_checkpoint(buffer.getvalue())
    assert not marker.exists()


def test_random_bytes_are_damaged_not_unsafe():
    rng = __import__("random").Random(0)
    for i in range(200):
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2000)))
        blob = (b"\x80\x02" + blob) if i % 2 else blob  # half of them start like a pickle
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(blob)
        assert "unsafe" not in str(err.value), blob[:20]
