"""app.py is a launcher: Streamlit's st.App serving ui/studio.py, warming the server in its startup hook."""

from __future__ import annotations

import ast
import json
import logging
import subprocess
import sys
from pathlib import Path

import streamlit as st

from simplecnn.perf import malloc
from simplecnn.workshop import warmup

ROOT = Path(__file__).resolve().parent.parent


def test_app_py_is_an_st_app_serving_studio_with_a_warm_up_hook() -> None:
    import app

    assert isinstance(app.app, st.App)
    assert app.app.script_path.name == "studio.py"
    assert app.app._user_lifespan is not None  # the warm-up


def test_the_main_script_is_not_beside_a_pages_folder() -> None:
    """Streamlit reads a `pages/` folder next to the main script as the old pages-folder mode (its own routing
    for a first visit to /draw); st.navigation must own the routing, so the main script lives in ui/."""
    import app

    script = (ROOT / app.app.script_path).resolve() if not app.app.script_path.is_absolute() else app.app.script_path
    assert not (script.parent / "pages").exists()
    assert (ROOT / "pages").is_dir()


def test_streamlit_run_detects_the_launcher() -> None:
    from streamlit.web.server.app_discovery import discover_asgi_app

    assert discover_asgi_app(ROOT / "app.py").is_asgi_app


def test_warm_up_imports_torch_the_library_and_the_optimizer_in_a_fresh_process() -> None:
    code = (
        "import sys, json; from simplecnn.workshop.warmup import warm_up; before = 'torch' in sys.modules; "
        "warm_up(); print(json.dumps([before, 'torch' in sys.modules, 'simplecnn.workshop.scheduler' in "
        "sys.modules, 'torch._dynamo' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, True, True, True]


def test_a_failing_warm_up_is_logged_never_raised(monkeypatch, caplog) -> None:
    from simplecnn import checkpoint

    monkeypatch.setattr(checkpoint, "DEFAULT_CHECKPOINT", ROOT / "does-not-exist.pt")
    logger = logging.getLogger("simplecnn.workshop.warmup")
    logger.addHandler(caplog.handler)  # the server's log setup may stop propagation to the root logger
    try:
        warmup.warm_up()
    finally:
        logger.removeHandler(caplog.handler)
    assert "warm-up failed" in caplog.text


def test_the_launcher_does_no_ui_work() -> None:
    """app.py must stay a launcher: no st.* page calls (they belong to ui/studio.py and pages/)."""
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


def test_the_server_leaves_an_operator_set_arena_limit_alone(monkeypatch) -> None:
    calls: list[tuple] = []

    class FakeLibc:
        def mallopt(self, *args):
            calls.append(args)
            return 1

    monkeypatch.setattr("ctypes.CDLL", lambda name: FakeLibc())
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not malloc.limit_arenas()
    assert calls == []
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert malloc.limit_arenas()
    assert calls == [(-8, 2)]
