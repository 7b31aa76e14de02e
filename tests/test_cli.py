"""The CLI. Most commands run in this process (simplecnn.cli.main, output captured); a child process where the
process is the subject: `python -m simplecnn`'s exit status, and `train`, which sets process-wide malloc settings."""

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simplecnn.checkpoint import DEFAULT_CHECKPOINT
from simplecnn.cli import main
from tests.support.checkpoints import malicious_checkpoint

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def cli(capsys):
    """`python -m simplecnn ARGS` in this process: its exit status (argparse's exits included) and output."""

    def run(*args) -> Result:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def python_m_simplecnn(*args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "simplecnn", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_help_for_each_command(cli):
    for cmd in ["train", "evaluate", "predict", "bench"]:
        r = cli(cmd, "--help")
        assert r.returncode == 0 and "usage" in r.stdout
    train_help = cli("train", "--help").stdout
    for flag in [
        "--epochs",
        "--batch-size",
        "--lr",
        "--seed",
        "--device",
        "--data",
        "--out",
        "--limit-train",
        "--limit-test",
        "--weight-decay",
        "--augment",
        "--recipe",
        "--patience",
        "--gamma",
        "--step-size",
    ]:
        assert flag in train_help


def test_evaluate_json_on_shipped_checkpoint(cli):
    r = cli("evaluate", "--json", "--limit-test", "2000")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 2000 and out["accuracy"] >= 0.99
    assert len(out["per_class_accuracy"]) == 10 and np.array(out["confusion_matrix"]).sum() == 2000


def test_train_prints_epoch_lines_and_writes_best(tmp_path):
    r = python_m_simplecnn("train", "--epochs", "2", "--limit-train", "512", "--limit-test", "128", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Epoch [ 1/2] Train Loss:" in r.stdout and "⭐" in r.stdout and "LR: 0.001000" in r.stdout
    assert (tmp_path / "best.pt").is_file() and str(tmp_path / "best.pt") in r.stdout


def test_train_rejects_bad_config_without_traceback(cli):
    r = cli("train", "--epochs", "0")  # refused before any process-wide setting: safe in this process
    assert r.returncode == 2 and r.stderr.strip() == "error: epochs must be at least 1"


def test_missing_data_says_where_it_looked(cli, tmp_path, monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise OSError("network disabled in test")

    monkeypatch.setattr(socket.socket, "connect", no_network)  # no download of MNIST either
    r = cli("evaluate", "--data", tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and str(tmp_path) in r.stderr and "SIMPLECNN_DATA" in r.stderr


@pytest.fixture()
def image_files(tmp_path, mnist):
    from simplecnn.data import denormalize

    files = []
    test_x = mnist.subset(0, 5).test_x
    for i in range(5):
        path = tmp_path / f"digit{i}_{int(mnist.test_y[i])}.png"
        Image.fromarray((denormalize(test_x[i, 0]).numpy() * 255).astype(np.uint8)).save(path)
        files.append(path)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello, not an image")
    good = (tmp_path / files[0].name).read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    Image.new("L", (280, 280), 0).save(tmp_path / "blank.png")
    return (
        files,
        [tmp_path / n for n in ["empty.png", "text.png", "truncated.png", "missing.png"]],
        tmp_path / "blank.png",
    )


def test_predict_json_lines_with_per_file_errors(cli, image_files):
    good, bad, blank = image_files
    r = cli("predict", *good, *bad, blank, "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == len(good) + len(bad) + 1
    for line, path in zip(lines, good, strict=False):
        assert line["path"] == str(path) and line["error"] is None
        assert line["digit"] == int(path.stem.split("_")[1]) and abs(sum(line["probabilities"]) - 1) < 1e-4
    assert all(line["looks_like_digit"] is True for line in lines[: len(good)])
    for line in lines[len(good) : len(good) + len(bad)]:
        assert line["digit"] is None and line["probabilities"] is None and line["error"]
    assert lines[-1]["digit"] is None and "blank" in lines[-1]["error"]


def test_predict_all_good_exits_zero(cli, image_files):
    r = cli("predict", *image_files[0][:2], "--json")
    assert r.returncode == 0


def test_unsafe_checkpoint_refused_by_evaluate_and_predict(cli, tmp_path, image_files):
    marker = tmp_path / "pwned"
    evil = malicious_checkpoint(tmp_path / "evil.pt", marker)
    for args in (
        ["evaluate", "--checkpoint", evil, "--limit-test", "10"],
        ["predict", image_files[0][0], "--checkpoint", evil],
    ):
        r = cli(*args)
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1 and "unsafe" in r.stderr
        assert not marker.exists()
    # The control: the same commands with a safe checkpoint at a path of the same kind are accepted, so the
    # refusal above is about the file's contents, not about --checkpoint paths.
    safe = tmp_path / "safe.pt"
    safe.write_bytes(DEFAULT_CHECKPOINT.read_bytes())
    for args in (
        ["evaluate", "--checkpoint", safe, "--limit-test", "10"],
        ["predict", image_files[0][0], "--checkpoint", safe],
    ):
        assert cli(*args).returncode == 0


def test_predict_json_says_when_it_is_not_a_digit(cli, tmp_path):
    from simplecnn.inference.synthetic import digit_strokes, render_strokes

    scribble, seven, dot = tmp_path / "scribble.png", tmp_path / "seven.png", tmp_path / "dot.png"
    zigzag = [[(0.1, 0.3), (0.25, 0.7), (0.4, 0.3), (0.55, 0.7), (0.7, 0.3), (0.85, 0.7)]]
    Image.fromarray(render_strokes(zigzag, 20)).save(scribble)
    Image.fromarray(render_strokes(digit_strokes(7), 20)).save(seven)
    Image.fromarray(render_strokes([[(0.4, 0.6)]], 30)).save(dot)
    r = cli("predict", scribble, seven, dot, "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [line["looks_like_digit"] for line in lines[:2]] == [False, True]
    assert [line["verdict"] for line in lines[:2]] == ["not_digit", "digit"]
    assert lines[2]["verdict"] in ("unsure", "not_digit")  # a dot: doubted either way
    assert lines[2]["looks_like_digit"] is (lines[2]["verdict"] == "unsure")  # unsure is not a rejection
    assert lines[0]["digit_score"] > 0 >= lines[1]["digit_score"] and lines[2]["digit_score"] > 0
    assert lines[1]["digit"] == 7
