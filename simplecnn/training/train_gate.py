"""Train the digit gate (simplecnn.inference.gate): digits of many hands against things that are not one digit.

    python -m simplecnn.training.train_gate [--write] [--epochs 8] [--without KIND]

Digits: MNIST training digits the digit check's probe and thresholds never use, drawings of training digits, felt
pen digits and typeface digits (the machine's handwriting and print fonts); every batch goes through
`style_augment` (thicker, thinner, blurred, small scans, slanted, wobbled), non-digits too, so that a look alone
never tells them apart. Non-digits: every kind of `styles.NON_DIGIT_KINDS`, plus letters, symbols and Chinese
characters set in those fonts and smooth scribbles. The other digit styles (hairline, marker, soft, pencil,
photos, closed 4s...) are never in its fit, so the per-style table measures the gate on styles it never saw;
`--without KIND` leaves one kind of non-digit out (benchmarks/digit_styles.py). The generated pictures are made
once, on all cores, and cached; training uses the GPU when there is one (times: docs/digit-check.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from simplecnn.data import MNISTTensors, load_mnist, normalize
from simplecnn.inference.gate import DigitGate, gate_blob, gate_from_blob
from simplecnn.settings import SHIPPED_DIGIT_GATE, cache_dir
from simplecnn.training.augment import style_augment

INPUTS_VERSION = "gate-1"  # bump when a generator below changes: the cached pictures are remade
SEED = 70_000  # the check's fit uses 12345+, the measurements 1000+ and 4000+
MNIST_FROM = 20_000  # training digits before this are the check's statistics, probe and threshold digits
PER_KIND = 2_500
MORE = {"overdrawn": 4_500, "mnist_pair": 4_500}  # the kinds closest to a digit get more pictures
EXTRA_KINDS = {"glyph": ("typeset", 4_000), "curve": ("scribble", 3_000)}  # name: (kind it counts as, pictures)
DIGIT_SETS = {"pen": 4_000, "drawings": 3_000, "font_hand": 3_000, "font_print": 3_000}


@dataclass(frozen=True)
class GateRecipe:
    epochs: int = 8
    lr: float = 2e-3  # one-cycle peak
    batch_size: int = 256
    augment: float = 1.0  # style_augment strength, on digits and non-digits alike
    seed: int = 0
    channels: tuple[int, int, int, int] = (32, 32, 64, 64)
    hidden: int = 128
    without: str | None = None  # a non-digit kind left out (measurement only)


@dataclass
class GateInputs:
    """Generated pictures as uint8 (N, 28, 28) model views: digit sets and non-digit sets by name."""

    digits: dict[str, torch.Tensor] = field(default_factory=dict)
    others: dict[str, torch.Tensor] = field(default_factory=dict)


def _views(images: list[np.ndarray]) -> torch.Tensor:
    from simplecnn.data import denormalize
    from simplecnn.inference.preprocess import ImageError, preprocess

    views = []
    for image in images:
        try:
            views.append(preprocess(image)[0, 0])
        except ImageError:
            pass  # blank after preprocessing: nothing to learn from
    if not views:
        return torch.empty(0, 28, 28, dtype=torch.uint8)
    return (denormalize(torch.stack(views)) * 255).round().to(torch.uint8)


def _fonts() -> list[str]:
    from simplecnn.inference import styles

    found = styles.installed_families({**styles.HAND_FAMILIES, **styles.PRINT_FAMILIES})
    return sorted(f for files in found.values() for f in files)


def _make(job: tuple[str, int, int]) -> tuple[str, torch.Tensor]:
    """One named set (run in a worker process)."""
    from simplecnn.inference import styles
    from simplecnn.inference.synthetic import mnist_drawing_set

    name, n, seed = job
    data = load_mnist(download=False)
    pixels = data.train_pixels[MNIST_FROM + 1_000 :, 0].float().div(255).numpy()
    labels = data.train_y[MNIST_FROM + 1_000 :].numpy()
    rng = np.random.default_rng(seed)
    if name == "drawings":
        return name, _views(mnist_drawing_set(pixels[3_000 : 3_000 + n], seed))
    if name in DIGIT_SETS:
        style = styles.digit_styles().get(name)  # a typeface style is absent without its fonts
        return name, _views(styles.style_set(style, n, seed)[0]) if style else torch.empty(0, 28, 28)
    if name in styles.NON_DIGIT_KINDS:
        return name, _views(styles.non_digit_set(name, n, seed, (pixels, labels)))
    faces, images = _fonts(), list[np.ndarray]()
    for _ in range(3 * n):
        if len(images) == n or (name == "glyph" and not faces):
            break
        ink = styles.glyph_non_digit(rng, faces) if name == "glyph" else styles.curve_non_digit(rng)
        if ink is not None:
            images.append(styles.encode(ink, styles.ENCODINGS[len(images) % 3]))
    return name, _views(images)


def make_inputs(workers: int | None = None) -> GateInputs:
    from simplecnn.inference import styles

    jobs = [(name, n, SEED + 11 * k) for k, (name, n) in enumerate(DIGIT_SETS.items())]
    kinds = [(kind, MORE.get(kind, PER_KIND)) for kind in styles.NON_DIGIT_KINDS]
    kinds += [(name, n) for name, (_, n) in EXTRA_KINDS.items()]
    jobs += [(name, n, SEED + 500 + 13 * k) for k, (name, n) in enumerate(kinds)]
    with ProcessPoolExecutor(workers or os.cpu_count() or 1) as pool:
        made = dict(pool.map(_make, jobs))
    return GateInputs({k: made[k] for k in DIGIT_SETS}, {k: made[k] for k, _ in kinds})


def gate_inputs(folder: Path | None = None) -> GateInputs:
    """`make_inputs`, cached."""
    from simplecnn.checkpoint import atomic_save

    path = (folder or cache_dir()) / f"digitgate-inputs-{INPUTS_VERSION}.pt"
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        return GateInputs(dict(blob["digits"]), dict(blob["others"]))
    except Exception:  # noqa: BLE001 - missing or unreadable: make them again
        pass
    inputs = make_inputs()
    try:
        atomic_save({"digits": inputs.digits, "others": inputs.others}, path, "gate pictures")
    except OSError:
        pass  # a read-only home: this process still has them
    return inputs


def kind_of(name: str) -> str:
    return EXTRA_KINDS[name][0] if name in EXTRA_KINDS else name


def training_set(inputs: GateInputs, data: MNISTTensors, without: str | None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 pictures and labels (0 digit, 1 not one digit)."""
    digits = torch.cat([data.train_pixels[MNIST_FROM:, 0].cpu(), *[x for x in inputs.digits.values() if len(x)]])
    others = torch.cat([x for name, x in inputs.others.items() if len(x) and kind_of(name) != without])
    return torch.cat([digits, others]), torch.cat([torch.zeros(len(digits)), torch.ones(len(others))])


def train(inputs: GateInputs, data: MNISTTensors, recipe: GateRecipe, device: str = "cpu", log=print) -> DigitGate:
    """Class-balanced binary cross-entropy, Adam with a one-cycle schedule, style_augment on every batch."""
    torch.manual_seed(recipe.seed)
    g = torch.Generator(device=device).manual_seed(recipe.seed)
    x, y = training_set(inputs, data, recipe.without)
    x, y = x.to(device), y.to(device)
    balance = (y == 0).sum() / (y == 1).sum()
    gate = DigitGate(recipe.channels, recipe.hidden).to(device)
    optimizer = torch.optim.Adam(gate.parameters(), lr=recipe.lr)
    per_epoch = len(x) // recipe.batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, recipe.lr, total_steps=recipe.epochs * per_epoch,
                                                   pct_start=0.15)  # fmt: skip
    for epoch in range(recipe.epochs):
        gate.train()
        order, total = torch.randperm(len(x), generator=g, device=device), torch.zeros((), device=device)
        for i in range(per_epoch):
            idx = order[i * recipe.batch_size : (i + 1) * recipe.batch_size]
            xb = normalize(x[idx, None])
            if recipe.augment:
                xb = style_augment(xb, g, recipe.augment)
            loss = nn.functional.binary_cross_entropy_with_logits(gate(xb), y[idx], pos_weight=balance)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.detach()
        log(f"epoch {epoch + 1}/{recipe.epochs}: loss {float(total) / per_epoch:.4f}")
    return gate.cpu().eval()


# Leave-one-kind-out measurements retrain the gate twelve times: half the width and epochs keep that within reach
# of a CPU (docs/digit-check.md).
HOLDOUT_RECIPE = GateRecipe(epochs=4, channels=(16, 32, 32, 64), hidden=64)


def recipe_key(recipe: GateRecipe) -> str:
    return hashlib.sha256(json.dumps([INPUTS_VERSION, asdict(recipe)]).encode()).hexdigest()[:16]


def gate_without(kind: str, data: MNISTTensors, recipe: GateRecipe = HOLDOUT_RECIPE, folder: Path | None = None,
                 device: str = "cpu") -> DigitGate:  # fmt: skip
    """A gate trained without one kind of non-digit (for leave-one-kind-out measurements), cached."""
    from simplecnn.checkpoint import atomic_save

    recipe = GateRecipe(**{**asdict(recipe), "without": kind})
    path = (folder or cache_dir()) / f"digitgate-{recipe_key(recipe)}.pt"
    try:
        return gate_from_blob(torch.load(path, map_location="cpu", weights_only=True))
    except Exception:  # noqa: BLE001 - not trained yet
        pass
    gate = train(gate_inputs(folder), data, recipe, device)
    atomic_save(gate_blob(gate, asdict(recipe)), path, "digit gate")
    return gate


def main() -> None:
    from simplecnn.checkpoint import atomic_save
    from simplecnn.device import resolve_device

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help=f"store the gate as {SHIPPED_DIGIT_GATE}")
    ap.add_argument("--epochs", type=int, default=GateRecipe.epochs)
    ap.add_argument("--without", default=None, help="leave one non-digit kind out (cached; for measurements)")
    a = ap.parse_args()
    data = load_mnist(download=False)
    device = str(resolve_device("auto"))
    if a.without:
        gate_without(a.without, data, device=device)
        return
    recipe = GateRecipe(epochs=a.epochs)
    gate = train(gate_inputs(), data, recipe, device)
    if a.write:
        atomic_save(gate_blob(gate, asdict(recipe)), SHIPPED_DIGIT_GATE, "digit gate")


if __name__ == "__main__":
    main()
