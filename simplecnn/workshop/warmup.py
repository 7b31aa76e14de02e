"""Server warm-up: import the heavy libraries and read the shipped checkpoint before the first visitor.

Why: otherwise the first visitor's page pays for importing torch and reading the shipped files, and the first run
for torch's one-time optimizer imports. The app's launcher (app.py) runs `warm_up()` in its startup hook, before
the server answers; afterwards every page's first run finds modules imported and files in the OS cache.
"""

from __future__ import annotations

import logging
import time

from simplecnn.perf.memory import release_gpu_library_pages

log = logging.getLogger(__name__)


def warm_up() -> float:
    """Import what every page needs and load the shipped checkpoint, its evaluation and its digit check.
    Returns the seconds it took. Never raises: a failure here only means the first page pays instead."""
    start = time.perf_counter()
    try:
        import pandas  # noqa: F401  (see ui/studio.py: imported before any script thread can race on it)
        import plotly.graph_objects  # noqa: F401  (the pages' charts)

        from simplecnn import evaluate
        from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
        from simplecnn.training.schedules import warm_up_optimizer
        from simplecnn.workshop import scheduler  # noqa: F401  (torch and the library)

        checkpoint = load_checkpoint(DEFAULT_CHECKPOINT.read_bytes())
        checkpoint.model("cpu")
        if evaluate.SHIPPED_EVALUATION.exists():
            evaluate.SHIPPED_EVALUATION.read_bytes()  # into the OS cache; the page parses it
        warm_up_optimizer()  # the first run does not pay torch's one-time imports for the fused Adam
    except Exception:  # noqa: BLE001  (warm-up is an optimisation; the pages report real problems)
        log.exception("warm-up failed; the first page will load what it needs itself")
    released = release_gpu_library_pages()  # after the imports: they are what loaded the GPU libraries
    if released:
        log.info("released %.0f MB of GPU library pages (no GPU here)", released)
    return time.perf_counter() - start
