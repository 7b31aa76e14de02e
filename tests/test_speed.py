import json

import pytest

from simplecnn import recipe
from simplecnn.data import TEST_SIZE, TRAIN_SIZE
from simplecnn.training import estimate
from simplecnn.training.estimate import Speed, estimate_run_seconds, machine_speed


@pytest.fixture()
def speed_file(tmp_path, monkeypatch):
    path = tmp_path / "speed.json"
    monkeypatch.setenv("SIMPLECNN_SPEED_FILE", str(path))
    monkeypatch.setattr(estimate, "CALIBRATION_SECONDS", 0.05)
    monkeypatch.setattr(estimate, "_memory", {})
    return path


def test_calibrates_once_then_reads_the_cache(speed_file, monkeypatch):
    config = recipe("fast", batch_size=16)
    first = machine_speed(config)
    assert first.train_images_per_second > 0 and first.eval_images_per_second > 0
    assert json.loads(speed_file.read_text())[first.key]["train_images_per_second"] == first.train_images_per_second

    def no_measuring(config):
        raise AssertionError("measured again although the figure is cached")

    monkeypatch.setattr(estimate, "measure_speed", no_measuring)
    monkeypatch.setattr(estimate, "_memory", {})  # a new process: only the file
    assert machine_speed(config) == first
    with pytest.raises(AssertionError):
        machine_speed(config, refresh=True)


def test_estimate_is_the_budget_for_budget_runs_and_scales_with_work():
    fixed = Speed(
        "k", train_images_per_second=1000.0, eval_images_per_second=4000.0, warmup_seconds=0.5, measured_at=0.0
    )
    assert estimate_run_seconds(recipe("quick"), fixed) == 30.0
    assert estimate_run_seconds(recipe("quick", budget=60), fixed) == 60.0
    one = estimate_run_seconds(recipe("fast"), fixed)
    assert one == pytest.approx(TRAIN_SIZE / 1000 + TEST_SIZE / 4000 + 0.5)
    three = estimate_run_seconds(recipe("fast", epochs=3, limit_train=6000, limit_test=1000), fixed)
    assert three == pytest.approx(3 * (6 + 0.25) + 0.5)
