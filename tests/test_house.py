"""The house keeps its rules: no import circle in the package, benchmarks run as a package (no ``sys.path``
inserts), and no numbered past (working sessions, issue numbers) in the tracked files or their names."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The folders that make up the installed package (models/ and gui/ are installed as anonymizer.models and
# anonymizer.gui).
PACKAGE = {"anonymizer": "anonymizer", "models": "anonymizer.models", "gui": "anonymizer.gui"}


def _imports(path: Path) -> set[str]:
    """The anonymizer modules ``path`` imports, at its top or inside a function (a lazy import is still an
    edge); ``from X import name`` counts as X and as X.name (a submodule, where there is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("anonymizer"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("anonymizer")}
    return found


def import_graph() -> dict[str, set[str]]:
    modules: dict[str, set[str]] = {}
    for folder, prefix in PACKAGE.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((prefix, *parts)).removesuffix(".__init__")
            modules[name] = _imports(path)

    def known(name: str) -> str | None:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in modules else None

    return {m: {k for d in deps if (k := known(d)) and k != m} for m, deps in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_the_package():
    graph = import_graph()
    assert "anonymizer.work" in graph and "anonymizer.batch" in graph["anonymizer.gui.workers"]
    assert cycles(graph) == []


def test_benchmarks_are_a_package_without_path_inserts():
    assert (ROOT / "benchmarks" / "__init__.py").is_file()
    inserts = [
        f"{p.name}:{i}"
        for p in sorted((ROOT / "benchmarks").glob("*.py"))
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "sys.path.insert" in line or "sys.path.append" in line
    ]
    assert inserts == []


NUMBERED_PAST = re.compile(r"\b(session|issue) #?\d+\b", re.IGNORECASE)
NUMBERED_NAME = re.compile(r"_s\d+(?=[._])")


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are not known")
    return out.split()


def test_no_numbered_past_in_tracked_files_or_their_names():
    said = []
    for name in _tracked():
        if NUMBERED_NAME.search(Path(name).name):
            said.append(f"{name}: its name")
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".txt", ".toml", ".sh", ".csv", ".cfg", ".yml", ".yaml"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        said += [f"{name}: {m.group(0)!r}" for m in NUMBERED_PAST.finditer(text)]
    assert said == [], "a date or a version says when, a commit says what changed"
