"""Why the model decides: which pixels pushed the answer (Integrated Gradients)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from simplecnn.data import BACKGROUND
from simplecnn.explain.activations import _check_input

IG_STEPS = 16  # IG Riemann steps: enough for a small completeness gap (docs/inside.md has it)


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

    Why not captum here: importing `captum.attr` brings matplotlib and IPython with it, tens of MB of the server's
    memory and seconds on the first stroke after a start (docs/inside.md), on small hosts. IG itself is
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
