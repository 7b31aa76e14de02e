"""The house rules a newcomer relies on, checked: the model file is the tutorial's class, the library uses public
APIs only and never imports streamlit, the import graph has floors and no cycle, every subpackage says what it is,
settings are read in one place, and the Ray bridge imports no torch."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "simplecnn"
# Lower floors never import higher ones. A key is a module or a package (its prefix covers what is inside).
FLOORS = {
    "simplecnn.settings": 0,
    "simplecnn.files": 0,
    "simplecnn.errors": 0,
    "simplecnn.bounded": 0,
    "simplecnn.visitors": 0,
    "simplecnn.model": 1,
    "simplecnn.data": 1,
    "simplecnn.device": 1,
    "simplecnn.figures": 1,
    "simplecnn.calibration": 2,
    "simplecnn.checkpoint": 2,
    "simplecnn.evaluate": 2,
    "simplecnn.perf": 3,
    "simplecnn.inference": 3,
    "simplecnn.training": 4,
    "simplecnn.explain": 5,
    "simplecnn.execution": 5,
    "simplecnn.lessons": 5,
    "simplecnn.personal": 5,
    "simplecnn.workshop": 6,
    "simplecnn.cli": 7,
    "simplecnn.bench": 7,
    "simplecnn.__main__": 7,
    "simplecnn": 0,  # the package itself: lazy names only
    "ui": 8,
    "pages": 8,
    "app": 8,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = [*LIBRARY.rglob("*.py"), *(ROOT / "ui").rglob("*.py"), *(ROOT / "pages").rglob("*.py"), ROOT / "app.py"]
    return {_module_name(p): p for p in files}


def _imports(path: Path, module: str) -> set[str]:
    """Every project module this file imports (module level and inside functions)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _floor(module: str) -> int | None:
    for key in sorted(FLOORS, key=len, reverse=True):
        if module == key or module.startswith(key + "."):
            return FLOORS[key]
    return None


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    return {m: {i for i in _imports(p, m) if i in sources and i != m} for m, p in sources.items()}


def test_model_file_is_the_tutorials_class_in_one_screen():
    text = (LIBRARY / "model.py").read_text()
    assert len(text.splitlines()) <= 80
    imports = _imports(LIBRARY / "model.py", "simplecnn.model")
    assert imports and all(i.split(".")[0] in ("torch", "__future__") for i in imports), imports
    for layer in ("nn.Conv2d", "nn.MaxPool2d", "nn.Dropout", "nn.Linear"):
        assert layer in text


def test_library_uses_public_apis_only_and_never_streamlit():
    private = re.compile(r"torch\._[a-z]|\._forward_hooks|_forward_pre_hooks")
    offenders = [str(p.relative_to(ROOT)) for p in LIBRARY.rglob("*.py") if private.search(p.read_text())]
    assert not offenders, f"private torch APIs in {offenders}"
    streamlit = [m for m, deps in _graph().items() if m.startswith("simplecnn") and any("streamlit" in d for d in deps)]
    assert not streamlit
    runtime = [
        str(p.relative_to(ROOT))
        for p in _sources().values()
        if re.search(r"streamlit\.runtime|from streamlit import runtime", p.read_text())
    ]
    assert not runtime, f"Streamlit's private runtime used in {runtime}"


def test_import_graph_has_floors_and_no_cycle():
    graph = _graph()
    upward = [
        f"{m} (floor {_floor(m)}) imports {d} (floor {_floor(d)})"
        for m, deps in graph.items()
        for d in deps
        if _floor(m) is not None and _floor(d) is not None and _floor(d) > _floor(m)  # type: ignore[operator]
    ]
    assert not upward, "\n".join(upward)
    assert all(_floor(m) is not None for m in graph), [m for m in graph if _floor(m) is None]
    visiting, done, cycles = set(), set(), []

    def visit(node: str, path: list[str]) -> None:
        if node in done:
            return
        if node in visiting:
            cycles.append(" → ".join([*path[path.index(node) :], node]))
            return
        visiting.add(node)
        for dep in sorted(graph.get(node, ())):
            if dep != "simplecnn":  # the package's lazy names import nothing at import time
                visit(dep, [*path, node])
        visiting.discard(node)
        done.add(node)

    for module in sorted(graph):
        visit(module, [])
    assert not cycles, cycles


@pytest.mark.parametrize("init", sorted(LIBRARY.rglob("__init__.py")), ids=lambda p: str(p.parent.name))
def test_every_subpackage_says_what_it_is(init):
    assert ast.get_docstring(ast.parse(init.read_text()))


def test_environment_is_read_in_settings_only():
    reads = re.compile(r"os\.environ\.get|os\.getenv|os\.environ\[|in os\.environ")
    offenders = [
        str(p.relative_to(ROOT)) for p in _sources().values() if p.name != "settings.py" and reads.search(p.read_text())
    ]
    assert not offenders


def test_the_ray_bridge_and_the_launcher_settings_import_no_torch():
    code = (
        "import sys; import simplecnn.execution.ray_bridge, simplecnn.settings, simplecnn.perf.malloc, "
        "simplecnn.training.events; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_tests_share_helpers_through_conftest_and_tests_support_only():
    """No test module imports another test module or reaches into benchmarks/; benchmarks may use tests.support."""
    offenders = []
    for path in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]:
        module = _module_name(path)
        text = path.read_text()
        for name in _imports(path, module):
            shared = name == "tests.support" or name.startswith("tests.support.")
            if (name.startswith("tests.") and not shared) or name.split(".")[0] in ("benchmarks", "conftest"):
                offenders.append(f"{module} imports {name}")
        if re.search(r"sys\.path\.(insert|append)\(.*benchmarks", text) and module.startswith("tests"):
            offenders.append(f"{module} puts benchmarks/ on sys.path")
    assert not offenders, offenders
