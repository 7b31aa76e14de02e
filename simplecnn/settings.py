"""Every environment variable SimpleCNN Studio reads, and the project's paths: the one place to look.

Torch-free, so the launcher, the Ray bridge and the CLI can read settings before (or without) importing torch.
Values are read when asked for, not at import, so tests and operators can change them per process.
README's "Configuration" table lists `VARIABLES` (tests/test_settings.py keeps the two in step).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"
SHIPPED_CHECKPOINT = CHECKPOINTS / "simplecnn.pt"
SHIPPED_EVALUATION = CHECKPOINTS / "simplecnn.eval.pt"
SHIPPED_DIGIT_STATS = CHECKPOINTS / "simplecnn.ood.pt"
SHIPPED_DIGIT_GATE = CHECKPOINTS / "digitgate.pt"  # the digit check's pixel gate, shared by every checkpoint
# MNIST's four raw files in torchvision's layout (<data>/MNIST/raw/), training images and labels first.
MNIST_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    help: str


DATA = Variable("SIMPLECNN_DATA", "./data", "folder that holds MNIST/raw/ (else torchvision downloads it there)")
RUNS = Variable("SIMPLECNN_RUNS", "checkpoints/runs", "where training runs write their folders")
DRAWINGS = Variable(
    "SIMPLECNN_DRAWINGS", "checkpoints/drawings.sqlite", "the labelled drawings' SQLite file (the app's data)"
)
LOG = Variable("SIMPLECNN_LOG", "info", "server log level for run started/finished lines")
HOST_PASSWORD = Variable("SIMPLECNN_HOST_PASSWORD", "", "turns on the workshop host controls (or st.secrets)")
EVAL_LIMIT = Variable(
    "SIMPLECNN_EVAL_LIMIT", "0", "tests: Evaluate and Inside's neighbours and map use only the first N images"
)
RAY_ADDRESS = Variable("SIMPLECNN_RAY_ADDRESS", "", "train on a Ray cluster: `auto` or host:port")
RAY_CPUS = Variable("SIMPLECNN_RAY_CPUS", "1", "Ray: CPUs (torch threads) per CPU run")
RAY_GPU = Variable("SIMPLECNN_RAY_GPU", "0.25", "Ray: share of one GPU per GPU run")
RAY_RECONNECT = Variable(
    "RAY_gcs_rpc_server_reconnect_timeout_s", "20", "Ray: seconds the driver waits for a lost head"
)
KERNELS = Variable("SIMPLECNN_WGRAD", "auto", "AVX2 training kernels: auto, on or off")
SPEED_FILE = Variable("SIMPLECNN_SPEED_FILE", "", "where the measured machine speed is kept (default: cache)")
CACHE_HOME = Variable("XDG_CACHE_HOME", "~/.cache", "the cache folder is $XDG_CACHE_HOME/simplecnn")
THREADS = Variable("SIMPLECNN_THREADS", "0", "the most torch threads a process uses (0: its physical cores)")
ONEDNN_CAP = Variable("ONEDNN_MAX_CPU_ISA", "", "oneDNN's ISA cap; below AVX-512 also turns bf16 autocast off")
OMP_WAIT = Variable("OMP_WAIT_POLICY", "PASSIVE (server)", "the server sets PASSIVE unless already set")
ARENAS = Variable("MALLOC_ARENA_MAX", "2 (server)", "glibc malloc arenas; the server sets 2 unless already set")
MMAP_THRESHOLD = Variable("MALLOC_MMAP_THRESHOLD_", "32 MB (train)", "glibc; the CLI's train sets it unless set")
TRIM_THRESHOLD = Variable("MALLOC_TRIM_THRESHOLD_", "64 MB (train)", "glibc; the CLI's train sets it unless set")
COMPILER = Variable("CC", "cc", "C compiler for the AVX2 kernels")
CHROMIUM = Variable("SIMPLECNN_CHROMIUM", "/usr/bin/chromium", "tests and benchmarks: the browser to drive")
I18N_STRICT = Variable(
    "SIMPLECNN_I18N_STRICT", "0", "tests: a string missing from a catalog raises (no English fallback)"
)
CACHE_MB = Variable("SIMPLECNN_CACHE_MB", "512", "the cache folder's cap in MB: least recently used files go first")
RUN_MEMORY_MB = Variable(
    "SIMPLECNN_RUN_MEMORY_MB", "1024", "workshop: the most memory one training run may take, in MB (host can change)"
)

VARIABLES = (
    DATA,
    RUNS,
    DRAWINGS,
    LOG,
    HOST_PASSWORD,
    EVAL_LIMIT,
    RAY_ADDRESS,
    RAY_CPUS,
    RAY_GPU,
    RAY_RECONNECT,
    KERNELS,
    SPEED_FILE,
    CACHE_HOME,
    THREADS,
    ONEDNN_CAP,
    OMP_WAIT,
    ARENAS,
    MMAP_THRESHOLD,
    TRIM_THRESHOLD,
    COMPILER,
    CHROMIUM,
    I18N_STRICT,
    CACHE_MB,
    RUN_MEMORY_MB,
)


def raw(variable: Variable, env: Mapping[str, str] | None = None) -> str:
    """The variable's value as set ('' when unset or blank)."""
    return ((os.environ if env is None else env).get(variable.name) or "").strip()


def is_set(*variables: Variable) -> bool:
    """Whether the operator set any of these (their choice then wins over ours)."""
    return any(variable.name in os.environ for variable in variables)


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--data > $SIMPLECNN_DATA > ./data"""
    return Path(explicit or raw(DATA) or "data").expanduser()


def mnist_raw_dir(explicit: str | os.PathLike | None = None) -> Path:
    return data_dir(explicit) / "MNIST" / "raw"


def runs_dir(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or raw(RUNS) or CHECKPOINTS / "runs").expanduser()


def drawings_file(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or raw(DRAWINGS) or CHECKPOINTS / "drawings.sqlite").expanduser()


def cache_dir() -> Path:
    """The one per-user cache folder: MNIST tensors, evaluations, embeddings, check statistics, the kernel."""
    return Path(raw(CACHE_HOME) or Path.home() / ".cache").expanduser() / "simplecnn"


def cache_max_bytes() -> int:
    """The cache folder's size cap in bytes ($SIMPLECNN_CACHE_MB; a value that is not a number: the default)."""
    return _positive_int(CACHE_MB) << 20


def run_memory_mb() -> int:
    """The default memory allowance of one workshop training run, in MB."""
    return _positive_int(RUN_MEMORY_MB)


def _positive_int(variable: Variable) -> int:
    try:
        return max(1, int(float(raw(variable) or variable.default)))
    except ValueError:
        return int(variable.default)


def speed_file() -> Path:
    return Path(raw(SPEED_FILE)).expanduser() if raw(SPEED_FILE) else cache_dir() / "speed.json"


def log_level() -> str:
    return raw(LOG) or LOG.default


def host_password() -> str:
    return raw(HOST_PASSWORD)


def i18n_strict() -> bool:
    return raw(I18N_STRICT) not in ("", "0")


def max_threads() -> int:
    """The operator's cap on torch threads per process (0: none). A machine shared with other work (a small
    host, CI's test tiers side by side) runs better with fewer threads than cores: idle threads stall at barriers."""
    try:
        return max(0, int(raw(THREADS) or 0))
    except ValueError:
        return 0


def eval_limit() -> int:
    try:
        return max(0, int(raw(EVAL_LIMIT) or 0))
    except ValueError:
        return 0


def ray_address(env: Mapping[str, str] | None = None) -> str:
    return raw(RAY_ADDRESS, env)


def _number(variable: Variable, env: Mapping[str, str] | None, kind: type[int] | type[float]) -> int | float:
    """The variable as a number; a malformed value means the default (a typo must not stop the server)."""
    try:
        return kind(raw(variable, env) or variable.default)
    except ValueError:
        return kind(variable.default)


def ray_cpus(env: Mapping[str, str] | None = None) -> int:
    return max(1, int(_number(RAY_CPUS, env, int)))


def ray_gpu_fraction(env: Mapping[str, str] | None = None) -> float:
    fraction = float(_number(RAY_GPU, env, float))
    return fraction if 0 < fraction <= 1 else float(RAY_GPU.default)


def ray_reconnect_seconds() -> str:
    return raw(RAY_RECONNECT) or RAY_RECONNECT.default


def kernel_switch() -> str:
    return (raw(KERNELS) or KERNELS.default).lower()


def onednn_cap() -> str:
    """ONEDNN_MAX_CPU_ISA, upper-case ('' when oneDNN may use everything the CPU has)."""
    return raw(ONEDNN_CAP).upper()


def compiler() -> str | None:
    return raw(COMPILER) or shutil.which("cc") or shutil.which("gcc")


def chromium() -> str:
    return raw(CHROMIUM) or CHROMIUM.default


def server_process_defaults() -> None:
    """Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. A server's cores are shared by
    script runs, polling sessions and training, and spinning threads steal them from their partners
    (docs/performance.md has the measurements). The library and CLI leave the setting alone."""
    os.environ.setdefault(OMP_WAIT.name, "PASSIVE")
