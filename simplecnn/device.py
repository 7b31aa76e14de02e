"""Device choice and the CPU/GPU fast-path switches (threads, bf16, channels_last)."""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import platform
from dataclasses import dataclass

import torch

from simplecnn import settings
from simplecnn.errors import CodedError


class DeviceProblem(enum.StrEnum):
    UNAVAILABLE = "device.unavailable"
    UNKNOWN = "device.unknown"


class DeviceError(CodedError, ValueError):
    """A device this machine lacks or does not know. params: device."""

    code = DeviceProblem.UNKNOWN


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
        message = "device 'cuda' was requested but no CUDA GPU is available; use --device cpu or auto"
        raise DeviceError(message, DeviceProblem.UNAVAILABLE, device="CUDA")
    if name == "mps" and not _mps_available():
        message = "device 'mps' was requested but Apple MPS is not available; use --device cpu or auto"
        raise DeviceError(message, DeviceProblem.UNAVAILABLE, device="MPS")
    if name != "cpu" and not name.startswith(("cuda", "mps")):
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda or mps", device=name)
    return torch.device(name)


@dataclass(frozen=True)
class CPUInfo:
    """What this process's CPU offers, read from /proc/cpuinfo once (see cpu_info())."""

    name: str
    flags: frozenset[str]
    threads_per_core: int  # SMT siblings per physical core (1 where unknown)

    @property
    def native_bf16(self) -> bool:
        """bf16 autocast only pays off where the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
        return bool(self.flags & {"avx512_bf16", "amx_bf16"})

    @property
    def isa(self) -> str:
        """The vector ISA the fp32 kernels use: ATen's dispatch level, capped by ONEDNN_MAX_CPU_ISA if set."""
        capability = torch.backends.cpu.get_cpu_capability()
        cap = settings.onednn_cap()
        return f"{capability} (oneDNN capped at {cap})" if cap else capability


def _parse_cpuinfo(text: str) -> CPUInfo:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if fields:
                break  # the first processor's block says it all
            continue
        fields.setdefault(key.strip(), value.strip())
    try:
        smt = max(1, int(fields["siblings"]) // max(1, int(fields["cpu cores"])))
    except (KeyError, ValueError):
        smt = 1
    name = fields.get("model name") or platform.processor() or platform.machine() or "CPU"
    return CPUInfo(name, frozenset(fields.get("flags", "").split()), smt)


@functools.lru_cache(maxsize=1)
def cpu_info() -> CPUInfo:
    """THE one place that reads /proc/cpuinfo (once per process); elsewhere, a name-only record."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return _parse_cpuinfo(f.read())
    except OSError:
        return CPUInfo(platform.processor() or platform.machine() or "CPU", frozenset(), 1)


def cpu_name() -> str:
    return cpu_info().name


def physical_cores() -> int:
    """Cores this process may use (affinity-aware); SMT siblings are not worth a thread for convs."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:
        available = os.cpu_count() or 1
    return max(1, available // cpu_info().threads_per_core)


# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) under which its bf16 kernels still run natively.
BF16_ISA_CAPS = ("AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10", "ALL")


def cpu_supports_bf16() -> bool:
    """bf16 pays off only where the CPU computes it natively and oneDNN may use those instructions: a cap below
    AVX512_CORE_BF16 (e.g. ONEDNN_MAX_CPU_ISA=AVX2, the way to reproduce an AVX2 machine) means fp32."""
    cap = settings.onednn_cap()
    if cap and not cap.startswith(BF16_ISA_CAPS):
        return False
    return cpu_info().native_bf16


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
    """Set torch's intra-op threads (0 = physical cores; never above SIMPLECNN_THREADS when it is set) and return
    the count in force."""
    n = threads if threads > 0 else physical_cores()
    cap = settings.max_threads()
    if cap:
        n = min(n, cap)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
