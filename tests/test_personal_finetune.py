"""Fine-tuning on someone's drawings: the engine's mixed batches and starting weights, the held-out split, the
before/after, the run machinery (scheduler, delete, share link), the downloads and the CLI. Small: a handful of
drawings and a few hundred MNIST images; the 30 s acceptance run is benchmarks/finetune_style.py."""

from __future__ import annotations

import io
import threading
import time
import zipfile

import numpy as np
import pytest
import torch

from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from simplecnn.execution.local import LocalExecutor
from simplecnn.files import digest_file
from simplecnn.inference.preprocess import to_mnist_pixels
from simplecnn.personal import archive
from simplecnn.personal.finetune import FINETUNE, FinetuneError, FinetuneInputs, prepare
from simplecnn.personal.handwriting import styled_digits
from simplecnn.personal.store import DrawingSet, DrawingStore, held_out
from simplecnn.training.config import TrainConfig
from simplecnn.training.engine import train
from simplecnn.training.events import BatchEnd, BeforeAfter, RunEnded, RunStatus
from simplecnn.training.loop import Mix, StepContext, build_context, shuffled_batches
from simplecnn.workshop.board import shared_run
from simplecnn.workshop.room import Room
from simplecnn.workshop.scheduler import TrainingScheduler

SMALL = FINETUNE.replace(budget=0.0, limit_train=512, limit_test=128, batch_size=64, report_every=1)


def style_set(n: int, seed: int = 3) -> DrawingSet:
    stream = styled_digits(seed)
    pairs = [next(stream) for _ in range(n)]
    pixels = np.stack([np.round(to_mnist_pixels(img) * 255).astype(np.uint8) for img, _ in pairs])
    return DrawingSet(pixels, np.array([label for _, label in pairs]), tuple(f"d{i}" for i in range(n)))


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_CHECKPOINT)


@pytest.fixture(scope="module")
def inputs(shipped):
    return prepare(shipped.state_dict, digest_file(DEFAULT_CHECKPOINT), "shipped", style_set(12))


@pytest.fixture(scope="module")
def small_mnist(mnist):
    return mnist.subset(512, 128)


def test_every_batch_carries_its_share_of_drawings():
    n, mixed = 200, 7
    ctx = StepContext(
        model=torch.nn.Linear(1, 1),
        net=torch.nn.Linear(1, 1),
        optimizer=None,
        schedule=None,
        x=torch.zeros(n + mixed, 1, 28, 28, dtype=torch.uint8),
        y=torch.zeros(n + mixed, dtype=torch.long),
        config=TrainConfig(batch_size=32),
        generator=torch.Generator().manual_seed(0),
        bf16=False,
        started=0.0,
        mixed=mixed,
        mix_per_batch=4,
    )
    batches = shuffled_batches(ctx)
    assert all(len(b) <= 32 and int((b >= n).sum()) == 4 for b in batches)
    ours = torch.cat([b[b < n] for b in batches])
    assert sorted(ours.tolist()) == list(range(n))  # every MNIST image once per pass, as before


def test_the_context_of_a_finetune_holds_its_drawings_at_the_end(small_mnist):
    mix = Mix(torch.full((9, 1, 28, 28), 255, dtype=torch.uint8), torch.full((9,), 7), per_batch=4)
    config = TrainConfig(batch_size=32, device="cpu")
    ctx = build_context(config, small_mnist, torch.device("cpu"), 0.0, None, None, mix=mix)
    assert (ctx.mixed, ctx.mix_per_batch, ctx.seen) == (9, 4, 0)
    assert len(ctx.y) == len(small_mnist.train_y) + 9 and bool((ctx.y[-9:] == 7).all())
    assert all(int((b >= len(small_mnist.train_y)).sum()) == 4 for b in shuffled_batches(ctx))


def test_a_run_starts_from_the_given_weights(shipped, small_mnist):
    config = SMALL.replace(lr=1e-12, augment=False)  # too small a step to move anything
    mix = Mix(torch.zeros(3, 1, 28, 28, dtype=torch.uint8), torch.tensor([1, 2, 3]), 4)
    events = list(train(config, small_mnist, start=shipped.state_dict, mix=mix))
    assert events[-1].status == RunStatus.COMPLETED and events[-1].best_accuracy > 0.95  # a fresh model: ~10%
    with pytest.raises(ValueError):
        next(train(config, small_mnist, mix=Mix(mix.pixels, mix.labels, 64)))


def test_prepare_splits_by_content_and_refuses_nothing_to_learn(shipped, inputs):
    drawings = style_set(12)
    expected_held = [i for i in range(12) if held_out(drawings.pixels[i], 0.5)]
    assert list(inputs.held_names) == [drawings.names[i] for i in expected_held]
    assert len(inputs.train_labels) + len(inputs.held_labels) == 12 and len(inputs.train_labels) > 0
    assert FinetuneInputs.from_dict(inputs.to_dict()) == inputs  # what travels to a Ray worker comes back equal
    with pytest.raises(FinetuneError) as caught:
        prepare(shipped.state_dict, "d", "shipped", drawings.take(np.isin(np.arange(12), expected_held)))
    assert caught.value.code == "personal.nothing_to_learn"


def test_a_finetune_reports_before_and_after_just_before_it_ends(inputs, small_mnist, tmp_path):
    out = tmp_path / "best.pt"
    events = list(
        LocalExecutor(data_loader=lambda *a: small_mnist).execute(SMALL, threading.Event(), out, None, inputs)
    )
    compared, ended = events[-2], events[-1]
    assert isinstance(compared, BeforeAfter) and isinstance(ended, RunEnded)
    assert ended.status == RunStatus.COMPLETED and ended.checkpoint == out
    assert compared.held_out == len(inputs.held_labels) and compared.mnist_images == 128
    assert compared.held_before is not None and compared.mnist_before == pytest.approx(1.0, abs=0.03)
    after = load_checkpoint(out).model()
    held = inputs.held_set()
    with torch.no_grad():
        answers = after(torch.from_numpy(held.pixels).float().div(255).sub(0.1307).div(0.3081).unsqueeze(1)).argmax(1)
    assert compared.held_after == pytest.approx(float((answers.numpy() == held.labels).mean()))
    assert all(before != after for _, _, before, after in compared.changed)


def wait_for(predicate, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_scheduler_runs_a_finetune_then_shares_and_deletes_it(inputs, small_mnist, runs_dir):
    scheduler = TrainingScheduler(max_concurrent=1, runs_root=runs_dir, data_loader=lambda *a: small_mnist)
    try:
        run = scheduler.submit("alice", SMALL, finetune=inputs)
        assert scheduler.shared(run.share) is None  # not finished: no read-only link yet
        assert wait_for(lambda: not run.active)
        assert run.status == RunStatus.COMPLETED and run.before_after is not None and run.batches
        assert isinstance(run.batches[0], BatchEnd) and run.config.recipe == "finetune"
        assert scheduler.shared(run.share) is run and scheduler.shared("not-a-key") is None
        room = Room()
        assert shared_run(scheduler, room, run.share) is run and shared_run(scheduler, room, None) is None
        room.clear_board()  # the host clears the room: the link stops working
        assert shared_run(scheduler, room, run.share) is None
        folder = run.checkpoint.parent
        assert folder.is_dir() and scheduler.delete(run.id)
        assert not folder.exists() and scheduler.get(run.id) is None and scheduler.shared(run.share) is None
    finally:
        scheduler.shutdown()


def test_download_zip_reads_back_exactly_and_a_folder_of_pngs_the_same(tmp_path):
    from PIL import Image

    store = DrawingStore(tmp_path / "d.sqlite")
    stream = styled_digits(11)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(6):
        image, label = next(stream)
        Image.fromarray(image).save(folder / f"{label}_{i:03d}.png")
        store.add("me", "room", label, to_mnist_pixels(image), (folder / f"{label}_{i:03d}.png").read_bytes())
    Image.fromarray(image).save(folder / "no-label.png")
    mine = store.drawings("me")
    blob = archive.zip_bytes(mine, {d.id: store.original("me", d.id) or b"" for d in mine}, 0.5)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        names = z.namelist()
        assert "labels.csv" in names and archive.NPZ_NAME in names and sum(n.endswith(".png") for n in names) == 6
        assert z.read("labels.csv").decode().splitlines()[0] == "file,label,model_said,created,held_out"
    (tmp_path / "mine.zip").write_bytes(blob)
    from_zip = archive.read_drawings(tmp_path / "mine.zip")
    from_folder = archive.read_drawings(folder)
    assert np.array_equal(from_zip.drawings.pixels, store.drawing_set("me").pixels)
    order = np.argsort([int(n.split("_")[1][:3]) for n in from_folder.drawings.names])
    assert np.array_equal(from_folder.drawings.pixels[order], from_zip.drawings.pixels)  # same preprocessing
    assert len(from_folder.skipped) == 1 and "no-label.png" in from_folder.skipped[0]
    (tmp_path / "mine.npz").write_bytes(archive.npz_bytes(store.drawing_set("me")))
    assert list(archive.read_drawings(tmp_path / "mine.npz").drawings.labels) == [d.label for d in mine]
    store.close()


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a zip", b"hello"])
def test_unreadable_drawings_are_one_line(tmp_path, content):
    path = tmp_path / ("x.zip" if content.startswith(b"PK") else "x.npz")
    path.write_bytes(content)
    with pytest.raises(archive.DrawingsFileError) as caught:
        archive.read_drawings(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(archive.DrawingsFileError) as caught:
        archive.read_drawings(tmp_path / "missing")
    assert caught.value.code == archive.ArchiveProblem.UNREADABLE


def test_cli_finetunes_on_a_folder_of_pngs(tmp_path, small_mnist, monkeypatch, capsys):
    from PIL import Image

    from simplecnn import cli
    from simplecnn.personal import finetune

    stream = styled_digits(5)
    for i in range(8):
        image, label = next(stream)
        Image.fromarray(image).save(tmp_path / f"{label}_{i:03d}.png")
    monkeypatch.setattr(finetune, "FINETUNE", SMALL)
    here = LocalExecutor(data_loader=lambda *a: small_mnist)
    monkeypatch.setattr("simplecnn.execution.choose.executor_from_env", lambda *a, **k: here)
    code = cli.main(["finetune", "--drawings", str(tmp_path), "--budget", "0", "--out", str(tmp_path / "o"), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Held-out drawings" in out and (tmp_path / "o" / "best.pt").is_file()
    assert '"before_after"' in out.splitlines()[-1]
