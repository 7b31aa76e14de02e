"""No recipe can push one training run above the memory the host allows (default 1 GB): the batch size is capped
by an estimate measured on real runs, and the estimate holds for a real run at the cap."""

from __future__ import annotations

import pytest

from simplecnn.training.config import RECIPES
from simplecnn.training.footprint import largest_batch, run_memory_mb
from simplecnn.workshop.scheduler import RunTooLarge, TrainingScheduler
from tests.support.hostile import costs_in_child


def test_the_estimate_grows_with_the_batch_and_the_cap_is_its_inverse():
    config = RECIPES["tutorial"]
    sizes = [run_memory_mb(config.replace(batch_size=b)) for b in (64, 128, 1024, 8192)]
    assert sizes == sorted(sizes) and sizes[1] < 250 and sizes[-1] > 3000
    for allowance in (300, 1024, 4096):
        largest = largest_batch(config, allowance)
        assert run_memory_mb(config.replace(batch_size=largest)) <= allowance
        assert run_memory_mb(config.replace(batch_size=largest + 1)) > allowance


def test_a_custom_batch_of_8192_is_refused_by_the_default_allowance(tmp_path):
    sched = TrainingScheduler(max_concurrent=1, runs_root=tmp_path, memory_limit_mb=1024)
    try:
        config = RECIPES["tutorial"].replace(batch_size=8192, recipe="custom")
        with pytest.raises(RunTooLarge, match="use a batch size of") as err:
            sched.submit("someone", config)
        assert err.value.largest == sched.largest_batch(config) and 1800 < err.value.largest < 2200
        sched.set_memory_limit(4096)  # the host raised it
        sched.check_memory(config)
    finally:
        sched.shutdown(1)


def test_a_real_run_at_the_largest_allowed_batch_stays_within_the_allowance():
    allowance = 600  # MB: small, so the run is quick; the estimate is the same line at any size
    config = RECIPES["tutorial"].replace(epochs=1, limit_test=500, report_every=1, augment=True)
    batch = largest_batch(config, allowance)
    setup = (
        "from simplecnn.data import load_mnist\nfrom simplecnn.training.engine import train\n"
        "from simplecnn.training.config import RECIPES\ndata = load_mnist()\n"
        "warm = RECIPES['tutorial'].replace(epochs=1, batch_size=32, limit_train=64, limit_test=64)\n"
        "for _ in train(warm, data): pass"
    )
    body = (
        f"config = RECIPES['tutorial'].replace(epochs=1, limit_test=500, report_every=1, augment=True, "
        f"batch_size={batch}, limit_train={2 * batch})\nfor _ in train(config, data): pass"
    )
    ((outcome, growth),) = costs_in_child(setup, body)
    assert outcome == "ok", outcome
    assert growth <= allowance, f"batch {batch}: {growth:.0f} MB above the server, allowed {allowance} MB"
