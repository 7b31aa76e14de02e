"""The server hands back the pages of GPU libraries on a machine without a GPU (simplecnn.perf.memory)."""

from __future__ import annotations

import mmap
import os
import sys
from pathlib import Path

import pytest
import torch

from simplecnn.perf import memory

SP = "/usr/lib/python3.11/site-packages"


@pytest.mark.parametrize(
    "path",
    [
        f"{SP}/nvidia/cu13/lib/libcublasLt.so.13",
        f"{SP}/nvidia/cudnn/lib/libcudnn.so.9",
        "/opt/venv/lib/python3.12/dist-packages/nvidia/nccl/lib/libnccl.so.2",
        f"{SP}/torch/lib/libtorch_cuda.so",
        f"{SP}/torch/lib/libc10_cuda.so",
        f"{SP}/torch/lib/libcudart-d0da41ae.so.11.0",  # older wheels bundle CUDA in torch/lib
        "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
    ],
)
def test_gpu_libraries_are_recognised(path: str) -> None:
    assert memory.GPU_LIBRARY.search(path)


@pytest.mark.parametrize(
    "path",
    [
        f"{SP}/torch/lib/libtorch_cpu.so",
        f"{SP}/torch/lib/libc10.so",
        f"{SP}/torch/lib/libgomp.so.1",
        f"{SP}/torch/lib/libtorch_python.so",
        "/usr/lib/x86_64-linux-gnu/libcurl.so.4",
        "/home/nvidia/venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so",  # a user called nvidia
        "[heap]",
    ],
)
def test_what_a_cpu_run_needs_is_left_alone(path: str) -> None:
    assert not memory.GPU_LIBRARY.search(path)


def test_smaps_is_read_per_mapping() -> None:
    smaps = (
        f"7f00-7f10 r-xp 00000000 08:01 1 {SP}/nvidia/cu13/lib/libcublasLt.so.13\nRss:  2048 kB\n"
        f"7f10-7f20 r--p 00000000 08:01 2 {SP}/torch/lib/libtorch_cpu.so\nRss:  4096 kB\n"
        "7f20-7f30 rw-p 00000000 00:00 0 \nRss:  1024 kB\n"
    )
    assert [(m.start, m.end, m.rss_kb) for m in memory.mappings(smaps)] == [
        (0x7F00, 0x7F10, 2048),
        (0x7F10, 0x7F20, 4096),
        (0x7F20, 0x7F30, 1024),
    ]
    assert memory.mappings(smaps)[2].path == ""
    libraries = memory.gpu_libraries(smaps)
    assert [m.start for m in libraries] == [0x7F00] and memory.resident_mb(libraries) == 2.0


def _conv_step() -> torch.Tensor:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 4, 3)
    conv(torch.randn(2, 1, 8, 8)).square().sum().backward()
    assert conv.weight.grad is not None
    return conv.weight.grad


def _resident_mb(path: Path) -> float:
    """Resident MB of this process's mappings of `path`."""
    own = [m for m in memory.mappings(Path("/proc/self/smaps").read_text()) if m.path == str(path)]
    return memory.resident_mb(own)


@pytest.mark.skipif(sys.platform != "linux" or torch.cuda.is_available(), reason="a CPU-only Linux machine")
def test_release_hands_back_a_gpu_librarys_resident_pages_and_torch_still_trains(tmp_path) -> None:
    """A stand-in library (a file under site-packages/nvidia/, mapped and read like a loaded library) so the pages
    are this process's alone: the kernel leaves pages that another process also maps (in CI: the e2e tests'
    servers import the same torch) where they are, and so does a real server next to other torch processes."""
    reference = _conv_step()
    lib = tmp_path / "site-packages" / "nvidia" / "cu13" / "lib" / "libstandin.so.13"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(os.urandom(8 << 20))
    with lib.open("rb") as f, mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ) as mapped:
        checksum = sum(mapped[i] for i in range(0, len(mapped), 4096))  # touch every page, as loading does
        before = _resident_mb(lib)
        assert before > 7
        assert memory.release_gpu_library_pages() > 0
        assert _resident_mb(lib) < 0.1 * before
        assert sum(mapped[i] for i in range(0, len(mapped), 4096)) == checksum  # read back from the file, same bytes
    assert torch.equal(_conv_step(), reference)  # memory use changed, behaviour did not


def test_release_does_nothing_with_a_gpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert memory.release_gpu_library_pages() == 0.0
