"""precision=auto: bf16 only where the CPU computes it natively and oneDNN may use those instructions."""

from __future__ import annotations

import pytest
import torch

from simplecnn import device


@pytest.fixture()
def bf16_cpu(monkeypatch):
    monkeypatch.setattr(device, "cpu_info", lambda: device.CPUInfo("Zen 4", frozenset({"avx512_bf16"}), 1))


@pytest.mark.parametrize(
    ("cap", "bf16"),
    [("", True), ("AVX2", False), ("avx2", False), ("AVX512_CORE", False), ("AVX512_CORE_BF16", True), ("ALL", True)],
)
def test_auto_precision_honours_onednns_isa_cap(bf16_cpu, monkeypatch, cap, bf16):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert device.use_bf16(torch.device("cpu"), "auto") is bf16
    assert device.use_bf16(torch.device("cpu"), "fp32") is False
    assert device.use_bf16(torch.device("cpu"), "bf16") is True


def test_a_cpu_without_bf16_trains_fp32(monkeypatch):
    monkeypatch.setattr(device, "cpu_info", lambda: device.CPUInfo("Zen 3", frozenset({"avx2"}), 1))
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert device.use_bf16(torch.device("cpu"), "auto") is False


def test_the_operators_thread_cap_holds_for_every_caller(monkeypatch):
    import torch

    from simplecnn.device import configure_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("SIMPLECNN_THREADS", "1")
        assert configure_threads(0) == 1 == configure_threads(4) == torch.get_num_threads()
        monkeypatch.setenv("SIMPLECNN_THREADS", "0")  # no cap: what the caller asks
        assert configure_threads(2) == 2 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
