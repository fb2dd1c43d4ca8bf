"""A fast CLI whose modules import one way.

Each command runs in a fresh interpreter, which then reports which heavy packages
ended up in sys.modules. `list`, `search`, `show` and `--help` never need black, torch,
numpy, Jinja or Pygments (the last only for --color); `render RECIPE --help` reads the
schema without Jinja or black.

The package has no import circle: the imports between its modules, read from their source
(at module level and inside functions alike), form no cycle. Only an import under
``if TYPE_CHECKING:`` (never run) is left out.
"""

from __future__ import annotations

import ast
import graphlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

HEAVY = {"black", "torch", "numpy", "jinja2", "pygments", "nbformat"}

PROBE = """
import json, sys
from snippetgen.cli import app
try:
    app(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(HEAVY)))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def loaded_after(*args: str) -> tuple[int, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.replace("HEAVY", repr(json.dumps(sorted(HEAVY)))), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["code"], report["heavy"]


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["list", "--json"],
        ["search", "label", "smoothing"],
        ["search", "标签平滑"],
        ["show", "mixup", "--color", "never"],
        ["show", "train"],
        ["--help"],
        ["render", "--help"],
        ["render", "mixup", "--help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_lookup_commands_import_nothing_heavy(args):
    code, heavy = loaded_after(*args)
    assert code in (0, None)
    assert heavy == []


def test_the_probe_does_see_heavy_imports():
    """Guard on the probe itself: a real render does load Jinja and black."""
    code, heavy = loaded_after("render", "mixup", "--color", "never")
    assert code in (0, None)
    assert "jinja2" in heavy and "black" in heavy and "torch" not in heavy


def test_importing_the_package_is_light():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, snippetgen, snippetgen.codegen.rendering, snippetgen.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'black', 'torch', 'jinja2', 'pygments'}))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def test_public_names_load_on_first_use():
    import snippetgen
    import snippetgen.codegen.rendering

    assert snippetgen.render is snippetgen.codegen.rendering.render  # the function, not a module
    assert snippetgen.RenderRequest is snippetgen.codegen.rendering.RenderRequest
    assert set(snippetgen.__all__) <= set(dir(snippetgen))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = snippetgen.nope  # type: ignore[attr-defined]


# --- no import circles -------------------------------------------------------------------------


def _module_names(package_dir: Path, package: str) -> dict[str, Path]:
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree``, at any depth, less those under TYPE_CHECKING."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement in ``module`` loads (before matching them)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor if is_package else anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([base] if base else [])])
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (``from pkg.mod import name`` names
    pkg.mod; ``from pkg import mod`` names pkg.mod; ``from pkg import name`` names pkg)."""
    modules = _module_names(package_dir, package)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        deps: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in _imports(tree):
            targets = _targets(node, module, path.name == "__init__.py")
            named = [t for t in targets[:-1] if t in modules] if len(targets) > 1 else []
            if isinstance(node, ast.ImportFrom) and named:
                deps.update(named)
                if len(named) == len(targets) - 1:
                    continue
            for target in targets if isinstance(node, ast.Import) else targets[-1:]:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target:
                    deps.add(target)
        deps.discard(module)
        graph[module] = deps
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_the_package_has_no_import_circle():
    graph = import_graph(ROOT / "snippetgen", "snippetgen")
    cycle = import_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])
    # the graph is the real one: imports inside functions count, TYPE_CHECKING ones do not
    assert (
        "snippetgen.recipes.recipecheck" in graph["snippetgen.recipes.catalog"]
    )  # inside a function
    assert (
        "snippetgen.recipes.params.parse" in graph["snippetgen.recipes.params.schema"]
    )  # inside a function
    assert (
        "snippetgen.recipes.params.schema" not in graph["snippetgen.recipes.params.parse"]
    )  # type checking
    assert "snippetgen.cli" in graph["snippetgen.launch"]


def test_the_import_circle_check_finds_circles(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import c\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    (pkg / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"
    )
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.c"}
    assert graph["pkg.d"] == set()
    assert sorted(import_cycle(graph) or []) == ["pkg.a", "pkg.a", "pkg.c", "pkg.sub.b"]
    (pkg / "c.py").write_text("import pkg\n")
    assert import_cycle(import_graph(pkg, "pkg")) is None
