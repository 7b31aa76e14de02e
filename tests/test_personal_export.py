"""Take the model home: the tutorial's state_dict, the ONNX bundle (checked against PyTorch), the model card and
the standalone predict_onnx.py. The full 10,000-image parity is benchmarks/export_parity.py."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from simplecnn.files import digest_file
from simplecnn.inference.preprocess import to_mnist_pixels
from simplecnn.inference.synthetic import ENCODINGS, encode, stroke_digit_set
from simplecnn.personal import export
from tests.support.tutorial_model import SimpleCNN as TutorialSimpleCNN

pytest.importorskip("onnxruntime", reason="ONNX export is optional: pip install -r requirements-dev.txt")


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_CHECKPOINT)


@pytest.fixture(scope="module")
def bundle(shipped, mnist):
    data = mnist.subset(0, 256)
    return export.onnx_bundle(shipped, digest_file(DEFAULT_CHECKPOINT), data.test_x, data.test_y)


def test_onnx_gives_pytorchs_answers_with_a_named_dynamic_batch(bundle, shipped, mnist):
    import onnx
    import onnxruntime

    parity = bundle.parity
    assert parity.ok and parity.images == 256 and parity.same_digit and parity.max_abs_diff <= 1e-4
    graph = onnx.load_from_string(bundle.onnx).graph
    assert [i.name for i in graph.input] == ["image"] and [o.name for o in graph.output] == ["logits"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, not fixed, batch dimension
    session = onnxruntime.InferenceSession(bundle.onnx, providers=["CPUExecutionProvider"])
    x = mnist.test_x[300:307]  # images the check did not see, in a batch size it did not use
    (logits,) = session.run(["logits"], {"image": x.numpy()})
    with torch.no_grad():
        expected = shipped.model()(x).numpy()
    assert logits.shape == (7, 10) and np.abs(logits - expected).max() <= 1e-4


def test_the_model_card_says_what_the_model_needs(bundle):
    card = bundle.card
    assert card["preprocessing"]["size"] == [28, 28]
    assert card["preprocessing"]["mean"] == pytest.approx(0.1307) and card["preprocessing"]["std"] == 0.3081
    assert card["labels"] == [str(d) for d in range(10)]
    assert card["test_accuracy"]["images"] == 256 and 0.98 < card["test_accuracy"]["value"] <= 1.0
    assert card["training"]["config"]["recipe"] == "tutorial"
    assert {"torch", "onnx", "onnxscript", "onnxruntime", "python"} <= set(card["versions"])
    assert card["onnx"]["opset"] >= 18 and card["onnx"]["check"]["max_abs_logit_difference"] <= 1e-4
    with zipfile.ZipFile(io.BytesIO(bundle.zip_bytes())) as archive:
        assert sorted(archive.namelist()) == ["README.txt", "model.onnx", "model_card.json", "predict_onnx.py"]
        assert json.loads(archive.read("model_card.json"))["checkpoint_sha256"] == digest_file(DEFAULT_CHECKPOINT)


def test_a_model_that_disagrees_is_never_offered(shipped, mnist, monkeypatch):
    monkeypatch.setattr(export, "onnx_bytes", lambda model: b"an ONNX file")
    monkeypatch.setattr(export, "check_parity", lambda *a, **k: export.Parity("MNIST test set", 4, True, 2e-4, 4, 20))
    with pytest.raises(export.ExportError) as caught:
        export.onnx_bundle(shipped, "digest", mnist.test_x[:4], mnist.test_y[:4])
    assert caught.value.code == export.ExportProblem.PARITY
    monkeypatch.setattr(export, "check_parity", lambda *a, **k: export.Parity("MNIST test set", 4, False, 0.0, 3, 20))
    with pytest.raises(export.ExportError):
        export.onnx_bundle(shipped, "digest", mnist.test_x[:4], mnist.test_y[:4])


def test_missing_onnx_packages_are_one_clear_line(shipped, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # what an environment without it gives: ImportError
    with pytest.raises(export.ExportError) as caught:
        export.onnx_bytes(shipped.model())
    assert caught.value.code == export.ExportProblem.MISSING
    assert "onnxscript" in str(caught.value) and "pip install" in str(caught.value) and "\n" not in str(caught.value)


def test_the_state_dict_loads_in_the_tutorials_own_class(shipped, mnist):
    model = TutorialSimpleCNN()
    model.load_state_dict(torch.load(io.BytesIO(export.state_dict_bytes(shipped)), weights_only=True))
    model.eval()
    x = mnist.test_x[:200]
    with torch.no_grad():
        assert torch.equal(model(x).argmax(1), shipped.model()(x).argmax(1))


def test_predict_onnx_reads_a_png_as_the_app_does(bundle, tmp_path):
    from PIL import Image

    for name, data in bundle.files().items():
        (tmp_path / name).write_bytes(data)
    images, labels = stroke_digit_set(10, seed=5)
    paths = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        paths.append(tmp_path / f"{label}_{ENCODINGS[i % 3]}.png")
        Image.fromarray(encode(image, ENCODINGS[i % 3]) if image.ndim == 2 else image).save(paths[-1])
    out = subprocess.run(
        [sys.executable, str(tmp_path / "predict_onnx.py"), "--json", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # a stranger's machine: not the studio's folder
    )
    assert out.returncode == 0, out.stderr
    answers = [json.loads(line)["digit"] for line in out.stdout.splitlines()]
    assert answers == labels
    sys.path.insert(0, str(tmp_path))
    try:
        import predict_onnx  # the bundled copy: its preprocessing must be the app's, to the float
    finally:
        sys.path.remove(str(tmp_path))
    for path in paths:
        picture = np.asarray(Image.open(path))
        assert np.abs(predict_onnx.to_mnist(predict_onnx.read_image(str(path))) - to_mnist_pixels(picture)).max() < 1e-5


def test_predict_onnx_says_what_is_wrong_in_one_line(bundle, tmp_path):
    for name, data in bundle.files().items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "notes.png").write_text("not a picture")
    out = subprocess.run(
        [sys.executable, str(tmp_path / "predict_onnx.py"), str(tmp_path / "notes.png"), str(tmp_path / "gone.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 2


def test_cli_exports_both_formats(bundle, tmp_path, monkeypatch, capsys):
    from simplecnn.cli import main

    monkeypatch.setattr(export, "onnx_bundle", lambda *args, **kwargs: bundle)  # the export itself is tested above
    assert main(["export", str(DEFAULT_CHECKPOINT), "--format", "onnx", "--out", str(tmp_path / "onnx")]) == 0
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == [
        "README.txt",
        "model.onnx",
        "model_card.json",
        "predict_onnx.py",
    ]
    assert main(["export", str(DEFAULT_CHECKPOINT), "--format", "pt", "--out", str(tmp_path / "pt")]) == 0
    TutorialSimpleCNN().load_state_dict(torch.load(tmp_path / "pt" / "model.pt", weights_only=True))
    stated = load_checkpoint(DEFAULT_CHECKPOINT).accuracy
    assert json.loads((tmp_path / "pt" / "model_card.json").read_text())["test_accuracy"]["value"] == stated
    capsys.readouterr()
    assert main(["export", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_the_apps_bundle_is_made_in_its_own_process_once(tmp_path, monkeypatch):
    import subprocess as sp

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    digest = digest_file(DEFAULT_CHECKPOINT)
    blob = export.bundle_zip(DEFAULT_CHECKPOINT, digest, check_images=16)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        assert sorted(archive.namelist()) == ["README.txt", "model.onnx", "model_card.json", "predict_onnx.py"]
        assert json.loads(archive.read("model_card.json"))["onnx"]["check"]["images"] == 16
    with pytest.raises(export.ExportError) as caught:
        export.bundle_zip(tmp_path / "none.pt", "0" * 64)
    assert caught.value.code == export.ExportProblem.FAILED and "no such file" in str(caught.value)
    monkeypatch.setattr(sp, "run", lambda *a, **k: pytest.fail("made again"))
    assert export.bundle_zip(DEFAULT_CHECKPOINT, digest) == blob  # kept under the checkpoint's digest
    assert export.bundle_zip(DEFAULT_CHECKPOINT.read_bytes(), digest) == blob  # an upload's bytes: the same file
    assert export.cached_bundle(digest) is not None and export.cached_bundle("f" * 64) is None


def test_the_apps_bundle_says_which_package_is_missing(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    with pytest.raises(export.ExportError) as caught:
        export.bundle_zip(DEFAULT_CHECKPOINT, "digest")
    assert caught.value.code == export.ExportProblem.MISSING and caught.value.params["missing"] == "onnx"
