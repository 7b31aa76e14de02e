"""The cache folder stays under its cap (least recently used files out first), whatever visitors bring; the
memory caches are bounded by entries and bytes."""

from __future__ import annotations

import os
import time

import torch

from simplecnn import explain
from simplecnn.bounded import folder_use, store_cached
from simplecnn.explain import neighbours
from simplecnn.model import SimpleCNN


def test_store_cached_keeps_the_folder_under_its_cap(tmp_path):
    for i in range(10):
        assert store_cached(tmp_path / f"embed-{i}.pt", os.urandom(300_000), max_bytes=1_000_000)
        assert folder_use(tmp_path).bytes <= 1_000_000
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["embed-7.pt", "embed-8.pt", "embed-9.pt"]  # the most recent ones
    assert not store_cached(tmp_path / "huge.pt", b"\0" * 2_000_000, max_bytes=1_000_000)


def test_ten_models_embeddings_keep_the_cache_under_its_cap(tmp_path, monkeypatch, mnist):
    """Ten distinct models (as ten uploads would bring), each with its test-set embeddings (5 MB) cached."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("SIMPLECNN_CACHE_MB", "12")
    monkeypatch.setattr(neighbours, "_embeddings", neighbours.BoundedCache(4, 12 << 20, neighbours._tensor_bytes))
    # The bound is on what is stored, not on how it is computed: a stand-in keeps the test fast.
    monkeypatch.setattr(neighbours, "embed", lambda model, x: torch.rand(len(x), 128))
    torch.manual_seed(0)
    for _ in range(10):
        model = SimpleCNN().eval()
        explain.split_embeddings(model, "test")
        time.sleep(0.01)  # distinct modification times
        assert folder_use(tmp_path / "simplecnn").bytes <= 12 << 20
    assert len(list((tmp_path / "simplecnn").glob("embed-*.pt"))) == 2
    assert len(neighbours._embeddings) <= 4 and neighbours._embeddings.bytes <= 12 << 20
