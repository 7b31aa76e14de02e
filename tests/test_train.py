import threading

import torch

from simplecnn import recipe
from simplecnn.checkpoint import load_checkpoint
from simplecnn.training.engine import train
from simplecnn.training.events import BatchEnd, EpochEnd, RunEnded, RunStarted, RunStatus


def _events(config, data, **kw):
    return list(train(config, data, **kw))


def test_short_run_learns_and_saves_best(mnist, tmp_path):
    config = recipe("fast", limit_train=3000, limit_test=1000, batch_size=64, report_every=5)
    events = _events(config, mnist, out_path=tmp_path / "best.pt")
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    end = events[-1]
    assert end.status == RunStatus.COMPLETED and end.best_accuracy > 0.85
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert len(batches) == 10 and batches[-1].step == batches[-1].total_steps == 47
    ckpt = load_checkpoint(tmp_path / "best.pt")
    assert abs(ckpt.accuracy - end.best_accuracy) < 1e-9 and len(ckpt.metrics["per_class_accuracy"]) == 10
    assert ckpt.history["test_accuracy"] == [end.best_accuracy] and ckpt.config["limit_train"] == 3000


def test_same_seed_same_weights(mnist, tmp_path):
    config = recipe("tutorial", epochs=1, limit_train=256, limit_test=128, augment=True)
    _events(config, mnist, out_path=tmp_path / "a.pt")
    _events(config, mnist, out_path=tmp_path / "b.pt")
    _events(config.replace(seed=7), mnist, out_path=tmp_path / "c.pt")
    a, b, c = (load_checkpoint(tmp_path / f"{n}.pt").state_dict for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_stop_keeps_what_was_learned_evaluated_and_labelled_as_stopped(mnist, tmp_path):
    cancel = threading.Event()
    config = recipe("tutorial", epochs=3, limit_train=6400, limit_test=256, batch_size=64, report_every=1)
    steps = []
    events = []
    for ev in train(config, mnist, cancel=cancel, out_path=tmp_path / "best.pt"):
        events.append(ev)
        if isinstance(ev, BatchEnd):
            steps.append(ev.step)
            if ev.step == 3:
                threading.Thread(target=cancel.set).start()
                threading.Event().wait(0.2)
    end = events[-1]
    assert end.status == RunStatus.STOPPED
    assert steps[-1] <= 4  # at most the batch in flight when the flag was set
    (stopped,) = [e for e in events if isinstance(e, EpochEnd)]
    assert stopped.stopped and stopped.epoch == 1 and stopped.images == steps[-1] * 64
    ckpt = load_checkpoint(end.checkpoint)  # the weights so far, evaluated: usable like any checkpoint
    assert ckpt.metrics["stopped"] and ckpt.accuracy == stopped.test_accuracy == end.best_accuracy
    assert ckpt.metrics["train_images"] == end.images == steps[-1] * 64
    assert ckpt.metrics["calibration"]["fit_images"] == 128


def test_stop_before_any_batch_leaves_no_checkpoint(mnist, tmp_path):
    cancel = threading.Event()
    cancel.set()
    events = _events(
        recipe("tutorial", epochs=1, limit_train=512, limit_test=256),
        mnist,
        cancel=cancel,
        out_path=tmp_path / "best.pt",
    )
    assert events[-1].status == RunStatus.STOPPED and events[-1].checkpoint is None and events[-1].images == 0
    assert not (tmp_path / "best.pt").exists()  # nothing half-made is written


def test_images_seen_and_progress_are_what_happened(mnist, tmp_path):
    config = recipe("tutorial", epochs=2, limit_train=1000, limit_test=256, batch_size=64, report_every=4)
    events = _events(config, mnist, out_path=tmp_path / "best.pt")
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert batches[-1].images == events[-1].images == 2000  # 16 batches per pass, the last one of 40 images
    assert {b.batches_per_epoch for b in batches} == {16}
    assert [round(b.progress, 4) for b in batches] == [round(b.step / 32, 4) for b in batches]
    assert load_checkpoint(tmp_path / "best.pt").history["images"] == [1000, 2000]


def test_early_stopping_and_lr_schedule(mnist):
    config = recipe("tutorial", epochs=4, limit_train=256, limit_test=128, patience=1, step_size=1, gamma=0.5, lr=1e-9)
    events = _events(config, mnist)
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert epochs[0].lr == 0.5e-9  # LR after StepLR's step, as the tutorial prints it
    assert events[-1].status == RunStatus.EARLY_STOPPED and epochs[-1].early_stop
    assert len(epochs) == 2 and epochs[-1].epochs_without_improvement == 1


def test_non_finite_loss_stops_with_message(mnist):
    config = recipe("tutorial", epochs=1, limit_train=1280, limit_test=128, lr=1e6, report_every=1)
    end = _events(config, mnist)[-1]
    assert end.status == RunStatus.FAILED and "learning rate" in end.message


def test_augmentation_keeps_background_and_shape(mnist):
    from simplecnn.data import BACKGROUND
    from simplecnn.training.augment import random_affine

    x = mnist.train_x[:16]
    out = random_affine(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.allclose(out[:, :, 0, 0], torch.full((16, 1), BACKGROUND), atol=1e-4)
    assert not torch.allclose(out, x)


def test_the_engine_uses_torch_optim_as_the_tutorial_writes_it():
    """Adam (fused), StepLR per epoch for the tutorial's recipe, OneCycleLR per batch, the clock for a budget."""
    from simplecnn.training.config import TrainConfig
    from simplecnn.training.schedules import ClockOneCycle, adam, build_schedule

    model = torch.nn.Linear(5, 3)
    opt = adam(model.parameters(), 1e-3, 0.0, torch.device("cpu"))
    assert type(opt) is torch.optim.Adam and opt.defaults["fused"]
    step = build_schedule(opt, TrainConfig(), steps_per_epoch=10)
    assert isinstance(step.scheduler, torch.optim.lr_scheduler.StepLR) and not step.per_batch
    cycle = build_schedule(opt, TrainConfig(schedule="onecycle", epochs=2), steps_per_epoch=10)  # type: ignore[arg-type]
    assert isinstance(cycle.scheduler, torch.optim.lr_scheduler.OneCycleLR) and cycle.per_batch
    clock = build_schedule(opt, TrainConfig(budget=5.0), steps_per_epoch=10)
    assert isinstance(clock.scheduler, ClockOneCycle) and clock.per_batch


def test_clock_one_cycle_follows_torchs_one_cycle_formula():
    """At the same fraction of the run, the clock's LR and beta1 are OneCycleLR's."""
    from simplecnn.training.schedules import one_cycle

    total, pct = 101, 0.25
    ref = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=4e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(ref, max_lr=4e-3, total_steps=total, pct_start=pct)
    warm_end = pct * total - 1
    for i in range(total - 1):
        fraction = i / warm_end * pct if i <= warm_end else pct + (i - warm_end) / (total - 1 - warm_end) * (1 - pct)
        lr, beta1 = one_cycle(fraction, 4e-3, pct)
        assert abs(lr - ref.param_groups[0]["lr"]) < 1e-9
        assert abs(beta1 - ref.param_groups[0]["betas"][0]) < 1e-9
        ref.step()
        sched.step()


def test_clock_one_cycle_shape():
    from simplecnn.training.schedules import one_cycle

    lr, beta1 = one_cycle(0.0, 4e-3, 0.25)
    assert abs(lr - 4e-3 / 25) < 1e-15 and beta1 == 0.95
    lr, beta1 = one_cycle(0.25, 4e-3, 0.25)
    assert abs(lr - 4e-3) < 1e-12 and abs(beta1 - 0.85) < 1e-12
    lr, beta1 = one_cycle(1.0, 4e-3, 0.25)
    assert abs(lr - 4e-3 / 25 / 1e4) < 1e-15 and abs(beta1 - 0.95) < 1e-12


def test_budget_run_follows_the_clock_and_ends_annealed(mnist, tmp_path):
    config = recipe("quick", budget=2.5, limit_train=2000, limit_test=200, report_every=2)
    events = _events(config, mnist, out_path=tmp_path / "best.pt")
    end = events[-1]
    assert end.status == RunStatus.COMPLETED, end.message
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert len(epochs) == 1 and epochs[0].images > 0
    assert epochs[0].lr < config.lr / 1000  # the clock reached the end of the cycle: LR annealed
    ckpt = load_checkpoint(tmp_path / "best.pt")
    assert ckpt.metrics["train_images"] == epochs[0].images and ckpt.config["budget"] == 2.5
    assert ckpt.config["schedule"] == "onecycle" and type(ckpt.config["schedule"]) is str
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert {b.batches_per_epoch for b in batches} == {32}  # a pass over 2,000 images: it never jumps
    progress = [b.progress for b in batches]
    assert progress == sorted(progress) and 0 < progress[0] and progress[-1] <= 1.0


def test_budget_too_short_fails_with_message(mnist):
    end = _events(recipe("quick", budget=0.01, limit_train=256, limit_test=256), mnist)[-1]
    assert end.status == RunStatus.FAILED and "budget" in end.message


def test_a_budget_eaten_by_a_busy_start_still_trains_and_ends_late(mnist, monkeypatch):
    import time

    from simplecnn.training import engine

    real = engine.build_context

    def slow_start(*args, **kwargs):
        time.sleep(1.5)  # as if a busy machine had kept the run from its first batch
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "build_context", slow_start)
    events = _events(recipe("quick", budget=2.0, limit_train=512, limit_test=128, report_every=1), mnist)
    assert events[-1].status == RunStatus.COMPLETED, events[-1].message  # not "no time to train"
    assert any(isinstance(e, EpochEnd) and e.images > 0 for e in events)


def test_schedule_is_an_enum_and_text_still_works():
    from simplecnn.training.config import Schedule, TrainConfig

    config = TrainConfig(schedule="onecycle")  # type: ignore[arg-type]  # text from a flag or a form
    assert config.schedule is Schedule.ONECYCLE and config.to_dict()["schedule"] == "onecycle"
    import pytest

    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="cosine").validate()  # type: ignore[arg-type]


def test_budget_pace_moves_the_end_earlier_when_batches_slow_down(monkeypatch):
    """A machine that slows down mid-run: the evaluation will be slower too, so training must end sooner."""
    import time as time_mod

    from simplecnn.training.budget import BudgetPace
    from simplecnn.training.schedules import ClockOneCycle

    now = [0.0]
    monkeypatch.setattr(time_mod, "perf_counter", lambda: now[0])
    clock = ClockOneCycle(torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3), 1e-3, 0.25)
    clock.plan(0.0, 25.0)
    pace = BudgetPace(clock, deadline=30.0, eval_seconds=5.0, evaluations_left=1, last=0.0)
    for _ in range(10):  # warm: 1 s a batch
        now[0] += 1.0
        assert not pace.reached(1.0)
    assert clock.end == 25.0
    for _ in range(3):  # the machine gets 3x slower
        now[0] += 3.0
        pace.reached(1.0)
    assert clock.end < 25.0 - 1.0
    now[0] = clock.end
    assert pace.reached(1.0) and clock.fraction() == 1.0
