"""app.py is a launcher: Streamlit's st.App serving studio.py, warming the server in its startup hook."""

from __future__ import annotations

import ast
from pathlib import Path

import streamlit as st

from simplecnn import warmup

ROOT = Path(__file__).resolve().parent.parent


def test_app_py_is_an_st_app_serving_studio_with_a_warm_up_hook() -> None:
    import app

    assert isinstance(app.app, st.App)
    assert app.app.script_path.name == "studio.py"
    assert app.app._user_lifespan is not None  # the warm-up


def test_streamlit_run_detects_the_launcher() -> None:
    from streamlit.web.server.app_discovery import discover_asgi_app

    assert discover_asgi_app(ROOT / "app.py").is_asgi_app


def test_warm_up_imports_torch_and_the_library_and_never_raises(monkeypatch) -> None:
    assert warmup.warm_up() >= 0
    import sys

    assert "torch" in sys.modules and "simplecnn.scheduler" in sys.modules
    # A broken shipped checkpoint only means the first page pays: no exception escapes.
    from simplecnn import checkpoint

    monkeypatch.setattr(checkpoint, "DEFAULT_CHECKPOINT", ROOT / "does-not-exist.pt")
    assert warmup.warm_up() >= 0


def test_the_launcher_does_no_ui_work() -> None:
    """app.py must stay a launcher: no st.* page calls (they belong to studio.py and pages/)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "st"
    }
    assert calls == {"App"}


def test_the_launcher_leaves_an_operator_set_arena_limit_alone(monkeypatch) -> None:
    import app

    calls: list[tuple] = []

    class FakeLibc:
        def mallopt(self, *args):
            calls.append(args)

    monkeypatch.setattr("ctypes.CDLL", lambda name: FakeLibc())
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    app._limit_malloc_arenas()
    assert calls == []
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    app._limit_malloc_arenas()
    assert calls == [(-8, 2)]
