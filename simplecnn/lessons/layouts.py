"""Lesson 8: channels-first vs channels-last, and view / reshape / flatten, on a real batch's shapes."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LayoutFacts:
    pytorch_shape: tuple[int, ...]  # (N, C, H, W): channels first, as PyTorch's layers take a batch
    keras_shape: tuple[int, ...]  # (N, H, W, C): the same batch permuted as Keras holds it
    features_shape: tuple[int, ...]  # the last 4-D output before the classifier, e.g. (N, 64, 7, 7)
    channels_last_shape: tuple[int, ...]  # the features in torch.channels_last memory format: the same shape...
    channels_first_strides: tuple[int, ...]
    channels_last_strides: tuple[int, ...]  # ...only the order of the numbers in memory (the strides) changes
    view_shape: tuple[int, ...]  # x.view(x.size(0), -1)
    reshape_shape: tuple[int, ...]  # x.reshape(x.size(0), -1)
    flatten_shape: tuple[int, ...]  # torch.flatten(x, 1)
    all_equal: bool  # the three give the same numbers
    view_error: str  # x.view(...) on the channels_last features: PyTorch's refusal ("" if it worked)
    reshape_copies: bool  # reshape of the channels_last features had to copy


def last_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The last 4-D tensor the forward pass produces (what gets flattened), from a private copy of the model."""
    found: list[torch.Tensor] = []
    model = copy.deepcopy(model).eval()
    for child in model.children():
        child.register_forward_hook(lambda _m, _i, out: found.append(out) if out.dim() == 4 else None)
    with torch.no_grad():
        model(x)
    return found[-1]


def layout_facts(model: nn.Module, batch: torch.Tensor) -> LayoutFacts:
    """`batch`: normalised images (N, 1, 28, 28) straight from the data set."""
    nhwc = batch.permute(0, 2, 3, 1)
    x = last_features(model, batch)
    n = x.size(0)
    viewed, reshaped, flat = x.view(n, -1), x.reshape(n, -1), torch.flatten(x, 1)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    try:
        x_cl.view(n, -1)
        view_error = ""
    except RuntimeError as exc:
        view_error = str(exc).strip().splitlines()[0]
    return LayoutFacts(
        tuple(batch.shape),
        tuple(nhwc.shape),
        tuple(x.shape),
        tuple(x_cl.shape),
        x.stride(),
        x_cl.stride(),
        tuple(viewed.shape),
        tuple(reshaped.shape),
        tuple(flat.shape),
        torch.equal(viewed, reshaped) and torch.equal(viewed, flat),
        view_error,
        x_cl.reshape(n, -1).data_ptr() != x_cl.data_ptr(),
    )
