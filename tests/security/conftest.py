"""Fixtures of the security tests; the hostile inputs themselves are built by tests.support.hostile."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hostile import compressed_metrics_checkpoint


@pytest.fixture(scope="session")
def compressed_checkpoints(tmp_path_factory) -> dict[int, Path]:
    """{1: 1 GB inside, 3: 3 GB inside}, each a few MB on disk."""
    folder = tmp_path_factory.mktemp("bombs")
    return {gb: compressed_metrics_checkpoint(folder / f"metrics-{gb}gb.pt", gb << 30) for gb in (1, 3)}
