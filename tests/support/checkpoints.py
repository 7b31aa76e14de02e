"""Crafted checkpoint files for the tests of what the loaders refuse."""

from __future__ import annotations

import pickle
from pathlib import Path


class RunsCode:
    """Unpickling it opens `marker` for writing (creating the file): proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def malicious_checkpoint(path: Path, marker: Path) -> Path:
    """A file that runs code (creates `marker`) when unpickled without weights_only."""
    with open(path, "wb") as f:
        pickle.dump({"state_dict": RunsCode(str(marker))}, f)
    return path
