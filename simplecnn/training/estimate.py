"""Measured speed of this machine, for honest time estimates: a short calibration at first use, cached on disk.

`machine_speed(config)` times a few real training steps (the config's batch size, precision, memory format) and
an inference pass, once per (CPU or GPU, torch version, threads, precision, batch size, ...); the result is kept
in ~/.cache/simplecnn/speed.json so later processes start with it. `estimate_run_seconds(config)` turns it into
the time a run will take: training plus its evaluations, and exactly `config.budget` for a budget run (the
budget covers the whole run by construction, see simplecnn.training.budget).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from simplecnn.data import IMAGE_SIZE, NUM_CLASSES, TEST_SIZE, TRAIN_SIZE
from simplecnn.device import autocast, cpu_info, resolve_device, use_bf16
from simplecnn.evaluate import predict_logits
from simplecnn.files import write_atomic
from simplecnn.model import ARCHITECTURES
from simplecnn.settings import speed_file
from simplecnn.training.config import TrainConfig
from simplecnn.training.schedules import adam

CALIBRATION_SECONDS = 1.0  # timed training steps (after two warm-up steps), then an inference pass
MAX_AGE_SECONDS = 7 * 24 * 3600  # measure again after a week (a figure taken under load does not stay forever)


@dataclass(frozen=True)
class Speed:
    """What one calibration measured on this machine."""

    key: str
    train_images_per_second: float
    eval_images_per_second: float
    warmup_seconds: float  # extra time of a run's first steps (kernel set-up) over the steady pace
    measured_at: float  # time.time()

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def speed_key(config: TrainConfig) -> str:
    """What the pace depends on: network, hardware, torch, threads, precision, batch size, memory format,
    augmentation (SimpleCNN's keys carry no network name: those measured before LeNet-5 came stay valid)."""
    device = resolve_device(config.device)
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_info().name} {cpu_info().isa}"
    precision = "bf16" if use_bf16(device, config.precision) else "fp32"
    return (
        f"{device.type}|{hardware}|torch {torch.__version__}|threads {torch.get_num_threads()}|{precision}|"
        f"batch {config.batch_size}|channels_last {config.channels_last}|augment {config.augment}"
        + ("" if config.model == "simplecnn" else f"|model {config.model}")
    )


def _train_steps(config: TrainConfig, device: torch.device, bf16: bool) -> tuple[float, float]:
    """(steady seconds per image, extra seconds of the first two steps) over CALIBRATION_SECONDS of real steps."""
    from simplecnn.training.augment import random_affine

    model = ARCHITECTURES[config.model]().to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = adam(model.parameters(), config.lr, config.weight_decay, device)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(config.batch_size, 1, IMAGE_SIZE, IMAGE_SIZE, generator=generator).to(device)
    y = torch.randint(0, NUM_CLASSES, (config.batch_size,), generator=generator).to(device)

    def step() -> None:
        xb = random_affine(x, generator) if config.augment else x
        if config.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(device, bf16):
            loss = F.cross_entropy(model(xb).float(), y, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    start = time.perf_counter()
    step()
    step()
    first_two = time.perf_counter() - start
    steps, start = 0, time.perf_counter()
    while steps < 1 or (time.perf_counter() - start < CALIBRATION_SECONDS and steps < 200):
        step()
        steps += 1
    per_step = (time.perf_counter() - start) / steps
    return per_step / config.batch_size, max(0.0, first_two - 2 * per_step)


def _eval_seconds_per_image(config: TrainConfig, device: torch.device, bf16: bool, n: int = 512) -> float:
    model = ARCHITECTURES[config.model]().to(device).eval()
    x = torch.randn(n, 1, IMAGE_SIZE, IMAGE_SIZE).to(device)
    predict_logits(model, x[:256], bf16=bf16)  # builds the inference kernels
    start = time.perf_counter()
    predict_logits(model, x, bf16=bf16)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / n


def measure_speed(config: TrainConfig) -> Speed:
    """Calibrate now (a few seconds): real training steps of `config`'s shape, and an inference pass."""
    device = resolve_device(config.device)
    bf16 = use_bf16(device, config.precision)
    train_spi, warmup = _train_steps(config, device, bf16)
    eval_spi = _eval_seconds_per_image(config, device, bf16)
    return Speed(speed_key(config), 1.0 / train_spi, 1.0 / eval_spi, warmup, time.time())


_lock = threading.Lock()
_memory: dict[str, Speed] = {}


def _read_file() -> dict[str, dict]:
    try:
        data = json.loads(speed_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_file(entries: dict[str, dict]) -> None:
    try:
        write_atomic(speed_file(), json.dumps(entries, indent=1))
    except OSError:
        pass  # a read-only home only costs a calibration per process


def machine_speed(config: TrainConfig, refresh: bool = False) -> Speed:
    """This machine's measured pace for runs shaped like `config`: from memory, else the cache file, else a
    calibration now (then cached). `refresh=True` measures again (e.g. after the first figure was taken under
    load). Thread-safe; one calibration at a time."""
    key = speed_key(config)
    with _lock:
        if not refresh and key in _memory:
            return _memory[key]
        entries = _read_file()
        if not refresh and key in entries:
            try:
                cached = Speed(**entries[key])
                if time.time() - cached.measured_at < MAX_AGE_SECONDS:
                    _memory[key] = cached
                    return cached
            except TypeError:
                pass  # an entry from another version of this file: measure again
        speed = measure_speed(config)
        entries[key] = speed.to_json()
        _write_file(entries)
        _memory[key] = speed
        return speed


def known_speed(config: TrainConfig) -> Speed | None:
    """The measured pace if this machine has one (memory or the cache file); never measures."""
    key = speed_key(config)
    with _lock:
        if key in _memory:
            return _memory[key]
        entry = _read_file().get(key)
    try:
        cached = Speed(**entry) if entry else None
    except TypeError:
        return None
    return cached if cached is not None and time.time() - cached.measured_at < MAX_AGE_SECONDS else None


_calibrating: set[str] = set()


def calibrate_in_background(config: TrainConfig) -> None:
    """Start one calibration for runs shaped like `config` in a daemon thread (no-op if one is known or under
    way), so a page can say "measuring…" now and give a measured estimate on its next poll."""
    key = speed_key(config)
    with _lock:
        if key in _memory or key in _calibrating:
            return
        _calibrating.add(key)

    def calibrate() -> None:
        try:
            machine_speed(config)
        finally:
            with _lock:
                _calibrating.discard(key)

    threading.Thread(target=calibrate, name="simplecnn-calibrate", daemon=True).start()


def train_images(config: TrainConfig) -> int:
    """Training images a run of `config` sees (all epochs; a budget run: what fits, at the measured pace)."""
    n = min(config.limit_train or TRAIN_SIZE, TRAIN_SIZE)
    return n * config.epochs


def estimate_run_seconds(config: TrainConfig, speed: Speed | None = None) -> float:
    """Seconds from train()'s start to RunEnded: exactly config.budget for a budget run; otherwise every epoch
    (early stopping can only shorten it) at the measured pace, plus one evaluation per epoch and the first
    steps' set-up. Calibrates on first use (see machine_speed)."""
    if config.budgeted:
        return float(config.budget)
    speed = speed or machine_speed(config)
    n_test = min(config.limit_test or TEST_SIZE, TEST_SIZE)
    per_epoch_eval = n_test / speed.eval_images_per_second
    return train_images(config) / speed.train_images_per_second + config.epochs * per_epoch_eval + speed.warmup_seconds
