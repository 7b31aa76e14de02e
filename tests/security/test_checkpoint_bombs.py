"""A checkpoint is sized from its zip directory before torch.load: the compressed-metrics checkpoint (gigabytes of
zeros inside a few MB) is refused with one line, and refusing it costs almost no memory."""

from __future__ import annotations

import io
import zipfile

import pytest
import torch

from simplecnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from simplecnn.model import SimpleCNN
from tests.support.hostile import ROOT, compressed_metrics_checkpoint, costs_in_child

SETUP = "import torch\nfrom simplecnn.checkpoint import CheckpointError, load_checkpoint"


def test_compressed_metrics_checkpoint_is_refused_in_one_line_without_unpacking(compressed_checkpoints, tmp_path):
    liar = compressed_metrics_checkpoint(tmp_path / "liar.pt", 1 << 28, declared=4096)  # the directory understates
    bodies = []
    for gb, path in compressed_checkpoints.items():
        assert path.stat().st_size <= 5 << 20  # the probe: gigabytes inside at most 5 MB
        assert sum(i.file_size for i in zipfile.ZipFile(path).infolist()) > gb << 30
        bodies += [f"load_checkpoint('{path}')", f"load_checkpoint(open('{path}', 'rb').read())"]
    results = costs_in_child(SETUP, *bodies, f"load_checkpoint('{liar}')")
    for outcome, growth in results[:-1]:
        assert outcome.startswith("CheckpointError: it would unpack to"), outcome
        assert "\n" not in outcome
        assert growth < 100, f"refusing it took {growth:.0f} MB"
    outcome, growth = results[-1]  # the unpacker stops at the claimed size and fails
    assert outcome.startswith("CheckpointError: not a valid checkpoint"), outcome
    assert growth < 100, f"refusing it took {growth:.0f} MB"


def test_the_cli_refuses_it_in_one_line(compressed_checkpoints, capsys):
    from simplecnn.cli import main

    capsys.readouterr()
    code = main(["evaluate", "--checkpoint", str(compressed_checkpoints[3])])  # refused before unpacking
    out, err = capsys.readouterr()
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "would unpack to" in err
    assert "Traceback" not in err + out


@pytest.fixture()
def shipped_payload():
    return torch.load(ROOT / "checkpoints" / "simplecnn.pt", weights_only=True)


def _saved(payload) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "value", ["abc", 10**400, float("nan"), float("inf"), -0.5, 1.5, [0.9], {"a": 1}, torch.zeros(1000)]
)
def test_a_bad_recorded_accuracy_is_dropped_not_shown_and_not_fatal(shipped_payload, value):
    shipped_payload["metrics"]["test_accuracy"] = value
    ckpt = load_checkpoint(_saved(shipped_payload))
    assert ckpt.accuracy is None and "test_accuracy" not in ckpt.metrics
    assert ckpt.metrics["n_test"] == 10_000  # the good metrics stay


def test_only_typed_metrics_config_and_history_are_kept(shipped_payload):
    shipped_payload["metrics"].update(extra=torch.zeros(1000), per_class_accuracy=[0.5] * 9, epoch=2.5)
    shipped_payload["config"].update(
        recipe="x" * 10_000, nested={"a": [1, 2], "deep": {"b": 1}, "t": torch.zeros(2)}, lr=float("nan")
    )
    shipped_payload["history"].update(junk=list(range(20_000)), test_loss=["abc"])
    shipped_payload["meta"]["big"] = torch.zeros(10)
    ckpt = load_checkpoint(_saved(shipped_payload))
    assert set(ckpt.metrics) == {"test_accuracy", "test_loss", "n_test"}
    assert "recipe" not in ckpt.config and "lr" not in ckpt.config
    assert ckpt.config["nested"] == {"a": [1, 2]}  # one level of settings, scalars and short lists only
    assert ckpt.config["epochs"] == 15
    assert "junk" not in ckpt.history and "test_loss" not in ckpt.history and len(ckpt.history["epoch"]) == 15
    assert "big" not in ckpt.meta
    values = [*ckpt.metrics.values(), *ckpt.config.values(), *ckpt.meta.values()]
    assert not any(isinstance(v, torch.Tensor) for v in values)


def test_the_shipped_checkpoint_keeps_everything(shipped_payload):
    ckpt = load_checkpoint(ROOT / "checkpoints" / "simplecnn.pt")
    assert ckpt.metrics == shipped_payload["metrics"] and ckpt.history == shipped_payload["history"]
    assert ckpt.config == shipped_payload["config"]


def test_too_many_entries_and_an_oversized_object_tree_are_refused(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", SimpleCNN().state_dict())
    crowded = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(crowded, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        for i in range(300):
            dst.writestr(f"archive/extra/{i}", b"")
    with pytest.raises(CheckpointError, match="holds 3"):
        load_checkpoint(crowded.getvalue())
    with pytest.raises(CheckpointError, match="damaged or is not a PyTorch checkpoint"):
        load_checkpoint(_saved({"state_dict": SimpleCNN().state_dict(), "history": {"x": list(range(300_000))}}))


def test_the_pre_zip_torch_format_is_refused(tmp_path):
    buffer = io.BytesIO()
    torch.save(SimpleCNN().state_dict(), buffer, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="damaged or is not a PyTorch checkpoint"):
        load_checkpoint(buffer.getvalue())
