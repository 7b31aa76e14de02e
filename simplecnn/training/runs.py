"""Run folders under checkpoints/runs/: one per training run, listed for the UI, pruned by count and age."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from simplecnn import settings
from simplecnn.checkpoint import CheckpointError, load_checkpoint
from simplecnn.errors import storage_error


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """--runs / the scheduler's folder > $SIMPLECNN_RUNS > checkpoints/runs"""
    return settings.runs_dir(root)


def new_run_dir(root: str | os.PathLike | None = None, label: str = "") -> Path:
    """A fresh, uniquely named folder; never the shipped checkpoint's folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c for c in label if c.isalnum() or c in "-_")[:24]
    path = runs_root(root) / f"{stamp}-{safe + '-' if safe else ''}{secrets.token_hex(3)}"
    try:
        path.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise storage_error(exc, "runs") from None  # one line, no server path: a visitor may read it
    return path


@dataclass(frozen=True)
class RunInfo:
    path: Path  # the run's best.pt
    name: str
    modified: float
    accuracy: float | None
    recipe: str
    model: str = "simplecnn"  # the network the checkpoint holds


def list_runs(root: str | os.PathLike | None = None) -> list[RunInfo]:
    """Runs whose best.pt loads, newest first. Temp files from interrupted saves are never listed."""
    base = runs_root(root)
    if not base.is_dir():
        return []
    found = []
    for ckpt in base.glob("*/best.pt"):
        try:
            loaded = load_checkpoint(ckpt)
            found.append(
                RunInfo(
                    ckpt,
                    ckpt.parent.name,
                    ckpt.stat().st_mtime,
                    loaded.accuracy,
                    str(loaded.config.get("recipe", "?")),
                    loaded.architecture,
                )
            )
        except (CheckpointError, OSError):
            continue
    return sorted(found, key=lambda r: r.modified, reverse=True)


def prune_runs(root: str | os.PathLike | None = None, keep: int = 50, max_age_days: float = 7.0) -> list[Path]:
    """Delete run folders beyond the newest `keep` or older than `max_age_days`; return what was removed.
    A run that is training writes into the newest folder, so it is never among those removed."""
    base = runs_root(root)
    if not base.is_dir():
        return []
    folders = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    cutoff = time.time() - max_age_days * 86400
    for tmp in base.glob("*/.*.tmp"):  # left by a save that was killed mid-write; never listed, just litter
        try:
            if tmp.stat().st_mtime < time.time() - 600:
                tmp.unlink()
        except OSError:
            pass
    removed = []
    for i, folder in enumerate(folders):
        if i >= keep or folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
