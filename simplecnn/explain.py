"""Look inside SimpleCNN for one digit: what it sees, why it decides, and where it breaks.

Every function takes the model's normalised 1×1×28×28 input `x` (as `preprocess()` makes it) and returns plain
numpy/tensors; the pictures are drawn by `explain_plots`, the pages only arrange them.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .cache import cache_dir
from .data import BACKGROUND, IMAGE_SIZE, TEST_SIZE, TRAIN_SIZE, denormalize, load_mnist, normalize, resolve_data_dir
from .model import SimpleCNN, forward_stages
from .preprocess import Stages, ink_map, preprocess_stages

EMBED_BATCH = 1000  # images per forward pass when embedding a split: bounded memory, full speed
IG_STEPS = 16  # IG Riemann steps: completeness gap median 1.4%, max 4.4% of the logit (20 test digits)
PGD_STEPS = 40
PGD_STEP_FRACTION = 0.1  # each PGD step moves eps/10: 40 steps can cross the eps-ball twice
PGD_CONFIDENT = 0.5  # stop once another digit wins with this probability: the smallest convincing change
CACHE_FORMAT = 1  # bump when the embedding definition changes: old cache files are then ignored


class ExplainError(ValueError):
    """The input cannot be explained (wrong shape, not a SimpleCNN where one is needed); one line for the user."""


def _check_input(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or tuple(x.shape) != (1, 1, IMAGE_SIZE, IMAGE_SIZE):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ExplainError(f"expected the model's 1×1×{IMAGE_SIZE}×{IMAGE_SIZE} input, got {shape}")
    return x.detach().float().cpu()


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """One intra-op thread for the calling thread's single-digit work, restored afterwards.

    One 28×28 image gains nothing from threads, and on busy cores OpenMP's barrier waits make it slow: with the
    machine loaded, activations took 188 ms on 2 threads and 4.6 ms on 1, Integrated Gradients 2.4 s and 0.19 s.
    torch's thread count is per thread here (other running threads, e.g. a training worker, keep theirs).
    """
    before = torch.get_num_threads()
    if before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before > 1:
            torch.set_num_threads(before)


# ---------------------------------------------------------------- preprocessing


@dataclass(frozen=True)
class PreprocessView:
    stages: Stages  # ink → crop → 20 px box → 28×28 placed by centre of mass
    ours: torch.Tensor  # the model's input from our preprocessing (normalised 1×1×28×28)
    plain: torch.Tensor  # the model's input from a plain resize of the whole image to 28×28


def plain_resize_input(image: np.ndarray) -> torch.Tensor:
    """What a plain resize would feed the model: the whole image's ink, area-averaged to 28×28, normalised.

    Uses `preprocess.ink_map` so it reads every encoding our preprocessing reads (light or dark ink, alpha,
    floats); `drawings.naive_input` assumes uint8 and light-on-dark greyscale and gives the same answer there.
    """
    ink = torch.from_numpy(np.ascontiguousarray(ink_map(image), dtype=np.float32))[None, None]
    return normalize(F.interpolate(ink, size=(IMAGE_SIZE, IMAGE_SIZE), mode="area"))


def preprocess_view(image: np.ndarray) -> PreprocessView:
    """Raises preprocess.ImageError / BlankImageError like `preprocess()`."""
    stages = preprocess_stages(image)
    ours = normalize(torch.from_numpy(stages.pixels))[None, None]
    return PreprocessView(stages, ours, plain_resize_input(image))


# ---------------------------------------------------------------- activations


@dataclass(frozen=True)
class Activations:
    """Every layer's output for one digit, as numpy.

    convK is ReLU(convK(its input)) at the convolution's own resolution (the tutorial's relu(conv(x))):
    conv1, conv2: C×28×28; conv3, conv4: C×14×14. SimpleCNN.forward pools conv2/conv4 *before* its ReLU (the
    two commute), so max-pooling conv2/conv4 here gives exactly the tensors the forward pass hands on.
    """

    conv1: np.ndarray
    conv2: np.ndarray
    conv3: np.ndarray
    conv4: np.ndarray
    fc128: np.ndarray  # ReLU(fc1), the embedding used for neighbours and the map
    logits: np.ndarray  # 10
    probabilities: np.ndarray  # softmax(logits)

    @property
    def digit(self) -> int:
        return int(self.probabilities.argmax())

    def stage(self, name: str) -> np.ndarray:
        return getattr(self, name)


CONV_STAGES = ("conv1", "conv2", "conv3", "conv4")


def _layers(model: SimpleCNN, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The eval-mode forward pass, keeping each stage the inside view shows."""
    stages = forward_stages(model, x)
    return {name: stages[name] for name in ("conv1", "conv2", "conv3", "conv4", "fc128", "logits")}


@torch.no_grad()
def activations(model: SimpleCNN, x: torch.Tensor) -> Activations:
    model.eval()
    layers = _layers(model, _check_input(x))
    arrays = {name: t[0].numpy().copy() for name, t in layers.items()}
    probs = torch.softmax(layers["logits"][0].double(), 0).float().numpy()
    return Activations(probabilities=probs, **arrays)


def conv1_filters(model: SimpleCNN) -> np.ndarray:
    """The 32 first-layer 3×3 kernels (32×3×3): what each conv1 channel looks for in the pixels."""
    return model.conv1.weight.detach().cpu()[:, 0].numpy().copy()


@torch.no_grad()
def embed(model: SimpleCNN, x: torch.Tensor, batch: int = EMBED_BATCH) -> torch.Tensor:
    """fc128 embeddings (N×128) of normalised N×1×28×28 inputs, in batches."""
    model.eval()
    out = [_layers(model, x[i : i + batch].float())["fc128"] for i in range(0, len(x), batch)]
    return torch.cat(out) if out else torch.empty(0, 128)


# ---------------------------------------------------------------- attribution


@dataclass(frozen=True)
class Attribution:
    target: int  # the digit explained
    pixels: np.ndarray  # 28×28, logit(target) contribution of each pixel (positive: pushes towards target)
    delta: float  # completeness gap: sum(pixels) − (logit(x) − logit(baseline)); small means trustworthy


def integrated_gradients(
    model: nn.Module, x: torch.Tensor, target: int | None = None, steps: int = IG_STEPS
) -> Attribution:
    """Integrated Gradients of the target logit from a blank (all-background) image to x.

    Why IG: it is pixel-sharp (Grad-CAM on conv4 is 14×14 at best), costs one batched pass of `steps` images
    (occlusion needs a forward per window), and its baseline has a plain meaning here — "no ink" — so the map
    reads as "how much each stroke pixel added to this digit's score"; the attributions sum to that score's change.

    Why not captum here: importing `captum.attr` brings matplotlib and IPython with it, 57-76 MB of the server's
    memory (measured) and ≈ 2.5 s on the first stroke after a start, on hosts with 690 MB in all. IG itself is
    these few lines: captum's default method (Gauss-Legendre nodes over the path), and tests/test_explain.py
    checks it against captum's IntegratedGradients (a test dependency) to 1e-5.
    """
    model.eval()
    x = _check_input(x)
    if target is None:
        with torch.no_grad():
            target = int(model(x).argmax(1)[0])
    baseline = torch.full_like(x, BACKGROUND)
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]; mapped to alphas in [0, 1]
    alphas = torch.as_tensor(0.5 * (nodes + 1), dtype=x.dtype).view(-1, 1, 1, 1)
    path = (baseline + alphas * (x - baseline)).requires_grad_(True)
    (grads,) = torch.autograd.grad(model(path)[:, target].sum(), path)
    mean_grad = (torch.as_tensor(0.5 * weights, dtype=x.dtype).view(-1, 1, 1, 1) * grads).sum(0, keepdim=True)
    attr = (x - baseline) * mean_grad
    with torch.no_grad():
        scores = model(torch.cat([x, baseline]))[:, target]
    delta = float(attr.sum() - (scores[0] - scores[1]))
    return Attribution(target, attr[0, 0].detach().numpy().copy(), delta)


# ---------------------------------------------------------------- embeddings, neighbours, map


def weights_hash(model: nn.Module) -> str:
    """SHA-256 of the parameters and buffers (names, shapes, bytes): the same weights give the same key."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


# Train embeddings are 30 MB per checkpoint: memory keeps the few most recent (a workshop makes dozens of
# checkpoints; a small cloud machine has 690 MB), the disk cache keeps them all.
MEMORY_ENTRIES = 4
_embeddings: OrderedDict[tuple[str, str, str], torch.Tensor] = OrderedDict()
_embeddings_lock = threading.Lock()


def _cache_file(weights: str, split: str, root: str) -> Path:
    data_key = hashlib.sha1(root.encode()).hexdigest()[:8]
    return cache_dir() / f"embed-v{CACHE_FORMAT}-{weights[:24]}-{split}-{data_key}.pt"


def _read_embeddings(path: Path, rows: int) -> torch.Tensor | None:
    try:
        cached = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: recompute
        return None
    ok = isinstance(cached, torch.Tensor) and tuple(cached.shape) == (rows, 128) and bool(torch.isfinite(cached).all())
    return cached.float() if ok else None


def split_embeddings(model: SimpleCNN, split: str = "train") -> torch.Tensor:
    """fc128 of MNIST's train (60,000) or test (10,000) split: once per weights, in memory and on disk.

    Embedding the training set costs tens of seconds on two cores; the disk cache (~/.cache/simplecnn, atomic
    write, weights_only read) makes it once per checkpoint per machine, the memory cache once per process.
    """
    if split not in ("train", "test"):
        raise ExplainError(f"split must be 'train' or 'test', not {split!r}")
    root = str(resolve_data_dir().resolve())
    weights = weights_hash(model)
    key = (weights, split, root)
    with _embeddings_lock:
        if key in _embeddings:
            _embeddings.move_to_end(key)
            return _embeddings[key]
        rows = TRAIN_SIZE if split == "train" else TEST_SIZE
        path = _cache_file(weights, split, root)
        cached = _read_embeddings(path, rows) if path.is_file() else None
        if cached is None:
            data = load_mnist()
            images = data.train_x if split == "train" else data.test_x
            cached = embed(model, images.cpu()).contiguous()
            _write_embeddings(cached, path)
        _embeddings[key] = cached
        while len(_embeddings) > MEMORY_ENTRIES:
            _embeddings.popitem(last=False)
        return cached


def _write_embeddings(tensor: torch.Tensor, path: Path) -> None:
    from .checkpoint import atomic_save

    try:
        atomic_save(tensor.clone(), path)
    except OSError:
        pass  # a read-only home only costs recomputing next process


@dataclass(frozen=True)
class Neighbour:
    index: int  # into MNIST's training set
    label: int
    distance: float  # Euclidean, in fc128 space


def nearest_training_digits(model: SimpleCNN, x: torch.Tensor, k: int = 5) -> list[Neighbour]:
    """The k training images whose fc128 embeddings are closest to x's, nearest first."""
    if not 1 <= k <= TRAIN_SIZE:
        raise ExplainError(f"k must be between 1 and {TRAIN_SIZE}, not {k}")
    bank = split_embeddings(model, "train")
    query = embed(model, _check_input(x))
    distances = torch.cdist(query, bank)[0]
    values, indices = torch.topk(distances, k, largest=False)  # sorted ascending
    labels = load_mnist().train_y.cpu()
    return [Neighbour(int(i), int(labels[i]), float(d)) for d, i in zip(values, indices, strict=False)]


def training_pixels(indices: list[int]) -> list[np.ndarray]:
    """Training images as 28×28 [0, 1] pixels, e.g. to show the neighbours."""
    data = load_mnist()
    return [denormalize(data.train_x[i, 0].cpu().clone()).numpy() for i in indices]


@dataclass(frozen=True)
class EmbeddingMap:
    points: np.ndarray  # TEST_SIZE×2: the test set's fc128 projected on its first two principal components
    labels: np.ndarray  # TEST_SIZE true digits
    mean: np.ndarray  # 128: the centre the projection subtracts
    axes: np.ndarray  # 128×2: the principal directions

    def place(self, fc128: np.ndarray) -> np.ndarray:
        """Where one digit's fc128 embedding falls on the map (2,)."""
        return (np.asarray(fc128, np.float32) - self.mean) @ self.axes


_maps: OrderedDict[tuple[str, str], EmbeddingMap] = OrderedDict()


def embedding_map(model: SimpleCNN) -> EmbeddingMap:
    """A 2-D PCA map of the test set's fc128 embeddings (cached per weights; PCA itself takes milliseconds)."""
    root = str(resolve_data_dir().resolve())
    key = (weights_hash(model), root)
    if key not in _maps:
        emb = split_embeddings(model, "test")
        mean = emb.mean(0)
        torch.manual_seed(0)  # pca_lowrank is randomised: the same map every time
        _, _, v = torch.pca_lowrank(emb, q=2, center=True, niter=4)
        axes = v[:, :2]
        points = (emb - mean) @ axes
        labels = load_mnist().test_y.cpu().numpy()
        _maps[key] = EmbeddingMap(points.numpy(), labels, mean.numpy(), axes.numpy())
        while len(_maps) > MEMORY_ENTRIES:
            _maps.popitem(last=False)
    return _maps[key]


# ---------------------------------------------------------------- robustness


@dataclass(frozen=True)
class Transform:
    """One robustness-lab setting; the default changes nothing."""

    shift_x: float = 0.0  # pixels, right positive
    shift_y: float = 0.0  # pixels, down positive
    rotation: float = 0.0  # degrees, counter-clockwise positive
    scale: float = 1.0  # 1 = unchanged, around the image centre
    thickness: int = 0  # +n dilates the strokes n times (3×3), −n erodes them
    noise: float = 0.0  # std of Gaussian pixel noise (0–1 pixel units), clipped to [0, 1]
    seed: int = 0  # the noise pattern: the same setting gives the same picture


def _affine(pixels: torch.Tensor, t: Transform) -> torch.Tensor:
    angle = math.radians(t.rotation)
    cos, sin = math.cos(angle) / t.scale, math.sin(angle) / t.scale
    # affine_grid maps output → input coordinates in [-1, 1]; hence the inverse rotation/scale and minus shift.
    half = IMAGE_SIZE / 2
    theta = torch.tensor(
        [
            [
                [cos, -sin, -t.shift_x / half * cos + t.shift_y / half * sin],
                [sin, cos, -t.shift_x / half * sin - t.shift_y / half * cos],
            ]
        ],
        dtype=torch.float32,
    )
    grid = F.affine_grid(theta, [1, 1, IMAGE_SIZE, IMAGE_SIZE], align_corners=False)
    return F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def transform_pixels(pixels: np.ndarray, t: Transform) -> np.ndarray:
    """A 28×28 [0, 1] digit (white on black) moved, turned, scaled, thickened/thinned and noised."""
    if t.scale <= 0:
        raise ExplainError(f"scale must be positive, not {t.scale}")
    p = torch.as_tensor(np.asarray(pixels, np.float32)).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE)
    if (t.shift_x, t.shift_y, t.rotation, t.scale) != (0.0, 0.0, 0.0, 1.0):
        p = _affine(p, t)
    for _ in range(abs(t.thickness)):
        p = F.max_pool2d(p, 3, 1, 1) if t.thickness > 0 else -F.max_pool2d(-p, 3, 1, 1)
    if t.noise > 0:
        gen = torch.Generator().manual_seed(t.seed)
        p = p + t.noise * torch.randn(p.shape, generator=gen)
    return p.clamp(0, 1)[0, 0].numpy()


def pixels_of(x: torch.Tensor) -> np.ndarray:
    """The model's normalised input → 28×28 [0, 1] pixels."""
    return denormalize(_check_input(x).clone())[0, 0].numpy()


def input_of(pixels: np.ndarray) -> torch.Tensor:
    """28×28 [0, 1] pixels → the model's normalised 1×1×28×28 input."""
    return normalize(torch.as_tensor(np.asarray(pixels, np.float32)).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE))


@dataclass(frozen=True)
class Scored:
    pixels: np.ndarray  # 28×28 [0, 1]
    digit: int
    probabilities: np.ndarray  # 10

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])


@torch.no_grad()
def score(model: nn.Module, pixels: np.ndarray) -> Scored:
    model.eval()
    probs = torch.softmax(model(input_of(pixels)).float()[0], 0).numpy()
    return Scored(np.asarray(pixels, np.float32), int(probs.argmax()), probs)


def robustness(model: nn.Module, x: torch.Tensor, t: Transform) -> Scored:
    """The digit under one robustness-lab setting, and what the model now reads."""
    return score(model, transform_pixels(pixels_of(x), t))


# ---------------------------------------------------------------- adversarial nudge


@dataclass(frozen=True)
class Adversarial:
    x: torch.Tensor  # perturbed input, normalised like the input (1×1×28×28)
    digit: int  # the model's prediction on .x
    probabilities: np.ndarray  # 10, on .x
    original_digit: int  # the prediction on the unperturbed input
    eps: float  # L∞ bound in 0–1 pixel units
    perturbation: np.ndarray  # 28×28 pixel change (.x − x in 0–1 units), each within ±eps

    @property
    def flipped(self) -> bool:
        return self.digit != self.original_digit

    @property
    def pixels(self) -> np.ndarray:
        return pixels_of(self.x)


def adversarial(model: nn.Module, x: torch.Tensor, eps: float, steps: int = PGD_STEPS) -> Adversarial:
    """Untargeted PGD (L∞) in the model's 0–1 pixel space: push the loss of the current prediction up.

    Steps of eps/10 along the gradient's sign, projected back into the eps-ball and [0, 1]. It stops at the first
    iterate that another digit wins with ≥ 50% (the smallest convincing change); otherwise it returns the flipped
    iterate with the most wrong-class probability, or, if nothing flipped, the last one. `.digit`/.probabilities
    are always re-scored on the returned `.x`.
    """
    if not 0 <= eps <= 1:
        raise ExplainError(f"eps must be between 0 and 1 (pixel units), not {eps}")
    model.eval()
    start = torch.as_tensor(pixels_of(x)).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE)
    with torch.no_grad():
        original = int(model(normalize(start)).argmax(1)[0])
    target = torch.tensor([original])
    adv, best, best_score = start.clone(), start.clone(), -1.0
    step = max(eps * PGD_STEP_FRACTION, 1e-4)
    for _ in range(steps if eps > 0 else 0):
        adv.requires_grad_(True)
        logits = model(normalize(adv))
        loss = F.cross_entropy(logits, target)
        (grad,) = torch.autograd.grad(loss, adv)
        with torch.no_grad():
            probs = torch.softmax(logits[0], 0)
            wrong = float(1 - probs[original])
            if int(probs.argmax()) != original and wrong > best_score:
                best, best_score = adv.detach().clone(), wrong
                if float(probs.max()) >= PGD_CONFIDENT:
                    break  # a confident flip: more steps would only spend the rest of the eps budget
            adv = torch.min(torch.max(adv + step * grad.sign(), start - eps), start + eps).clamp(0, 1)
    final, probs = _rescore(model, adv.detach() if best_score < 0 else best)
    return Adversarial(
        normalize(final), int(probs.argmax()), probs.numpy(), original, float(eps), (final - start)[0, 0].numpy()
    )


@torch.no_grad()
def _rescore(model: nn.Module, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return pixels, torch.softmax(model(normalize(pixels)).float()[0], 0)
