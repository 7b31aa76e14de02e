"""Reproduce the shipped checkpoint's style fine-tunes (docs/digit-check.md, "The shipped model").

    git show c435026:checkpoints/simplecnn.pt > /tmp/base.pt     # the 15-epoch run shipped before issue 26
    # round 1 (MNIST with style_augment, handwriting typefaces unseen), made by this script as of e80db55 with
    # --holdout font_hand,hairline,soft,closed_4,pencil --weight 0.7:
    git show e80db55:checkpoints/simplecnn.pt > /tmp/round1.pt
    # round 2 (the shipped checkpoint): plain MNIST, every typeface family of styles.py, averaged with round 1
    python benchmarks/train_styles.py --init /tmp/base.pt --mnist-augment 0 --epochs 3 --seed 4 \
        --average-with /tmp/round1.pt --weight 0.5 --out /tmp/styles.pt

1. Start from a 15-epoch run (the one shipped before, or `python -m simplecnn train --augment --out DIR`).
2. Fine-tune (Adam, cosine to 0, batches of 128 - --styled-per-batch MNIST training digits, with
   `training.augment.style_augment` at --mnist-augment strength, + --styled-per-batch styled digits from
   `inference.styles`: 1,500 per stroke style, 4,000 per typeface style, other seeds than any measured set),
   leaving out the --holdout styles so they stay unseen (a held-out way of writing one digit, like closed_4,
   leaves out every styled picture of that digit).
3. Average the weights: (1 - w) × the --average-with checkpoint (default: the start) + w × fine-tuned (WiSE-FT,
   Wortsman et al., 2022; a "model soup" of two fine-tunes of one start, Wortsman et al., 2022): a fine-tune alone
   loses a few hundredths of a percent on MNIST or on small scans; the average keeps them and most of the gain.
4. Print the MNIST test accuracy of each weight in --try-weights; --out writes the checkpoint for --weight (same
   format, the recipe in its config). Which typefaces it sees depends on the fonts installed
   (docs/digit-check.md lists the Debian packages). Minutes: docs/digit-check.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simplecnn.checkpoint import load_checkpoint, load_model, save_checkpoint  # noqa: E402
from simplecnn.data import denormalize, load_mnist, normalize  # noqa: E402
from simplecnn.evaluate import evaluate  # noqa: E402
from simplecnn.inference import styles  # noqa: E402
from simplecnn.inference.preprocess import ImageError, preprocess  # noqa: E402
from simplecnn.training.augment import style_augment, warp  # noqa: E402

POOL_PER_STYLE = 1500
POOL_PER_TYPEFACE_STYLE = 4000  # dozens of typefaces per style: more pictures, so each face is seen often
POOL_SEED = 50000  # the measured sets use 1000-4999
STYLED_PER_BATCH = 32
WEIGHT_OF_FINETUNED = 0.7


def styled_pool(holdout: set[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Styled digits as model inputs, every style but the held-out ones (a held-out way of writing one digit:
    no styled picture of that digit at all)."""
    all_styles = styles.digit_styles()
    banned = set().union(*(styles.held_out(all_styles[h]).banned_digits for h in holdout if h in all_styles))
    xs, ys = [], []
    for k, (name, style) in enumerate(all_styles.items()):
        if name in holdout:
            continue
        n = POOL_PER_STYLE if len(style.digits) > 1 else POOL_PER_STYLE // 4
        n = POOL_PER_TYPEFACE_STYLE if style.kind == "typeface" else n
        images, labels = styles.style_set(style, n, POOL_SEED + 17 * k, styles.Fold(frozenset(banned)))
        for image, label in zip(images, labels, strict=True):
            try:
                xs.append(preprocess(image))
                ys.append(label)
            except ImageError:
                pass
        print(f"styled digits: {name} done", flush=True)
    return torch.cat(xs), torch.tensor(ys)


@torch.no_grad()
def test_accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return sum(int((model(x[i : i + 1000]).argmax(1) == y[i : i + 1000]).sum()) for i in range(0, len(x), 1000)) / len(
        x
    )


def finetune(
    model: torch.nn.Module,
    data,
    pool: tuple[torch.Tensor, torch.Tensor],
    epochs: int,
    lr: float,
    seed: int,
    styled_per_batch: int = STYLED_PER_BATCH,
    mnist_augment: float = 1.0,
):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    n_mnist = 128 - styled_per_batch
    steps = len(data.train_y) // n_mnist
    total = steps * epochs
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    px, py = pool
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(data.train_y), generator=g)
        for step in range(steps):
            idx = order[step * n_mnist : (step + 1) * n_mnist]
            j = torch.randint(0, len(py), (styled_per_batch,), generator=g)
            styled = warp(denormalize(px[j].clone()), g, degrees=8, shear=0.15, scale=(0.9, 1.05), elastic=0.03)
            mnist = normalize(data.train_pixels[idx])
            xb = torch.cat([style_augment(mnist, g, mnist_augment) if mnist_augment else mnist, normalize(styled)])
            yb = torch.cat([data.train_y[idx], py[j]])
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        acc = test_accuracy(model, data.test_x, data.test_y)
        print(json.dumps({"epoch": epoch, "test_accuracy": acc, "seconds": round(time.perf_counter() - start)}))


def average(start: dict, tuned: dict, weight: float) -> dict:
    """(1 - weight) × start + weight × tuned, for the floating-point tensors (WiSE-FT)."""
    return {k: (1 - weight) * v + weight * tuned[k] if v.is_floating_point() else v for k, v in start.items()}


def recipe(a: argparse.Namespace, holdout: set[str], earlier: dict | None) -> dict:
    """The fine-tune's recipe for the checkpoint's config. Averaged with an earlier style fine-tune (whose recipe the
    config keeps beside it: checkpoints keep one level of nested settings), the styles the model never saw are
    those neither fine-tune used."""
    unseen = holdout & set(earlier["held_out_styles"]) if earlier else holdout
    return {
        "epochs": a.epochs,
        "lr": a.lr,
        "schedule": "cosine",
        "seed": a.seed,
        "styled_per_batch": a.styled_per_batch,
        "mnist_style_augment": a.mnist_augment,
        "held_out_styles": sorted(unseen),
        "weight_of_finetuned": a.weight,
        "averaged_with": "style_finetune_earlier" if earlier else "init",
        "reproduce": "benchmarks/train_styles.py (its docstring)",
    }


def checkpoint_metrics(model: torch.nn.Module, data, start_metrics: dict) -> dict:
    """The start's metrics with the test-set figures of this model (loss, accuracy, accuracy per digit)."""
    result = evaluate(model, data.test_x, data.test_y)
    return {
        **start_metrics,
        "test_accuracy": result.accuracy,
        "test_loss": result.loss,
        "per_class_accuracy": [float(v) for v in result.per_class_accuracy],
        "n_test": result.n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", required=True, help="the 15-epoch checkpoint to start from")
    ap.add_argument("--holdout", default="hairline,soft,pencil")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--styled-per-batch", type=int, default=STYLED_PER_BATCH)
    ap.add_argument("--mnist-augment", type=float, default=1.0, help="style_augment strength on MNIST (0: none)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--weight", type=float, default=WEIGHT_OF_FINETUNED, help="share of the fine-tuned weights")
    ap.add_argument("--average-with", default=None, help="average with this checkpoint instead of --init")
    ap.add_argument("--save-tuned", default=None, help="also save the fine-tuned state_dict before averaging")
    ap.add_argument("--try-weights", default="0.5,0.7,0.85,1.0", help="also print the test accuracy of these")
    a = ap.parse_args()
    holdout = {h for h in a.holdout.split(",") if h}
    data = load_mnist(download=False)
    start, _ = load_model(a.init)
    model, _ = load_model(a.init)
    partner = load_model(a.average_with)[0] if a.average_with else start
    print("start: MNIST test", test_accuracy(start, data.test_x, data.test_y), flush=True)
    finetune(model, data, styled_pool(holdout), a.epochs, a.lr, a.seed, a.styled_per_batch, a.mnist_augment)
    tuned = {k: v.clone() for k, v in model.state_dict().items()}
    if a.save_tuned:
        torch.save(tuned, a.save_tuned)
    for weight in [float(w) for w in a.try_weights.split(",") if w] + [a.weight]:
        model.load_state_dict(average(partner.state_dict(), tuned, weight))
        acc = test_accuracy(model, data.test_x, data.test_y)
        print(json.dumps({"averaged": weight, "test_accuracy": acc}), flush=True)
    if a.out:
        base = load_checkpoint(a.init)
        earlier = load_checkpoint(a.average_with).config.get("style_finetune") if a.average_with else None
        config = {**base.config, "style_finetune": recipe(a, holdout, earlier)}
        if earlier:
            config["style_finetune_earlier"] = earlier
        save_checkpoint(a.out, model.state_dict(), config, checkpoint_metrics(model, data, base.metrics), base.history)


if __name__ == "__main__":
    main()
