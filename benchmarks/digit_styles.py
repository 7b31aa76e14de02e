"""The per-style table of docs/digit-check.md: how the shipped model and its digit check answer digits written in
styles the check's fit never saw, and things that are not one digit the fit never saw.

    python benchmarks/digit_styles.py [--n 300] [--checkpoint PATH] [--no-docs]

For each digit style: the check's probe is refitted without that style (leave-one-style-out; a way of writing one
digit, like a closed 4, takes every styled picture of that digit out of the fit), then measured on a fresh set of
the style (other seeds). Typeface styles are never in the probe's fit; the digit gate
(simplecnn.training.train_gate) is fit on pen and typeface digits only, so the other styles are unseen by it too.
Then benchmarks/digit_heldout.py's sets, made apart from those styles (other typefaces, MNIST test handwriting on a
canvas, as a marker, as small scans enlarged, non-digits from other generators), with the full fit. For each
non-digit kind: a gate is retrained (train_gate.HOLDOUT_RECIPE, on the GPU when there is one, cached) and the probe
refitted without that kind, then measured on a fresh set (typeset symbols in the machine's own typefaces, MNIST
pairs from the test set).
The model's side: the checkpoint's config names the styles its fine-tune held out; the table says which styles
the model saw. Writes benchmarks/results/digit-styles.json and the table in docs/digit-check.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simplecnn.checkpoint import load_checkpoint, load_model  # noqa: E402
from simplecnn.data import denormalize, load_mnist  # noqa: E402
from simplecnn.inference import digitcheck as dc  # noqa: E402
from simplecnn.inference import styles  # noqa: E402
from simplecnn.inference.preprocess import ImageError, preprocess  # noqa: E402
from simplecnn.training import train_gate  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import digit_heldout  # noqa: E402

EVAL_SEED = 1000  # the fit uses 12345+ (check) and 50000+ (model): never these
NON_DIGIT_SEED = 4000
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # the leave-one-kind-out gates train here (cached)
RESULTS = ROOT / "benchmarks" / "results" / "digit-styles.json"
DOCS = ROOT / "docs" / "digit-check.md"
BEGIN, END = "<!-- digit-styles:begin -->", "<!-- digit-styles:end -->"


def model_inputs(images: list) -> tuple[torch.Tensor, list[int]]:
    xs, kept = [], []
    for i, image in enumerate(images):
        try:
            xs.append(preprocess(image))
            kept.append(i)
        except ImageError:
            pass
    return torch.cat(xs), kept


def verdicts(z: torch.Tensor, stats: dc.OODStats) -> torch.Tensor:
    """0 digit, 1 unsure, 2 not a digit."""
    raw = dc.score_inputs(z, stats)
    return (raw > stats.threshold).long() + (raw > stats.not_digit).long()


def digit_rows(model, ff: dc.FitFeatures, n: int, seen: set[str]) -> dict[str, dict]:
    rows = {}
    for k, (name, style) in enumerate(styles.digit_styles().items()):
        start = time.perf_counter()
        count = n if len(style.digits) > 1 else n // 2
        images, labels = styles.style_set(style, count, EVAL_SEED + 101 * k)
        x, kept = model_inputs(images)
        y = torch.tensor([labels[i] for i in kept])
        features = dc.embed(model, x)
        z = dc.probe_inputs(features, ff.means, ff.precisions)
        v = verdicts(z, dc.stats_from_features(ff, dc.Holdout(style=name)))
        right = features.logits.argmax(1) == y
        rows[name] = {
            "kind": style.kind,
            "note": style.note,
            "n": len(y),
            "model_saw_style": name in seen,
            "read": float(right.float().mean()),
            "digit": float((v == 0).float().mean()),
            "unsure": float((v == 1).float().mean()),
            "not_digit": float((v == 2).float().mean()),
            "read_and_not_rejected": float((right & (v < 2)).float().mean()),
        }
        print(name, json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in rows[name].items()}),
              f"{time.perf_counter() - start:.0f}s", flush=True)  # fmt: skip
    return rows


def non_digit_rows(model, ff: dc.FitFeatures, data, n: int) -> dict[str, dict]:
    pixels = denormalize(data.test_x[:, 0].clone()).numpy()
    faces = sorted(f for files in styles.installed_families({**styles.HAND_FAMILIES, **styles.PRINT_FAMILIES}).values()
                   for f in files)  # fmt: skip
    rows = {}
    for k, kind in enumerate(styles.NON_DIGIT_KINDS):
        images = styles.non_digit_set(kind, n, NON_DIGIT_SEED + 31 * k, (pixels, data.test_y.numpy()), faces or None)
        x, _ = model_inputs(images)
        gate = train_gate.gate_without(kind, data, device=DEVICE)  # the gate, too, never saw this kind
        without = dc.fit_features(model, data, gate=gate)
        z = dc.probe_inputs(dc.embed(model, x, gate=gate), without.means, without.precisions)
        v = verdicts(z, dc.stats_from_features(without, dc.Holdout(kind=kind)))
        rows[kind] = {
            "n": len(x),
            "flagged": float((v > 0).float().mean()),
            "not_digit": float((v == 2).float().mean()),
        }
        print(kind, json.dumps(rows[kind]), flush=True)
    return rows


def held_out_rows(model, ff: dc.FitFeatures, full: dc.OODStats, data, n: int) -> dict[str, dict]:
    """benchmarks/digit_heldout.py's sets with the full fit (none of them is in it). A picture preprocessing
    refuses (blank) counts as "not a digit" for a digit and as flagged for a non-digit."""
    pixels = denormalize(data.test_x[:, 0].clone()).numpy()
    labels = data.test_y.numpy()
    rows: dict[str, dict] = {}
    for name, (note, images, ys) in digit_heldout.digit_sets(pixels, labels, n).items():
        x, kept = model_inputs(images)
        features = dc.embed(model, x)
        v = verdicts(dc.probe_inputs(features, ff.means, ff.precisions), full)
        right = features.logits.argmax(1) == torch.tensor([ys[i] for i in kept])
        total = len(images)
        rows[name] = {
            "what": note,
            "n": total,
            "read": float(right.sum()) / total,
            "digit": float((v == 0).sum()) / total,
            "unsure": float((v == 1).sum()) / total,
            "not_digit": float((v == 2).sum() + total - len(kept)) / total,
        }
        print(name, json.dumps(rows[name]), flush=True)
    for k, kind in enumerate(digit_heldout.NON_DIGIT_KINDS):
        images = digit_heldout.non_digit_set(kind, n // 2, 10 + k, pixels[8000:], labels[8000:])
        if not images:
            continue
        x, kept = model_inputs(images)
        v = verdicts(dc.probe_inputs(dc.embed(model, x), ff.means, ff.precisions), full)
        blank = len(images) - len(kept)
        rows[kind] = {
            "n": len(images),
            "flagged": float((v > 0).sum() + blank) / len(images),
            "not_digit": float((v == 2).sum() + blank) / len(images),
        }
        print(kind, json.dumps(rows[kind]), flush=True)
    return rows


def pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def table(result: dict) -> str:
    lines = [
        "| style | what | n | model saw it | read right | digit | unsure | not a digit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["styles"].items():
        saw = "yes" if r["model_saw_style"] else "**no**"
        lines.append(
            f"| `{name}` | {r['note']} | {r['n']} | {saw} | {pct(r['read'])} | {pct(r['digit'])} | "
            f"{pct(r['unsure'])} | {pct(r['not_digit'])} |"
        )
    m = result["mnist_test"]
    lines.append(
        f"| MNIST test | the 10,000 test digits (full fit) | 10000 | - | {pct(m['accuracy'])} | {pct(m['digit'])} | "
        f"{pct(m['unsure'])} | {pct(m['not_digit'])} |"
    )
    lines += ["", "| not one digit (kind left out of the fit) | n | flagged (unsure or not a digit) | not a digit |",
              "|---|---|---|---|"]  # fmt: skip
    for kind, r in result["non_digits"].items():
        lines.append(f"| `{kind}` | {r['n']} | {pct(r['flagged'])} | {pct(r['not_digit'])} |")
    nd = result["non_digits_all"]
    lines.append(f"| **all kinds** | {nd['n']} | **{pct(nd['flagged'])}** | {pct(nd['not_digit'])} |")
    held = result["held_out"]
    lines += ["", "| held-out set (digit_heldout.py) | n | read right | digit | unsure | not a digit |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in held.items():
        if "read" in r:
            lines.append(
                f"| `{name}`: {r['what']} | {r['n']} | {pct(r['read'])} | {pct(r['digit'])} | {pct(r['unsure'])} | "
                f"{pct(r['not_digit'])} |"
            )
    lines += ["", "| held-out non-digits | n | flagged (unsure or not a digit) | not a digit |",
              "|---|---|---|---|"]  # fmt: skip
    kinds = [r for r in held.values() if "flagged" in r]
    for name, r in held.items():
        if "flagged" in r:
            lines.append(f"| `{name}` | {r['n']} | {pct(r['flagged'])} | {pct(r['not_digit'])} |")
    if kinds:
        mean = sum(r["flagged"] for r in kinds) / len(kinds)
        lines.append(f"| **mean of the kinds** | {sum(r['n'] for r in kinds)} | **{pct(mean)}** | - |")
    return "\n".join(lines)


def write_docs(text: str) -> None:
    doc = DOCS.read_text()
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOCS.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="pictures per style (200 per non-digit kind at 300)")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--no-docs", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    started = time.perf_counter()
    model, _ = load_model(a.checkpoint)
    model.eval()
    config = load_checkpoint(a.checkpoint or ROOT / "checkpoints" / "simplecnn.pt").config
    held = set(config.get("style_finetune", {}).get("held_out_styles", []))
    seen = {name for name in styles.digit_styles() if name not in held} if "style_finetune" in config else set()
    data = load_mnist(download=False)
    ff = dc.fit_features(model, data)
    full = dc.stats_from_features(ff)
    test = dc.embed(model, data.test_x.cpu())
    v = verdicts(dc.probe_inputs(test, ff.means, ff.precisions), full)
    result: dict = {
        "checkpoint": a.checkpoint or "checkpoints/simplecnn.pt",
        "mnist_test": {
            "accuracy": float((test.logits.argmax(1) == data.test_y).float().mean()),
            "digit": float((v == 0).float().mean()),
            "unsure": float((v == 1).float().mean()),
            "not_digit": float((v == 2).float().mean()),
        },
        "styles": digit_rows(model, ff, a.n, seen),
        "non_digits": non_digit_rows(model, ff, data, a.n * 2 // 3),
        "held_out": held_out_rows(model, ff, full, data, a.n),
    }
    nd = result["non_digits"].values()
    total = sum(r["n"] for r in nd)
    result["non_digits_all"] = {
        "n": total,
        "flagged": sum(r["flagged"] * r["n"] for r in nd) / total,
        "not_digit": sum(r["not_digit"] * r["n"] for r in nd) / total,
    }
    result["machine"] = platform.platform()
    result["seconds"] = round(time.perf_counter() - started)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    text = table(result)
    print(text)
    if not a.no_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
