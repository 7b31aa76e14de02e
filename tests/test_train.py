import threading

import torch

from simplecnn import recipe
from simplecnn.checkpoint import load_checkpoint
from simplecnn.train import BatchEnd, EpochEnd, RunEnded, RunStarted, train


def _events(config, data, **kw):
    return list(train(config, data, **kw))


def test_short_run_learns_and_saves_best(mnist, tmp_path):
    config = recipe("fast", limit_train=3000, limit_test=1000, batch_size=64, report_every=5)
    events = _events(config, mnist, out_path=tmp_path / "best.pt")
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    end = events[-1]
    assert end.status == "completed" and end.best_accuracy > 0.85
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert len(batches) == 10 and batches[-1].step == batches[-1].total_steps == 47
    ckpt = load_checkpoint(tmp_path / "best.pt")
    assert abs(ckpt.accuracy - end.best_accuracy) < 1e-9 and len(ckpt.metrics["per_class_accuracy"]) == 10
    assert ckpt.history["test_accuracy"] == [end.best_accuracy] and ckpt.config["limit_train"] == 3000


def test_same_seed_same_weights(mnist, tmp_path):
    config = recipe("tutorial", epochs=1, limit_train=512, limit_test=256, augment=True)
    _events(config, mnist, out_path=tmp_path / "a.pt")
    _events(config, mnist, out_path=tmp_path / "b.pt")
    _events(config.replace(seed=7), mnist, out_path=tmp_path / "c.pt")
    a, b, c = (load_checkpoint(tmp_path / f"{n}.pt").state_dict for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_cancel_from_another_thread_stops_within_one_batch(mnist, tmp_path):
    cancel = threading.Event()
    config = recipe("tutorial", epochs=3, limit_train=6400, limit_test=256, batch_size=64, report_every=1)
    steps = []
    for ev in train(config, mnist, cancel=cancel, out_path=tmp_path / "best.pt"):
        if isinstance(ev, BatchEnd):
            steps.append(ev.step)
            if ev.step == 3:
                threading.Thread(target=cancel.set).start()
                threading.Event().wait(0.2)
        last = ev
    assert last.status == "cancelled"
    assert steps[-1] <= 4  # at most the batch in flight when the flag was set
    assert not (tmp_path / "best.pt").exists()  # no epoch finished: nothing half-made is written


def test_early_stopping_and_lr_schedule(mnist):
    config = recipe("tutorial", epochs=4, limit_train=256, limit_test=128, patience=1, step_size=1, gamma=0.5,
                    lr=1e-9)
    events = _events(config, mnist)
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert epochs[0].lr == 0.5e-9  # LR after StepLR's step, as the tutorial prints it
    assert events[-1].status == "early_stopped" and epochs[-1].early_stop
    assert len(epochs) == 2 and epochs[-1].epochs_without_improvement == 1


def test_non_finite_loss_stops_with_message(mnist):
    config = recipe("tutorial", epochs=1, limit_train=1280, limit_test=128, lr=1e6, report_every=1)
    end = _events(config, mnist)[-1]
    assert end.status == "failed" and "learning rate" in end.message


def test_augmentation_keeps_background_and_shape(mnist):
    from simplecnn.augment import random_affine
    from simplecnn.data import BACKGROUND

    x = mnist.train_x[:16]
    out = random_affine(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.allclose(out[:, :, 0, 0], torch.full((16, 1), BACKGROUND), atol=1e-4)
    assert not torch.allclose(out, x)
