"""glibc malloc settings, one process at a time: a training CLI keeps freed activation buffers for the next step;
the server keeps few arenas.

Why, for training: every step allocates and frees the same tens of MB of activations and gradients. glibc serves
blocks that large with a fresh mmap and gives them back when freed (or trims the heap top), so each step's buffers
arrive as new pages, thousands of page faults per step. With the mmap threshold at 32 MB the buffers come from the
heap, and with the trim threshold well above it (64 MB) the heap keeps them between steps. Why, for the server:
glibc gives each new thread its own arena, and each keeps what its thread freed; a server runs a script thread per
page visit and a thread per run. docs/performance.md has the measurements.

Best effort: a libc without mallopt (musl, macOS) keeps its defaults, and the operator's MALLOC_* variables win.
Torch-free: the launcher calls `limit_arenas` before anything else starts a thread.
"""

from __future__ import annotations

from simplecnn import settings

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's own ceiling for its dynamic threshold on 64-bit
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024
SERVER_ARENAS = 2


def _mallopt(*settings_: tuple[int, int]) -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return all(bool(libc.mallopt(option, value)) for option, value in settings_)
    except (OSError, AttributeError):
        return False


def keep_freed_buffers() -> bool:
    """For a training process: set both thresholds (unless the operator did); True when glibc accepted them."""
    if settings.is_set(settings.MMAP_THRESHOLD, settings.TRIM_THRESHOLD):
        return False
    return _mallopt((M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES), (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


def limit_arenas(arenas: int = SERVER_ARENAS) -> bool:
    """For the server, before any thread starts: at most `arenas` malloc arenas (unless the operator chose)."""
    if settings.is_set(settings.ARENAS):
        return False
    return _mallopt((M_ARENA_MAX, arenas))
