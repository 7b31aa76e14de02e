""" "Is this a digit?": an out-of-distribution check on the model's own features, with three answers.

A classifier trained on MNIST only ever answers "which of 0-9": a dot, a scribble, a letter or a 7 drawn over a
0 still gets a confident digit. The softmax alone cannot tell (a dot lies right on the "0" cluster of fc128);
the earlier layers together with the last one can:

1. Features of three layers: per-channel means after each conv block (32 + 64 values) and fc128 (before its
   ReLU), each with its Mahalanobis distance to the nearest class mean under one shared covariance
   (Lee et al., 2018), the nearest/second-nearest distance ratio, the energy score, the softmax entropy and two
   ink statistics of the 28×28 view; and the digit gate's log-odds and hidden layer (simplecnn.inference.gate: a
   small network trained once, for every checkpoint, on the pixels alone to tell one digit from anything else).
2. A small "digit or not" probe (one hidden layer of 32) on those standardised features, fit on digits against
   things that are not one digit (outlier exposure, Hendrycks et al., 2019). The digits are training digits,
   drawings of training digits, and digits written in many styles (`simplecnn.inference.styles`: hairline to
   marker, slanted, sketchy, soft, small scans enlarged, pencil, photos, closed 4s, crossed 7s...), because
   people write that way; the others are dots, lines, scribbles, letters, symbols, blobs, two digits, overdrawn digits.
3. Two thresholds, three answers: above the 99.2nd percentile of the score on training digits the probe was
   not fit on, the answer is "not sure this is one digit" (the best guess is still shown); above the 99.99th
   percentile on styled digits the probe was not fit on, it is "that doesn't look like one digit".

Everything is computed from the training set and generators only (no system fonts), so the MNIST test set and the
typefaces stay unseen by the probe (the shipped digit gate was trained once with them). Statistics are per
checkpoint: computed once and kept on disk keyed by the weights' digest; the shipped checkpoint's are shipped beside
it (checkpoints/simplecnn.ood.pt). The generated pictures the fit uses do not depend on the model and are kept in
the cache once made. A checkpoint with no statistics and no MNIST to compute them falls back to the softmax
confidence (`LogitOnly`). docs/digit-check.md has the method and the measured per-style figures.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from simplecnn.bounded import BoundedCache
from simplecnn.data import NUM_CLASSES, TRAIN_SIZE, MNISTTensors, denormalize, normalize
from simplecnn.errors import incident
from simplecnn.files import digest_state
from simplecnn.inference.gate import DigitGate, gate_digest, gate_features, load_gate
from simplecnn.inference.stages import forward_stages
from simplecnn.settings import SHIPPED_DIGIT_STATS, cache_dir

STATS_FORMAT = "simplecnn-ood-stats"
STATS_VERSION = 5  # 5: the digit gate's log-odds and hidden layer are probe inputs; older files are refitted
LAYERS = ("block1", "block2", "fc")
DOUBT = "that doesn't look like one digit"
UNSURE = "not sure this is one digit"
FALLBACK_MIN_CONFIDENCE = 0.85  # no statistics: unsure under 85%...
FALLBACK_NOT_DIGIT = 0.5  # ...and "not a digit" under 50%
QUANTILE = 0.992  # of training digits left out of the fit: where "unsure" starts (MNIST test: under 1% flagged)
NOT_DIGIT_QUANTILE = 0.9999  # of styled digits left out of the fit: where "not a digit" starts
PROBE_HIDDEN = 32  # units of the probe's hidden layer
PROBE_STEPS = 400  # full-batch Adam steps
PROBE_LR = 3e-3
PROBE_DECAY = 1e-2
SHIPPED_STATS = SHIPPED_DIGIT_STATS


class Verdict(StrEnum):
    """The check's three answers (their values are what `predict --json` prints)."""

    DIGIT = "digit"
    UNSURE = "unsure"  # "not sure this is one digit — best guess 7"
    NOT_DIGIT = "not_digit"  # "that doesn't look like one digit"


@dataclass(frozen=True)
class DigitCheck:
    verdict: Verdict
    score: float  # higher = less like a digit; > 0: unsure at least
    not_digit_at: float = 0.0  # the score above which the answer is "not a digit"

    @property
    def looks_like_digit(self) -> bool:
        """False only for "that doesn't look like one digit"; an unsure answer still reads as a digit."""
        return self.verdict is not Verdict.NOT_DIGIT

    @property
    def doubt(self) -> str:
        """One line for people: empty for a digit."""
        return {Verdict.DIGIT: "", Verdict.UNSURE: UNSURE, Verdict.NOT_DIGIT: DOUBT}[self.verdict]


def verdict_for(score: float, not_digit_at: float) -> Verdict:
    if score > not_digit_at:
        return Verdict.NOT_DIGIT
    return Verdict.UNSURE if score > 0 else Verdict.DIGIT


@dataclass(frozen=True)
class Features:
    block1: torch.Tensor  # (N, 32) channel means after conv1-2 + pool
    block2: torch.Tensor  # (N, 64) channel means after conv3-4 + pool
    fc: torch.Tensor  # (N, 128) fc1 output before its ReLU
    logits: torch.Tensor  # (N, 10)
    pixels: torch.Tensor  # (N, 28, 28) in [0, 1]
    gate: torch.Tensor  # (N, 1 + hidden): the digit gate's log-odds of "not one digit", its hidden layer (or zeros)

    def layer(self, name: str) -> torch.Tensor:
        return getattr(self, name)


@torch.no_grad()
def embed(model: nn.Module, x: torch.Tensor, batch_size: int = 500, gate: DigitGate | None = None) -> Features:
    """One forward pass per batch, keeping the three layers the check reads (simplecnn.inference.stages: no hooks, so
    sessions checking drawings at the same time on the shared model never mix their layers), and what the digit gate
    (`gate`, else the shipped one) sees in the same pictures."""
    model.eval()
    device = next(model.parameters()).device
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in (*LAYERS, "logits")}
    for i in range(0, len(x), batch_size):
        stages = forward_stages(model, x[i : i + batch_size].to(device))
        parts["block1"].append(_channel_means(stages["pool1"]).float().cpu())
        parts["block2"].append(_channel_means(stages["pool2"]).float().cpu())
        parts["fc"].append(stages["fc1"].float().cpu())
        parts["logits"].append(stages["logits"].float().cpu())
    cat = {k: torch.cat(v) if v else torch.empty(0) for k, v in parts.items()}
    pixels = denormalize(x[:, 0].detach().cpu())
    gate = gate if gate is not None else load_gate()
    seen = gate_features(gate, pixels) if gate is not None else torch.zeros(len(pixels), 1)
    return Features(cat["block1"], cat["block2"], cat["fc"], cat["logits"], pixels, seen)


def _channel_means(out: torch.Tensor) -> torch.Tensor:
    return out.detach().clamp(min=0).mean((2, 3))


@dataclass
class OODStats:
    """Per-checkpoint statistics: class means and shared precision per layer, the probe and its threshold."""

    means: dict[str, torch.Tensor]  # layer → (10, d)
    precisions: dict[str, torch.Tensor]  # layer → (d, d)
    centre: torch.Tensor  # probe input standardisation
    spread: torch.Tensor
    hidden_weight: torch.Tensor  # probe: (d, PROBE_HIDDEN), then ReLU...
    hidden_bias: torch.Tensor
    weight: torch.Tensor  # ...then (PROBE_HIDDEN,) to the score
    bias: float
    threshold: float  # probe output above which the answer is "unsure"
    not_digit: float = float("inf")  # probe output above which it is "not a digit"
    digest: str = ""  # the checkpoint's SHA-256 they belong to
    gate_digest: str = ""  # SHA-256 of the digit gate the probe was fit with ("" = none)

    def to_dict(self) -> dict:
        """Tensors, strings and floats only: loadable with torch.load(weights_only=True)."""
        return {
            "format": STATS_FORMAT,
            "version": STATS_VERSION,
            "digest": self.digest,
            "means": self.means,
            "precisions": self.precisions,
            "centre": self.centre,
            "spread": self.spread,
            "hidden_weight": self.hidden_weight,
            "hidden_bias": self.hidden_bias,
            "weight": self.weight,
            "bias": float(self.bias),
            "threshold": float(self.threshold),
            "not_digit": float(self.not_digit),
            "gate_digest": self.gate_digest,
        }

    @classmethod
    def from_dict(cls, blob: dict) -> OODStats:
        if not isinstance(blob, dict) or blob.get("format") != STATS_FORMAT or blob.get("version") != STATS_VERSION:
            raise ValueError("not OOD statistics of this version")
        return cls(
            means=dict(blob["means"]),
            precisions=dict(blob["precisions"]),
            centre=blob["centre"],
            spread=blob["spread"],
            hidden_weight=blob["hidden_weight"],
            hidden_bias=blob["hidden_bias"],
            weight=blob["weight"],
            bias=float(blob["bias"]),
            threshold=float(blob["threshold"]),
            not_digit=float(blob["not_digit"]),
            digest=str(blob.get("digest", "")),
            gate_digest=str(blob.get("gate_digest", "")),
        )


def class_statistics(features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Class means and the precision (inverse) of the covariance shared by all classes, slightly regularised."""
    f = features.double()
    means = torch.stack([f[labels == c].mean(0) for c in range(NUM_CLASSES)])
    centred = f - means[labels]
    cov = centred.T @ centred / len(f)
    ridge = 1e-3 * cov.diagonal().mean() * torch.eye(f.shape[1], dtype=f.dtype)
    return means.float(), torch.linalg.inv(cov + ridge).float()


def class_distances(features: torch.Tensor, means: torch.Tensor, precision: torch.Tensor) -> torch.Tensor:
    """(N, 10) Mahalanobis distances to each class mean, sorted ascending."""
    diff = features[:, None, :] - means[None]
    squared = torch.einsum("nci,ij,ncj->nc", diff, precision, diff).clamp(min=1e-12)
    return squared.sqrt().sort(1).values


def _ink_statistics(pixels: torch.Tensor) -> list[torch.Tensor]:
    """Log total ink and log ink per unit of edge (how thick the strokes are) of the 28×28 views."""
    ink = pixels.sum((1, 2)).clamp(min=1e-3)
    edge = (pixels[:, 1:] - pixels[:, :-1]).abs().sum((1, 2)) + (pixels[:, :, 1:] - pixels[:, :, :-1]).abs().sum((1, 2))
    return [ink.log(), (ink / edge.clamp(min=1e-3)).log()]


def probe_inputs(
    features: Features, means: dict[str, torch.Tensor], precisions: dict[str, torch.Tensor]
) -> torch.Tensor:
    """(N, 235 + the gate's hidden units) probe inputs: the digit gate's log-odds, per layer log nearest distance
    and log distance ratio, logit and ink scores, then the three layers' raw features and the gate's hidden layer."""
    columns = [features.gate[:, 0]]
    for name in LAYERS:
        d = class_distances(features.layer(name), means[name], precisions[name])
        columns += [d[:, 0].log(), (d[:, 1] / d[:, 0]).log()]
    logits = features.logits
    probs = logits.softmax(1)
    columns += [-torch.logsumexp(logits, 1), -(probs * probs.clamp(min=1e-12).log()).sum(1)]
    columns += _ink_statistics(features.pixels)
    return torch.cat([torch.stack(columns, 1), features.block1, features.block2, features.fc, features.gate[:, 1:]], 1)


def probe_scores(features: Features, stats: OODStats) -> torch.Tensor:
    """Higher = less like a digit; above 0 = flagged."""
    return score_inputs(probe_inputs(features, stats.means, stats.precisions), stats) - stats.threshold


@dataclass(frozen=True)
class Probe:
    centre: torch.Tensor
    spread: torch.Tensor
    hidden_weight: torch.Tensor
    hidden_bias: torch.Tensor
    weight: torch.Tensor
    bias: float


def fit_probe(digits: torch.Tensor, others: torch.Tensor, seed: int = 0) -> Probe:
    """Digits (0) against non-digits (1), classes weighted equally: standardise, one hidden ReLU layer, a score.
    A linear probe flags fewer non-digits at the same false alarms (docs/digit-check.md); full-batch Adam with
    weight decay, from a fixed seed, so the same inputs give the same statistics."""
    x = torch.cat([digits, others]).float()
    y = torch.cat([torch.zeros(len(digits)), torch.ones(len(others))])
    centre, spread = x.mean(0), x.std(0).clamp(min=1e-6)  # dead channels have no spread
    z = (x - centre) / spread
    g = torch.Generator().manual_seed(seed)
    w1 = (torch.randn(x.shape[1], PROBE_HIDDEN, generator=g) / x.shape[1] ** 0.5).requires_grad_()
    b1 = torch.zeros(PROBE_HIDDEN, requires_grad=True)
    w2 = (torch.randn(PROBE_HIDDEN, generator=g) / PROBE_HIDDEN**0.5).requires_grad_()
    b2 = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([w1, b1, w2, b2], lr=PROBE_LR, weight_decay=PROBE_DECAY)
    balance = torch.tensor(len(digits) / max(1, len(others)))
    for _ in range(PROBE_STEPS):
        optimizer.zero_grad()
        out = (z @ w1 + b1).relu() @ w2 + b2
        nn.functional.binary_cross_entropy_with_logits(out, y, pos_weight=balance).backward()
        optimizer.step()
    return Probe(centre, spread, w1.detach(), b1.detach(), w2.detach(), float(b2.detach()))


# --- fitting the statistics of one checkpoint -------------------------------------------------------------------
STATS_IMAGES = TRAIN_SIZE // 6  # a sixth of the training digits: the class means and covariances
PROBE_IMAGES = 5_000  # further training digits for the probe, and as many again for its first threshold
PROBE_DRAWINGS = 1_000  # drawings of training digits (make_drawing), as digits for the probe
STYLED_PER_STYLE = 300  # digits per stroke style (half for the probe, half for the second threshold)
NON_DIGITS_PER_KIND = 300
FIT_SEED = 12345  # the measured sets use other seeds
FIT_INPUTS_VERSION = "styles-2"  # bump when the generators change: the cached fit pictures are remade


@dataclass(frozen=True)
class Holdout:
    """What a fit leaves out, to measure the check on what it never saw (docs/digit-check.md)."""

    style: str | None = None
    kind: str | None = None


@dataclass
class FitInputs:
    """The generated pictures a fit uses, as model inputs; they do not depend on the model."""

    drawings: torch.Tensor
    styled: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)  # style → (x, labels)
    others: dict[str, torch.Tensor] = field(default_factory=dict)  # non-digit kind → x


def _preprocessed(images: list[np.ndarray]) -> tuple[torch.Tensor, list[int]]:
    """Model inputs of the images that preprocess, and which ones did."""
    from simplecnn.inference.preprocess import ImageError, preprocess

    xs, kept = [], []
    for i, image in enumerate(images):
        try:
            xs.append(preprocess(image))
            kept.append(i)
        except ImageError:
            pass  # a generated picture can be blank after preprocessing (a tiny dot): nothing to learn from
    return (torch.cat(xs) if xs else torch.empty(0, 1, 28, 28)), kept


def _as_pixels(x: torch.Tensor) -> torch.Tensor:
    return (denormalize(x.clone()) * 255).round().to(torch.uint8)


def make_fit_inputs(data: MNISTTensors) -> FitInputs:
    """Drawings of training digits, stroke-style digits and non-digits (no system fonts: the same everywhere)."""
    from simplecnn.inference import styles
    from simplecnn.inference.synthetic import mnist_drawing_set

    y = data.train_y.cpu()
    end = STATS_IMAGES + 2 * PROBE_IMAGES
    pixels = denormalize(normalize(data.train_pixels[end:].cpu())[:, 0]).numpy()
    drawings, _ = _preprocessed(mnist_drawing_set(pixels[:PROBE_DRAWINGS], FIT_SEED))
    inputs = FitInputs(drawings)
    for k, style in enumerate(styles.STROKE_STYLES):
        n = STYLED_PER_STYLE if style.kind == "stroke" else STYLED_PER_STYLE // 2  # one digit: fewer
        images, labels = styles.style_set(style, n, FIT_SEED + 101 * k)
        x, kept = _preprocessed(images)
        inputs.styled[style.name] = (x, torch.tensor([labels[i] for i in kept], dtype=torch.long))
    mnist = (pixels[PROBE_DRAWINGS:], y[end + PROBE_DRAWINGS :].numpy())
    for k, kind in enumerate(styles.NON_DIGIT_KINDS):
        inputs.others[kind], _ = _preprocessed(styles.non_digit_set(kind, NON_DIGITS_PER_KIND, FIT_SEED + 7 * k, mnist))
    return inputs


def fit_inputs(data: MNISTTensors, folder: Path | None = None) -> FitInputs:
    """`make_fit_inputs`, kept in the cache (uint8 pictures) so each new checkpoint only pays forward passes."""
    from simplecnn.checkpoint import atomic_save
    from simplecnn.data import normalize

    path = (folder or cache_dir()) / f"digitcheck-inputs-{FIT_INPUTS_VERSION}.pt"
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        return FitInputs(
            normalize(blob["drawings"]),
            {k: (normalize(x), y) for k, (x, y) in blob["styled"].items()},
            {k: normalize(x) for k, x in blob["others"].items()},
        )
    except Exception:  # noqa: BLE001 - missing or unreadable: make them again
        pass
    inputs = make_fit_inputs(data)
    blob = {
        "drawings": _as_pixels(inputs.drawings),
        "styled": {k: (_as_pixels(x), y) for k, (x, y) in inputs.styled.items()},
        "others": {k: _as_pixels(x) for k, x in inputs.others.items()},
    }
    try:
        atomic_save(blob, path)
    except OSError:
        pass  # a read-only home: this process still has them
    return inputs


@dataclass
class FitFeatures:
    """Probe inputs of everything a fit uses, for one model: computed once, then any number of fits (holdouts)."""

    means: dict[str, torch.Tensor]
    precisions: dict[str, torch.Tensor]
    digits: torch.Tensor  # training digits and drawings of training digits, for the probe
    held: torch.Tensor  # training digits for the first threshold
    styled: dict[str, tuple[torch.Tensor, torch.Tensor]]  # style → (probe inputs, labels)
    others: dict[str, torch.Tensor]  # non-digit kind → probe inputs
    gate_digest: str = ""  # the digit gate whose scores are in the probe inputs


def fit_features(
    model: nn.Module, data: MNISTTensors, inputs: FitInputs | None = None, gate: DigitGate | None = None
) -> FitFeatures:
    """~25k forward passes: the class statistics, then every fit picture's probe inputs (with `gate`'s scores,
    else the shipped gate's)."""
    gate = gate if gate is not None else load_gate()
    x, y = normalize(data.train_pixels[:STATS_IMAGES].cpu()), data.train_y[:STATS_IMAGES].cpu()
    base = embed(model, x)
    means, precisions = {}, {}
    for name in LAYERS:
        means[name], precisions[name] = class_statistics(base.layer(name), y)
    inputs = inputs or fit_inputs(data)
    start, mid, end = STATS_IMAGES, STATS_IMAGES + PROBE_IMAGES, STATS_IMAGES + 2 * PROBE_IMAGES
    raw = data.train_pixels.cpu()  # normalised a slice at a time: the whole set in float32 would be 188 MB

    def features(x: torch.Tensor) -> torch.Tensor:
        return probe_inputs(embed(model, x, gate=gate), means, precisions)

    return FitFeatures(
        means,
        precisions,
        digits=features(torch.cat([normalize(raw[start:mid]), inputs.drawings])),
        held=features(normalize(raw[mid:end])),
        styled={k: (features(x), y) for k, (x, y) in inputs.styled.items()},
        others={k: features(x) for k, x in inputs.others.items()},
        gate_digest=gate_digest(gate),
    )


def _halves(ff: FitFeatures, holdout: Holdout) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Styled digits the fit may use: (first halves for the probe, second halves for the second threshold).
    Holding out a way of writing one digit (a closed 4) leaves out every styled picture of that digit."""
    from simplecnn.inference import styles

    all_styles = {s.name: s for s in styles.STROKE_STYLES}
    banned = styles.held_out(all_styles.get(holdout.style or "")).banned_digits
    fit, held = [], []
    for name, (z, y) in ff.styled.items():
        if name == holdout.style:
            continue
        z = z[torch.tensor([int(v) not in banned for v in y], dtype=torch.bool)]
        fit.append(z[: len(z) // 2])
        held.append(z[len(z) // 2 :])
    return fit, held


def score_inputs(z: torch.Tensor, stats: OODStats) -> torch.Tensor:
    """The probe's raw output for probe inputs z: above `threshold` unsure, above `not_digit` not a digit."""
    hidden = (((z - stats.centre) / stats.spread) @ stats.hidden_weight + stats.hidden_bias).relu()
    return hidden @ stats.weight + stats.bias


def stats_from_features(ff: FitFeatures, holdout: Holdout = Holdout(), digest: str = "") -> OODStats:
    """The probe and its two thresholds, leaving out `holdout` (a style, a non-digit kind, or nothing)."""
    styled_fit, styled_held = _halves(ff, holdout)
    digits = torch.cat([ff.digits, *styled_fit])
    others = torch.cat([z for kind, z in ff.others.items() if kind != holdout.kind])
    p = fit_probe(digits, others, FIT_SEED)
    stats = OODStats(
        ff.means,
        ff.precisions,
        p.centre,
        p.spread,
        p.hidden_weight,
        p.hidden_bias,
        p.weight,
        p.bias,
        0.0,
        digest=digest,
        gate_digest=ff.gate_digest,
    )
    stats.threshold = float(torch.quantile(score_inputs(ff.held, stats).double(), QUANTILE))
    styled = score_inputs(torch.cat(styled_held), stats)
    stats.not_digit = max(stats.threshold, float(torch.quantile(styled.double(), NOT_DIGIT_QUANTILE)))
    return stats


def fit_stats(
    model: nn.Module,
    data: MNISTTensors,
    digest: str = "",
    holdout: Holdout = Holdout(),
    inputs: FitInputs | None = None,
) -> OODStats:
    """Statistics for one model from the training set and the generators (~25k forward passes: under a minute
    on a CPU once the generated pictures are cached)."""
    return stats_from_features(fit_features(model, data, inputs), holdout, digest)


# --- checkers ---------------------------------------------------------------------------------------------------
class DigitChecker(Protocol):
    def check(self, features: Features) -> list[DigitCheck]: ...


@dataclass(frozen=True)
class StatsChecker:
    """The full check (module docstring), for a model whose statistics are known."""

    stats: OODStats

    def check(self, features: Features) -> list[DigitCheck]:
        scores = probe_scores(features, self.stats)
        not_digit_at = self.stats.not_digit - self.stats.threshold
        return [DigitCheck(verdict_for(float(s), not_digit_at), float(s), not_digit_at) for s in scores]


@dataclass(frozen=True)
class LogitOnly:
    """Fallback without statistics: doubt any answer under `min_confidence`. Catches far fewer non-digits."""

    min_confidence: float = FALLBACK_MIN_CONFIDENCE
    not_digit_under: float = FALLBACK_NOT_DIGIT

    def check(self, features: Features) -> list[DigitCheck]:
        confidence = features.logits.softmax(1).max(1).values
        not_digit_at = self.min_confidence - self.not_digit_under
        scores = [float(self.min_confidence - c) for c in confidence]
        return [DigitCheck(verdict_for(s, not_digit_at), s, not_digit_at) for s in scores]


def model_digest(model: nn.Module) -> str:
    """The key statistics are kept under: the same weights get the same statistics, whichever file they came
    from (simplecnn.files.digest_state)."""
    return digest_state(model.state_dict())


def load_stats(path: Path, digest: str) -> OODStats | None:
    """Statistics from `path` if they are there, readable and for this model; None otherwise."""
    try:
        stats = OODStats.from_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception:  # noqa: BLE001 - missing, corrupt or foreign: the caller recomputes
        return None
    return stats if stats.digest == digest and stats.gate_digest == gate_digest(load_gate()) else None


def stats_for(
    model: nn.Module, digest: str | None = None, folder: Path | None = None, compute: bool = True
) -> OODStats | None:
    """Shipped side file, else the disk cache, else (compute=True and MNIST on disk) fit and cache; else None."""
    from simplecnn.bounded import store_cached, touch
    from simplecnn.checkpoint import serialize
    from simplecnn.data import DataUnavailableError, load_mnist

    digest = digest or model_digest(model)
    path = (folder or cache_dir()) / f"ood-{digest[:32]}.pt"
    stats = load_stats(SHIPPED_STATS, digest) or load_stats(path, digest)
    if stats is not None:
        touch(path)
    if stats is not None or not compute:
        return stats
    try:
        stats = fit_stats(model, load_mnist(download=False), digest)
    except DataUnavailableError:
        return None
    store_cached(path, serialize(stats.to_dict()))  # within the cache's cap; a read-only home: memory only
    return stats


# Checkers are ~100 KB each, one per model a visitor brought: the most recent few are kept.
_CHECKERS: BoundedCache[str, DigitChecker] = BoundedCache(max_entries=32, max_bytes=1 << 40)
# Per model object, with its parameters' in-place version counters: hashing 1.9 MB of weights (~5 ms) on
# every prediction would cost more than the prediction itself.
_BY_MODEL: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[int, ...], DigitChecker]] = weakref.WeakKeyDictionary()


def _versions(model: nn.Module) -> tuple[int, ...]:
    return tuple(p._version for p in model.state_dict().values())


def checker_for(model: nn.Module, compute: bool = True, folder: Path | None = None) -> DigitChecker:
    """The checker for this model, memoised per weights digest. compute=False never fits (returns the
    fallback until statistics exist); the first compute=True call for new weights takes tens of seconds."""
    known = _BY_MODEL.get(model)
    if known is not None and known[0] == _versions(model):
        return known[1]
    digest = model_digest(model)
    checker = _CHECKERS.get(digest)
    if checker is None:
        stats = stats_for(model, digest, folder, compute)
        if stats is None:
            return LogitOnly()  # not remembered: statistics may appear later
        checker = _CHECKERS.put(digest, StatsChecker(stats))
    _BY_MODEL[model] = (_versions(model), checker)
    return checker


# One fitting thread for the whole process, working through a short queue: sixteen visitors bringing sixteen
# models at once cost one fit's memory at a time, not sixteen. A model dropped from a full queue is offered
# again the next time one of its pages asks.
MAX_WAITING_FITS = 4
_FITS: OrderedDict[str, nn.Module] = OrderedDict()
_FITTING_LOCK = threading.Lock()
_fitter: threading.Thread | None = None


def fit_in_background(model: nn.Module) -> None:
    """Fit this model's statistics once, in a low-priority daemon thread, so a page never waits for them: it
    uses `checker_for(model, compute=False)` (the fallback until they exist, the full check from then on)."""
    global _fitter
    digest = model_digest(model)
    with _FITTING_LOCK:
        if digest in _CHECKERS or digest in _FITS:
            return
        _FITS[digest] = model
        while len(_FITS) > MAX_WAITING_FITS:
            _FITS.popitem(last=False)
        if _fitter is None or not _fitter.is_alive():
            _fitter = threading.Thread(target=_fit_waiting, name="simplecnn-digitcheck-fit", daemon=True)
            _fitter.start()


def _fit_waiting() -> None:
    try:
        # Nice this thread (and the compute threads it starts) so drawing and training win the CPU.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass
    while True:
        with _FITTING_LOCK:
            if not _FITS:
                return
            digest, model = next(iter(_FITS.items()))
        try:
            checker_for(model, compute=True)
        except Exception as exc:  # noqa: BLE001 - a background fit must never die silently, nor loop on one model
            incident(exc, "fitting the digit check")
        with _FITTING_LOCK:
            _FITS.pop(digest, None)


# --- measuring the check ----------------------------------------------------------------------------------------
def verdict_rates(model: nn.Module, checker: DigitChecker, x: torch.Tensor) -> dict[str, float]:
    """Share of each answer on the inputs x (benchmarks/digit_styles.py measures them per style)."""
    checks = checker.check(embed(model, x))
    n = max(1, len(checks))
    return {v.value: sum(c.verdict is v for c in checks) / n for v in Verdict}


def main() -> None:
    """python -m simplecnn.inference.digitcheck [--write]: fit the shipped checkpoint's statistics, print their
    answers on the MNIST test set, and with --write store them beside it (checkpoints/simplecnn.ood.pt)."""
    import json
    import sys

    from simplecnn.checkpoint import atomic_save, load_model
    from simplecnn.data import load_mnist

    model, _ = load_model()
    data = load_mnist()
    stats = fit_stats(model, data, model_digest(model))
    if "--write" in sys.argv:
        atomic_save(stats.to_dict(), SHIPPED_STATS)
    rates = verdict_rates(model, StatsChecker(stats), data.test_x.cpu())
    print(json.dumps({"mnist_test": rates, "unsure_above": stats.threshold, "not_digit_above": stats.not_digit}))


if __name__ == "__main__":
    main()
