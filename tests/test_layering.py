"""Dependencies point one way: cli -> analysis -> engine -> {methods, nets, data, metrics}; leaves import no other
part."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ganctl"
ALLOWED = {
    "cli": {"analysis", "engine", "errors", "cli"},
    "analysis": {"analysis", "engine", "errors"},
    "engine": {"methods", "nets", "data", "metrics", "errors", "engine"},
    "methods": {"methods", "errors"},
    "nets": {"nets", "errors"},
    "data": {"data", "errors"},
    "metrics": {"metrics", "errors"},
}


def ganctl_imports(path: Path) -> set[str]:
    """The second component of every `ganctl.X...` import in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "ganctl" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_layering_imports_point_one_way(folder):
    for path in (PACKAGE / folder).rglob("*.py"):
        forbidden = ganctl_imports(path) - ALLOWED[folder]
        assert not forbidden, f"{path.relative_to(PACKAGE)} imports ganctl.{sorted(forbidden)}"


def test_layering_engine_never_names_a_method():
    """The engine must not branch on which method runs (STYLE.md: no `if cfg.method...` in engine/)."""
    method_ids = [p.stem for p in (PACKAGE / "methods").glob("*.py") if p.stem not in ("__init__", "base", "penalties")]
    assert method_ids, "no methods found"
    for path in (PACKAGE / "engine").rglob("*.py"):
        text = path.read_text()
        for mid in method_ids:
            assert f'"{mid}"' not in text and f"'{mid}'" not in text and f"methods.{mid}" not in text, (path, mid)
