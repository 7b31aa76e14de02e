"""Give the kernel back the pages of GPU libraries that a machine without a GPU will never run.

Why: PyTorch's Linux wheel on PyPI is the CUDA build, and `import torch` maps its CUDA libraries (cuBLASLt,
nvJitLink, NVRTC, libtorch_cuda, …) whether or not there is a GPU; loading them touches many MB of their file
pages, which then count in the server's resident memory for as long as it runs. On a small host (Streamlit
Community Cloud) that is a large share of the budget spent on code that never executes (docs/performance.md
has the figures).

`madvise(MADV_PAGEOUT)` asks the kernel to reclaim those pages. It is safe by construction: clean file pages
are dropped and read back from the file if anything ever touches them again; pages a process has written
(relocations) are anonymous and stay unless there is swap, where they are swapped out and back. So this
changes memory use only, never behaviour. Linux ≥ 5.4; elsewhere, or with a GPU present, it does nothing. The
kernel skips pages another process also maps (other torch processes on the box keep them resident), and pages
out file pages only for root or a user who owns or may write the files (a pip-installed venv).
"""

from __future__ import annotations

import logging
import mmap
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

log = logging.getLogger(__name__)

# The pip `nvidia-*` packages (site-packages/nvidia/…/lib) and torch's own CUDA parts; nothing a CPU run needs.
GPU_LIBRARY = re.compile(
    r"/(?:site|dist)-packages/nvidia/"
    r"|/lib(?:cuda|cublas|cudnn|cufft|cufile|curand|cusparse|cusolver|cupti|nvrtc|nvJitLink|nvToolsExt|nvshmem"
    r"|nvperf|nccl|torch_cuda|c10_cuda|torch_nvshmem|caffe2_nvrtc)[^/]*\.so"
)
MADV_PAGEOUT = getattr(mmap, "MADV_PAGEOUT", 21)  # 21 in Linux's uapi/asm-generic/mman-common.h


@dataclass(frozen=True)
class Mapping:
    """One mapping of a process's address space, as /proc/<pid>/smaps lists it."""

    start: int
    end: int
    path: str  # "" for anonymous memory
    rss_kb: int


def mappings(smaps: str) -> list[Mapping]:
    """Every mapping in a /proc/<pid>/smaps text, with its resident size."""
    found: list[Mapping] = []
    for line in smaps.splitlines():
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            found.append(Mapping(start, end, fields[5].strip() if len(fields) == 6 else "", 0))
        elif line.startswith("Rss:") and found:
            found[-1] = replace(found[-1], rss_kb=int(line.split()[1]))
    return found


def gpu_libraries(smaps: str) -> list[Mapping]:
    """The mappings of GPU libraries in a /proc/<pid>/smaps text."""
    return [m for m in mappings(smaps) if GPU_LIBRARY.search(m.path)]


def resident_mb(found: list[Mapping]) -> float:
    return sum(m.rss_kb for m in found) / 1024


def release_gpu_library_pages() -> float:
    """On Linux without a usable CUDA GPU, reclaim the resident pages of the loaded GPU libraries.
    Returns the resident MB released (0.0 where it does not apply). Never raises."""
    try:
        import torch

        if sys.platform != "linux" or torch.cuda.is_available():
            return 0.0
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        smaps = Path("/proc/self/smaps")
        libraries = gpu_libraries(smaps.read_text())
        for m in libraries:
            libc.madvise(m.start, m.end - m.start, MADV_PAGEOUT)  # EINVAL on kernels before 5.4: nothing happens
        return max(0.0, resident_mb(libraries) - resident_mb(gpu_libraries(smaps.read_text())))
    except Exception:  # noqa: BLE001  (an optimisation: a host where it cannot run just keeps the pages)
        log.exception("could not release the GPU libraries' pages")
        return 0.0
