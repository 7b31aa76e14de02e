"""The speed layer (simplecnn.perf): the AVX2 kernels' weight gradient equals oneDNN's, the fused pool → ReLU →
dropout equals the three layers bit for bit, each is used only where it applies, a machine that cannot build them
trains exactly as before, and the training forward computes the tutorial model's function."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from simplecnn.device import cpu_info
from simplecnn.model import SimpleCNN
from simplecnn.perf import kernels
from simplecnn.perf.layers import TrainingForward, dropout, random_bytes, training_forward

HAS_AVX2 = {"avx2", "fma"} <= cpu_info().flags
needs_kernel = pytest.mark.skipif(not HAS_AVX2, reason="the kernel is AVX2+FMA code")


def onednn_grads(x: torch.Tensor, gy: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    _, gw, gb = torch.ops.aten.convolution_backward(
        gy, x, weight, [weight.shape[0]], [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [False, True, True]
    )
    return gw, gb


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.fixture()
def switch(monkeypatch):
    """Set SIMPLECNN_WGRAD for one test; wanted() caches its answer per process, so clear it around the test."""

    def set_to(value: str) -> None:
        monkeypatch.setenv("SIMPLECNN_WGRAD", value)
        kernels.wanted.cache_clear()

    yield set_to
    kernels.wanted.cache_clear()


@needs_kernel
@pytest.mark.parametrize(
    ("n", "c", "k", "size", "threads"),
    [(3, 32, 32, 28, 2), (5, 32, 64, 14, 2), (2, 64, 64, 14, 1), (4, 7, 32, 5, 2), (1, 1, 32, 3, 3), (2, 2, 64, 9, 2)],
)
def test_kernel_matches_onednn(n, c, k, size, threads):
    """Every channel-tile remainder (C mod 3 = 0, 1, 2), image edges, odd batches, more threads than images."""
    assert kernels.kernel() is not None, kernels.describe()
    g = torch.Generator().manual_seed(n * 1000 + c)
    x = torch.randn(n, c, size, size, generator=g).contiguous(memory_format=torch.channels_last)
    gy = torch.randn(n, k, size, size, generator=g).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(k, c, 3, 3, generator=g)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gw, gb = kernels.weight_grad(x, gy)
    finally:
        torch.set_num_threads(before)
    ref_w, ref_b = onednn_grads(x, gy, weight)
    assert gw.is_contiguous(memory_format=torch.channels_last)
    assert relative_error(gw, ref_w) < 1e-5
    assert relative_error(gb, ref_b) < 1e-5


@needs_kernel
@pytest.mark.parametrize(("c", "threads"), [(1, 2), (32, 1)])
def test_kernel_folds_in_a_relu_backward(c, threads):
    """With relu_out, grad_out is the gradient after the ReLU: the kernel masks it itself, image by image."""
    g = torch.Generator().manual_seed(c)
    x = torch.randn(5, c, 12, 12, generator=g).contiguous(memory_format=torch.channels_last)
    relu_out = torch.randn(5, 32, 12, 12, generator=g).clamp_min(0).contiguous(memory_format=torch.channels_last)
    gy = torch.randn(5, 32, 12, 12, generator=g).contiguous(memory_format=torch.channels_last)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gw, gb = kernels.weight_grad(x, gy, relu_out)
    finally:
        torch.set_num_threads(before)
    ref_w, ref_b = onednn_grads(x, gy * (relu_out > 0), torch.randn(32, c, 3, 3))
    assert relative_error(gw, ref_w) < 1e-5
    assert relative_error(gb, ref_b) < 1e-5


@needs_kernel
def test_training_step_takes_the_kernel_and_matches_onednn(switch, monkeypatch):
    """A real SimpleCNN step: all four convolutions call the kernel, and every gradient equals oneDNN's."""
    torch.manual_seed(0)
    model = SimpleCNN().to(memory_format=torch.channels_last)
    net = TrainingForward(model)
    x = torch.randn(16, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (16,))
    calls = []
    real = kernels.weight_grad
    monkeypatch.setattr(kernels, "weight_grad", lambda *a: calls.append(a[0].shape) or real(*a))

    def grads(mode: str) -> dict[str, torch.Tensor]:
        switch(mode)
        torch.manual_seed(1)  # the same dropout masks
        model.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        return {name: p.grad.clone() for name, p in model.named_parameters()}

    fast, plain = grads("on"), grads("off")
    assert [s[1] for s in calls] == [64, 32, 32, 1]  # conv4, conv3, conv2, conv1: backward order
    for name, grad in plain.items():
        assert fast[name].stride() == grad.stride(), name
        assert relative_error(fast[name], grad) < 1e-4, name


@needs_kernel
def test_only_training_forwards_of_fp32_channels_last_apply(switch):
    switch("on")
    weight = torch.nn.Parameter(torch.randn(32, 32, 3, 3))
    x = torch.randn(2, 32, 8, 8)
    assert kernels.applies(x.contiguous(memory_format=torch.channels_last), weight)
    assert not kernels.applies(x, weight)  # NCHW: oneDNN keeps it
    assert not kernels.applies(x.double().contiguous(memory_format=torch.channels_last), weight)
    with torch.no_grad():
        assert not kernels.applies(x.contiguous(memory_format=torch.channels_last), weight)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not kernels.applies(x.contiguous(memory_format=torch.channels_last), weight)
    narrow = torch.nn.Parameter(torch.randn(16, 32, 3, 3))  # fewer output channels than the register tile
    assert not kernels.applies(x.contiguous(memory_format=torch.channels_last), narrow)
    switch("off")
    assert not kernels.applies(x.contiguous(memory_format=torch.channels_last), weight)


def test_policy_follows_the_switch_and_the_isa(switch, monkeypatch):
    switch("off")
    assert not kernels.wanted()
    switch("on")
    assert kernels.wanted()
    switch("auto")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    kernels.wanted.cache_clear()
    assert kernels.wanted()  # an AVX-512 machine capped at AVX2 measures the AVX2 path
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    kernels.wanted.cache_clear()
    assert kernels.wanted() == (torch.backends.cpu.get_cpu_capability() == "AVX2")


def test_no_compiler_means_plain_convolutions(switch, monkeypatch, tmp_path):
    """A failed build is reported once and training goes on with oneDNN, with the same results."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    monkeypatch.setattr(kernels, "_kernel", kernels._Kernel())
    switch("on")
    assert kernels.kernel() is None
    assert "unavailable" in kernels.describe() and "false failed" in kernels.describe()
    assert not kernels.prepare()
    assert list((tmp_path / "simplecnn").iterdir()) == []  # no half-written library left behind
    model = SimpleCNN().to(memory_format=torch.channels_last)
    x = torch.randn(4, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    F.cross_entropy(TrainingForward(model)(x), torch.tensor([0, 1, 2, 3])).backward()
    assert model.conv2.weight.grad is not None


@needs_kernel
def test_build_is_cached_and_leaves_no_temporary_files(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = kernels.build()
    mtime = first.stat().st_mtime_ns
    assert kernels.build() == first and first.stat().st_mtime_ns == mtime  # the second call only looks
    assert [p.name for p in first.parent.iterdir()] == [first.name]
    assert os.access(first, os.R_OK)


@needs_kernel
def test_weight_grad_takes_any_layout_and_names_a_bad_shape():
    x = torch.randn(2, 32, 6, 6)  # NCHW: converted, not misread
    gy = torch.randn(2, 32, 6, 6)
    gw, _ = kernels.weight_grad(x, gy)
    assert relative_error(gw, onednn_grads(x, gy, torch.randn(32, 32, 3, 3))[0]) < 1e-5
    with pytest.raises(ValueError, match="grad_out"):
        kernels.weight_grad(x, torch.randn(2, 32, 5, 5))


def test_a_cache_folder_others_can_write_is_not_used(monkeypatch, tmp_path):
    """The compiled library is code we will run: never from a folder another user could have written to."""
    shared = tmp_path / "simplecnn"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kernels._kernel_dir() != shared
    shared.chmod(0o755)
    assert kernels._kernel_dir() == shared


@needs_kernel
@pytest.mark.parametrize(("n", "c", "size", "p"), [(3, 32, 28, 0.25), (2, 64, 14, 0.25), (1, 8, 4, 0.5)])
def test_pool_relu_dropout_equals_the_three_layers(n, c, size, p):
    """One pass each way, bit for bit what MaxPool2d → ReLU → layers.dropout give with the same random bytes."""
    x = torch.randn(n, c, size, size).contiguous(memory_format=torch.channels_last).requires_grad_()
    grad = torch.randn(n, c, size // 2, size // 2).contiguous(memory_format=torch.channels_last)
    torch.manual_seed(5)
    fused = kernels.pool_relu_dropout(x, p, random_bytes(grad.numel()))
    fused.backward(grad)
    fused_grad, x.grad = x.grad, None
    torch.manual_seed(5)
    plain = dropout(F.relu(F.max_pool2d(x, 2)), p, training=True)
    plain.backward(grad)
    assert fused.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(fused, plain) and torch.equal(fused_grad, x.grad)
    assert 0 < (fused == 0).float().mean() < 1


@needs_kernel
def test_pool_kernel_only_takes_what_it_computes_exactly(switch):
    switch("on")
    x = torch.randn(2, 32, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_()
    assert kernels.pool_applies(x, 0.25)
    assert not kernels.pool_applies(x, 0.3)  # 0.3·256 is not whole: one random byte cannot draw it exactly
    assert not kernels.pool_applies(x, 0.0)
    odd = torch.randn(2, 32, 7, 7).contiguous(memory_format=torch.channels_last).requires_grad_()
    assert not kernels.pool_applies(odd, 0.25)
    assert not kernels.pool_applies(x.detach().contiguous(), 0.25)


def test_training_forward_is_the_models_function_with_its_own_parameters(switch):
    """The engine swaps in TrainingForward for speed only: same parameters (nothing copied, nothing added), the same
    eval-mode answers, and in training mode without dropout the same outputs and gradients as model.forward."""
    switch("on")
    torch.manual_seed(0)
    model = SimpleCNN().to(memory_format=torch.channels_last)
    net = training_forward(model)
    assert isinstance(net, TrainingForward)
    assert list(net.parameters()) == list(model.parameters())
    assert set(model.state_dict()) == set(SimpleCNN().state_dict())
    x = torch.randn(8, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (8,))
    model.eval()
    assert torch.allclose(net.eval()(x), model(x), atol=1e-5)
    for layer in (model.dropout1, model.dropout2, model.dropout3):
        layer.p = 0.0
    grads = []
    for forward in (net.train(), model.train()):
        model.zero_grad(set_to_none=True)
        out = forward(x)
        F.cross_entropy(out, y).backward()
        grads.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (out_fast, g_fast), (out_plain, g_plain) = grads
    assert torch.allclose(out_fast, out_plain, atol=1e-5)
    for a, b in zip(g_fast, g_plain, strict=True):
        assert relative_error(a, b) < 1e-4


def test_only_simplecnn_gets_a_training_forward():
    other = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    assert training_forward(other) is other


def test_cpu_dropout_is_scaled_bernoulli_and_keeps_layout():
    torch.manual_seed(0)
    for p, x in (
        (0.25, torch.rand(64, 32, 14, 14).add(1).to(memory_format=torch.channels_last)),
        (0.5, torch.rand(256, 128).add(1)),
    ):
        out = dropout(x, p, training=True)
        kept = out != 0
        assert torch.equal(out[kept], x[kept] * (1 / (1 - p)))
        assert abs(kept.float().mean().item() - (1 - p)) < 0.01
        assert out.stride() == x.stride()
        assert torch.equal(dropout(x, p, training=False), x)
