"""Device choice and the CPU/GPU fast-path switches (threads, bf16, channels_last)."""
from __future__ import annotations

import contextlib
import functools
import os
import platform

import torch


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def available_devices() -> list[str]:
    """The device choices that work on this machine ('auto' first)."""
    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (["mps"] if _mps_available() else [])


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use --device cpu or auto")
    if name == "mps" and not _mps_available():
        raise ValueError("device 'mps' was requested but Apple MPS is not available; use --device cpu or auto")
    if name != "cpu" and not name.startswith(("cuda", "mps")):
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda or mps")
    return torch.device(name)


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def physical_cores() -> int:
    """Cores this process may use (affinity-aware); SMT siblings are not worth a thread for convs."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:
        available = os.cpu_count() or 1
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
        siblings = [int(l.split(":")[1]) for l in text.splitlines() if l.startswith("siblings")]
        cores = [int(l.split(":")[1]) for l in text.splitlines() if l.startswith("cpu cores")]
        if siblings and cores and siblings[0] > cores[0]:
            return max(1, available * cores[0] // siblings[0])
    except (OSError, ValueError, IndexError):
        pass
    return max(1, available)


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """bf16 autocast only pays off where the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
        if " avx512_bf16" in flags or " amx_bf16" in flags:
            return True
    except OSError:
        pass
    try:
        return platform.system() != "Linux" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # noqa: BLE001 - private probe; absence means "no"
        return False


def use_bf16(device: torch.device, precision: str = "auto") -> bool:
    if precision == "fp32":
        return False
    if device.type == "cuda":
        return precision == "bf16" or torch.cuda.is_bf16_supported()
    if device.type == "mps":
        return precision == "bf16"
    return precision == "bf16" or cpu_supports_bf16()


def autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "MPS: Apple GPU"
    return f"CPU: {cpu_name()} ({physical_cores()} cores)"


def configure_threads(threads: int = 0) -> int:
    """Set torch's intra-op threads (0 = physical cores) and return the count in force."""
    n = threads if threads > 0 else physical_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
