import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
if not os.environ.get("SIMPLECNN_DATA") and SHARED_DATA.is_dir():
    os.environ["SIMPLECNN_DATA"] = str(SHARED_DATA)

# A string missing from a catalog fails the test that shows it, instead of falling back to English (ui.i18n).
os.environ.setdefault("SIMPLECNN_I18N_STRICT", "1")

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def mnist():
    from simplecnn.data import load_mnist

    return load_mnist()


@pytest.fixture()
def runs_dir(tmp_path, monkeypatch):
    path = tmp_path / "runs"
    monkeypatch.setenv("SIMPLECNN_RUNS", str(path))
    return path
