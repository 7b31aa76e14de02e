"""AVX2 C kernels for SimpleCNN's training step on CPUs without AVX-512 (csrc/train_avx2.c): the 3×3 convolutions'
weight gradient, and each max-pool → ReLU → dropout chain as one pass forward and one back.

Why: on a CPU without AVX-512, oneDNN computes a convolution's weight gradient with its older jit:avx2 kernel, the
largest share of a training step; this kernel does the same sums faster (docs/performance.md has the figures).
Forward passes and input gradients stay oneDNN's. simplecnn.perf.layers decides per call whether they apply.

The kernels are compiled once per machine with the system C compiler into the cache folder and loaded with
ctypes. No compiler, a failed build or a CPU without AVX2+FMA: the plain PyTorch layers, and `describe()` says why.
By default they run only where oneDNN's fp32 kernels are AVX2 ones (ATen's CPU capability AVX2, or oneDNN capped
at AVX2 by ONEDNN_MAX_CPU_ISA): the path that was measured. SIMPLECNN_WGRAD=off turns both off (A/B runs); =on
uses them on any CPU with AVX2+FMA.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_input

from simplecnn import settings
from simplecnn.device import cpu_info

SOURCE = Path(__file__).with_name("csrc") / "train_avx2.c"
CFLAGS = ("-O3", "-mavx2", "-mfma", "-fopenmp", "-shared", "-fPIC")
BUILD_TIMEOUT_S = 120
OUT_CHANNEL_TILE = 32  # the kernel's register tile: output channels must be a multiple of it
_PTR, _INT, _FLOAT = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
SIGNATURES = {  # the C functions and their argument types
    "simplecnn_wgrad_nhwc3x3": [_PTR] * 6 + [_INT] * 6,
    "simplecnn_pool_relu_dropout_forward": [_PTR, _PTR, _INT, _FLOAT, _PTR, _PTR] + [_INT] * 5,
    "simplecnn_pool_relu_dropout_backward": [_PTR, _PTR, _FLOAT, _PTR] + [_INT] * 5,
}


@dataclass(frozen=True)
class Library:
    """The built kernels, as ctypes functions (each returns 0 on success)."""

    weight_grad: Callable[..., int]
    pool_forward: Callable[..., int]
    pool_backward: Callable[..., int]


class KernelUnavailable(RuntimeError):
    """The kernel cannot be used here; the message says why (shown by describe())."""


def _kernel_dir() -> Path:
    """The user's cache folder, else a private one under /tmp. A library is code this process will run, so the
    folder must be ours and writable by nobody else (a shared /tmp could otherwise hand us someone's .so)."""
    for candidate in (settings.cache_dir(), Path(tempfile.gettempdir()) / f"simplecnn-{os.getuid()}"):
        try:
            candidate.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = candidate.stat()
            if st.st_uid == os.getuid() and not st.st_mode & 0o022 and os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    raise KernelUnavailable("no private writable cache folder for the compiled kernel")


def _compiler() -> str:
    cc = settings.compiler()
    if not cc:
        raise KernelUnavailable("no C compiler (cc/gcc) on PATH")
    return cc


def build() -> Path:
    """The compiled kernel, built on first use and cached under a name that hashes source, flags and compiler.
    Concurrent first uses (workshop sessions, Ray workers) each build to a temporary file and rename it into
    place, so nobody ever loads a half-written library."""
    cc = _compiler()
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + " ".join((cc, *CFLAGS)).encode()).hexdigest()[:16]
    target = _kernel_dir() / f"train_avx2-{key}.so"
    if target.exists():
        return target
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run(
            [cc, *CFLAGS, "-o", tmp, str(SOURCE)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
        )
        if done.returncode != 0:
            first = (done.stderr or done.stdout).strip().splitlines()[:1]
            raise KernelUnavailable(f"{Path(cc).name} failed: {first[0] if first else f'exit {done.returncode}'}")
        os.replace(tmp, target)
    except (OSError, subprocess.SubprocessError) as exc:
        raise KernelUnavailable(f"{Path(cc).name} could not run: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _load() -> Library:
    if not {"avx2", "fma"} <= cpu_info().flags:
        raise KernelUnavailable("this CPU has no AVX2+FMA")
    # torch is imported (above), so the library's libgomp.so.1 resolves to torch's copy: one OpenMP thread pool.
    try:
        so = ctypes.CDLL(str(build()))
        fns = [getattr(so, name) for name in SIGNATURES]
    except (OSError, AttributeError) as exc:
        raise KernelUnavailable(f"the built kernel would not load: {exc}") from exc
    for fn, argtypes in zip(fns, SIGNATURES.values(), strict=True):
        fn.argtypes = argtypes
        fn.restype = ctypes.c_int
    return Library(*fns)


@dataclass
class _Kernel:
    """Decided once per process: the loaded library, or why there is none."""

    tried: bool = False
    lib: Library | None = None
    reason: str = ""


_lock = threading.Lock()
_kernel = _Kernel()


def kernel() -> Library | None:
    """The loaded kernel, or None (reason in describe()). Thread-safe; builds at most once per process."""
    with _lock:
        if not _kernel.tried:
            _kernel.tried = True
            try:
                _kernel.lib = _load()
            except KernelUnavailable as exc:
                _kernel.reason = str(exc)
        return _kernel.lib


@functools.lru_cache(maxsize=1)
def wanted() -> bool:
    """Whether this process should use the kernel (policy only; kernel() says whether it can)."""
    switch = settings.kernel_switch()
    if switch in ("off", "0", "false", "no"):
        return False
    if switch in ("on", "1", "true", "yes"):
        return True
    return torch.backends.cpu.get_cpu_capability() == "AVX2" or settings.onednn_cap() == "AVX2"


def describe() -> str:
    """One line for bench: which kernels training uses here, and why."""
    if not wanted():
        return "PyTorch/oneDNN (the AVX2 kernels are off on this CPU; SIMPLECNN_WGRAD=on forces them)"
    if kernel() is None:
        return f"PyTorch/oneDNN (AVX2 kernels unavailable: {_kernel.reason})"
    return "simplecnn AVX2 (csrc/train_avx2.c)"


def prepare() -> bool:
    """Build and load the kernel now, if this process wants it (so the first training step does not pay)."""
    return wanted() and kernel() is not None


def _fast_path(x: torch.Tensor) -> bool:
    """What both kernels need: a CPU fp32 channels_last 4-D input under autograd, no autocast, and a built
    kernel that this process wants."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.dim() == 4
        and x.is_contiguous(memory_format=torch.channels_last)
        and torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")
        and wanted()
        and kernel() is not None
    )


def applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether conv3x3 may take this training forward (the kernel's output-channel tile, an fp32 weight)."""
    return (
        weight.dtype == torch.float32
        and weight.requires_grad
        and weight.shape[0] % OUT_CHANNEL_TILE == 0
        and _fast_path(x)
    )


def weight_grad(
    x: torch.Tensor, grad_out: torch.Tensor, relu_out: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight gradient in channels_last, bias gradient) of a 3x3 stride-1 pad-1 convolution. With relu_out (the
    output of a ReLU on the convolution's output), grad_out is the gradient after that ReLU, whose backward the
    kernel applies image by image (no batch-sized masked tensor)."""
    lib = kernel()
    if lib is None:
        raise KernelUnavailable(_kernel.reason or "not loaded")
    # The kernel reads raw NHWC fp32 memory: make sure that is what it gets (no copy when it already is).
    x = x.to(torch.float32).contiguous(memory_format=torch.channels_last)
    grad_out = grad_out.to(torch.float32).contiguous(memory_format=torch.channels_last)
    if relu_out is not None:
        relu_out = relu_out.to(torch.float32).contiguous(memory_format=torch.channels_last)
    n, c, h, w = x.shape
    k = grad_out.shape[1]
    if (
        grad_out.shape != (n, k, h, w)
        or x.device.type != "cpu"
        or (relu_out is not None and relu_out.shape != grad_out.shape)
    ):
        raise ValueError(
            f"weight_grad needs CPU tensors x (N,C,H,W) and grad_out (N,K,H,W); got {x.shape}, {grad_out.shape}"
        )
    threads = torch.get_num_threads()
    grad_w = torch.empty((k, c, 3, 3), memory_format=torch.channels_last)
    grad_b = torch.empty(k)
    scratch = torch.empty(threads * (9 * c * k + k))
    status = lib.weight_grad(  # 0 done, 1 shape refused, 2 out of memory
        x.data_ptr(),
        grad_out.data_ptr(),
        relu_out.data_ptr() if relu_out is not None else None,
        grad_w.data_ptr(),
        grad_b.data_ptr(),
        scratch.data_ptr(),
        n,
        h,
        w,
        c,
        k,
        threads,
    )
    if status != 0:
        raise (MemoryError if status == 2 else KernelUnavailable)(
            f"kernel failed ({status}) on N{n} C{c} K{k} H{h} W{w}"
        )
    return grad_w, grad_b


class _Conv3x3(torch.autograd.Function):
    """F.conv2d(x, weight, bias, padding=1), then a ReLU if asked; the backward's weight and bias gradients come
    from the kernel, with the ReLU's backward folded in where the input needs no gradient (conv1)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, relu: bool) -> torch.Tensor:
        y = F.conv2d(x, weight, bias, padding=1)
        if relu:
            y.relu_()
        ctx.save_for_backward(x, weight, y if relu else None)
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, weight, relu_out = ctx.saved_tensors
        grad_out = grad_out.contiguous(memory_format=torch.channels_last)
        grad_x = None
        if ctx.needs_input_grad[0]:
            if relu_out is not None:  # the input gradient needs the masked tensor anyway: mask it once
                grad_out = grad_out.masked_fill(relu_out <= 0, 0.0)
                relu_out = None
            grad_x = conv2d_input(x.shape, weight, grad_out, padding=1)
        grad_w, grad_b = weight_grad(x, grad_out, relu_out)
        return grad_x, grad_w, grad_b if ctx.has_bias else None, None


def conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, relu: bool = False) -> torch.Tensor:
    """A 3x3 stride-1 pad-1 convolution (then ReLU if `relu`) whose weight gradient takes the kernel (call only
    where applies())."""
    return _Conv3x3.apply(x, weight, bias, relu)


def pool_applies(x: torch.Tensor, p: float) -> bool:
    """Whether pool_relu_dropout may take this training step: the kernel's layout and shapes, and a dropout rate
    that one random byte draws exactly (p·256 whole, as layers.dropout needs for its cheap mask)."""
    return (
        x.requires_grad
        and 0 < p < 1
        and float(p * 256).is_integer()
        and _fast_path(x)
        and x.shape[1] % 8 == 0
        and x.shape[2] % 2 == 0
        and x.shape[3] % 2 == 0
    )


class _PoolReluDropout(torch.autograd.Function):
    """dropout(relu(max_pool2d(x, 2)), p) in one pass, and its backward in one pass (csrc/train_avx2.c)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: float, bits: torch.Tensor) -> torch.Tensor:
        lib = kernel()
        assert lib is not None  # pool_applies() held
        n, c, h, w = x.shape
        out = torch.empty((n, c, h // 2, w // 2), memory_format=torch.channels_last)
        code = torch.empty(out.numel(), dtype=torch.uint8)
        if bits.dtype != torch.uint8 or bits.numel() != out.numel() or not bits.is_contiguous():
            raise ValueError(f"pool_relu_dropout needs {out.numel()} contiguous random bytes, got {bits.numel()}")
        scale = 1.0 / (1.0 - p)
        threads = torch.get_num_threads()
        status = lib.pool_forward(
            x.data_ptr(), bits.data_ptr(), int(p * 256), scale, out.data_ptr(), code.data_ptr(), n, h, w, c, threads
        )
        if status != 0:
            raise KernelUnavailable(f"pool kernel refused N{n} C{c} H{h} W{w}")
        ctx.save_for_backward(code)
        ctx.input_shape, ctx.scale = (n, c, h, w), scale
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (code,) = ctx.saved_tensors
        lib = kernel()
        assert lib is not None
        n, c, h, w = ctx.input_shape
        grad_out = grad_out.to(torch.float32).contiguous(memory_format=torch.channels_last)
        grad_in = torch.empty((n, c, h, w), memory_format=torch.channels_last)
        status = lib.pool_backward(
            grad_out.data_ptr(), code.data_ptr(), ctx.scale, grad_in.data_ptr(), n, h, w, c, torch.get_num_threads()
        )
        if status != 0:
            raise KernelUnavailable(f"pool kernel refused N{n} C{c} H{h} W{w}")
        return grad_in, None, None


def pool_relu_dropout(x: torch.Tensor, p: float, bits: torch.Tensor) -> torch.Tensor:
    """dropout(relu(max_pool2d(x, 2, 2)), p) for a training step (call only where pool_applies()). `bits`: one
    random byte per output element in its memory order (simplecnn.perf.layers.random_bytes), kept where >= p·256."""
    return _PoolReluDropout.apply(x, p, bits)
