"""glibc malloc settings for a process that trains: keep freed activation buffers for the next step.

Why: every training step allocates and frees the same tens of MB of activations and gradients (a batch of 128:
12.8 MB per conv1/conv2 output). glibc serves blocks that large with a fresh mmap, and gives them back with munmap
when freed (or trims the heap top once more than its trim threshold is free), so the next step's buffers arrive
as new pages: 2,000–15,000 page faults and 16–46 ms of kernel time per step on a 2-core CPU, where the step is
115–190 ms. With the mmap threshold at 32 MB the buffers come from the heap, and with the trim threshold at
64 MB the heap keeps them between steps: 0–100 faults per step and ≈ 20 MB more peak RSS for a one-epoch CLI
run (README "Speed"). The trim threshold must sit well above the mmap threshold: with both at 32 MB the heap top
was trimmed and refilled every step (9,000 faults per step), and either setting alone gave 11,000–37,000.

The settings are process-wide, so the CLI's training commands call this, not the Streamlit server (whose memory
ceiling matters more than its steps). Best effort: a libc without mallopt (musl, macOS) keeps its defaults, and
the operator's MALLOC_*_ environment variables win.
"""

from __future__ import annotations

import os

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's own ceiling for its dynamic threshold on 64-bit
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024


def keep_freed_buffers() -> bool:
    """Set both thresholds (unless the environment already did); True when glibc accepted them."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
        )
    except (OSError, AttributeError):
        return False
