import contextlib
import os
import tempfile
from pathlib import Path

import pytest

from simplecnn.device import configure_threads

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
if not os.environ.get("SIMPLECNN_DATA") and SHARED_DATA.is_dir():
    os.environ["SIMPLECNN_DATA"] = str(SHARED_DATA)

# A string missing from a catalog fails the test that shows it, instead of falling back to English (ui.i18n).
os.environ.setdefault("SIMPLECNN_I18N_STRICT", "1")
# Tests that choose no drawings store (issue 28) use a temporary one, never the repo's checkpoints/.
os.environ.setdefault("SIMPLECNN_DRAWINGS", str(Path(tempfile.mkdtemp(prefix="simplecnn-tests-")) / "drawings.sqlite"))

# Under xdist each worker gets its share of the cores (children and training runs too): more torch threads than
# cores leave threads waiting at barriers for partners that another worker's threads have descheduled.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    os.environ.setdefault("SIMPLECNN_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
configure_threads(min(2, os.cpu_count() or 1))  # at most SIMPLECNN_THREADS, as training will


@pytest.fixture(scope="session")
def mnist():
    from simplecnn.data import load_mnist

    return load_mnist()


@pytest.fixture(autouse=True)
def _no_first_paint_pause(monkeypatch):
    """AppTest has no browser loading Plotly: the Evaluate page's pause for one would only idle the test."""
    from ui import charts

    monkeypatch.setattr(charts, "FIRST_PAINT_PAUSE_S", 0.0)


@pytest.fixture()
def runs_dir(tmp_path, monkeypatch):
    path = tmp_path / "runs"
    monkeypatch.setenv("SIMPLECNN_RUNS", str(path))
    return path


def _require_ray() -> None:
    """Skip where a Ray head cannot run (see tests/support/ray_head.py); under CI (`CI` set), fail instead."""
    from tests.support.ray_head import ray_unusable

    reason = ray_unusable()
    if reason and os.environ.get("CI"):
        pytest.fail(reason)
    if reason:
        pytest.skip(reason)


@pytest.fixture()
def ray_usable() -> None:
    _require_ray()


class _SessionHead:
    """The session's local Ray head (2 CPUs), started on first use. A test that kills it on purpose (the last test
    of tests/test_ray.py) leaves a later module a fresh one: `ray_head_now` checks it is still alive."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self.head = None

    def live(self):
        from tests.support.ray_head import ray_head

        if self.head is None or self.head.proc.poll() is not None:
            self.close()
            self.head = self._stack.enter_context(ray_head())
        return self.head

    def close(self) -> None:
        self._stack.close()
        self.head = None


@pytest.fixture(scope="session")
def _ray_session_head():
    _require_ray()
    heads = _SessionHead()
    yield heads
    heads.close()


@pytest.fixture(scope="module")
def ray_head_now(_ray_session_head):
    """The session's Ray head (tests/support/ray_head.py Head), alive when the module starts."""
    return _ray_session_head.live()


@pytest.fixture(scope="module")
def ray_address(ray_head_now) -> str:
    """One local Ray head (2 CPUs) for every Ray test of the session: its address."""
    return ray_head_now.address
