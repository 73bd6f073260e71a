"""The layering of DESIGN §2: `corpus_builder` and `alt_model` never import each other (they meet through
corpus.parquet and corpus.pt), `alt_common` imports neither, no package has an import cycle, and
`import alt_model` loads no NLP library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("alt_common", "corpus_builder", "alt_model")
FORBIDDEN = {"alt_common": {"corpus_builder", "alt_model"}, "corpus_builder": {"alt_model"}, "alt_model": {"corpus_builder"}}


def imports(path: Path, package: str) -> set[str]:
    """Every module a file imports, at any depth of the file (function-level imports too), absolute names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = f"{package}.{node.module}" if node.level else node.module
            base = package if node.level and not node.module else base
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def modules(package: str) -> dict[str, set[str]]:
    """module name -> the modules of the same package it imports."""
    graph = {}
    for path in sorted((REPO / package).glob("*.py")):
        name = package if path.stem == "__init__" else f"{package}.{path.stem}"
        graph[name] = imports(path, package)
    own = set(graph)
    return {name: {m for m in targets if m in own and m != name} for name, targets in graph.items()}


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_down_the_layers(package):
    for path in sorted((REPO / package).glob("*.py")):
        bad = sorted(m for m in imports(path, package) if m.split(".")[0] in FORBIDDEN[package])
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    graph = {name: targets - {package} for name, targets in modules(package).items()}  # __init__ re-exports
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:  # on the current path: a cycle
                pytest.fail("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_importing_alt_model_loads_no_nlp_library():
    code = "import sys, alt_model; print(' '.join(sorted(m for m in ('spacy', 'nltk', 'openai', 'corpus_builder') if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


CONSOLE_MODULES = ("corpus_builder.cli", "alt_model.cli", "alt_model.lists_cli", "alt_model.predict_cli", "alt_model.explain_cli",
                   "alt_model.synthetic", "alt_model.store_cli", "alt_model.config")  # config: alt-train's config errors answer at once too


def test_console_scripts_import_no_torch_before_their_command_runs():
    """--help, a usage error and a missing file answer at once: torch (2 s, 700 MB) loads only where a model runs."""
    code = f"import sys; import {', '.join(CONSOLE_MODULES)}; print(' '.join(m for m in ('torch', 'open_clip', 'spacy') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_import_reader_sees_function_level_and_relative_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from .a import b\nfrom . import c\ndef f():\n    from corpus_builder.x import y\n    import alt_model\n")
    assert imports(source, "pkg") >= {"pkg.a", "pkg.a.b", "pkg", "pkg.c", "corpus_builder.x", "alt_model"}
