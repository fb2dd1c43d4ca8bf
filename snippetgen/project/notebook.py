"""Notebooks: a render (or a project) as a Jupyter notebook, nbformat 4.

A rendered script becomes a markdown cell (the title, the exact command, the recipes'
docs), its code split into cells on its top-level statements (the imports together, each
function or class alone), and a last cell that runs it: ``main([...])`` with editable
arguments for a training script, the body of its ``if __name__ == "__main__":`` block for a
snippet. Every line of the script but those of its ``__main__`` blocks lands in exactly one
cell, so the cells run top to bottom define what the script defines. The ``__main__``
blocks stay out: in a kernel ``__name__`` is ``"__main__"`` too, and the script's start-up
block would install process-wide signal handlers there.

nbformat is an optional dependency (``snippetgen[notebook]``), imported only here and only
when a notebook is built.
"""

from __future__ import annotations

import ast
import html
import json
import re
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from snippetgen.codegen.quoting import escape
from snippetgen.errors import UserError
from snippetgen.recipes.recipe import BASE_RECIPE

if TYPE_CHECKING:
    from snippetgen.codegen.rendering import Plan
    from snippetgen.recipes.recipe import Recipe

FORMATS = ("py", "ipynb")
# the common flags the run cell shows, in this order, with their rendered values
EXAMPLE_PARAMS = ("epochs", "batch-size", "lr", "seed")
MISSING = (
    "Writing a notebook needs the nbformat package, which is not installed; "
    "install it with: pip install 'snippetgen[notebook]'."
)


def require_nbformat() -> Any:
    """The nbformat module, or a UserError that says how to install it."""
    try:
        import nbformat
    except ImportError:
        raise UserError(MISSING) from None
    return nbformat


# --- splitting a script into cells -------------------------------------------------------------


class Cells(NamedTuple):
    """A script's code cells, and the code its last ``__main__`` block runs (dedented)."""

    code: list[str]
    main: str


def is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":``"""
    if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)):
        return False
    test = node.test
    names = [test.left, *test.comparators]
    return (
        len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and any(isinstance(n, ast.Name) and n.id == "__name__" for n in names)
        and any(isinstance(n, ast.Constant) and n.value == "__main__" for n in names)
    )


def _kind(node: ast.stmt, first: bool) -> str:
    if is_main_guard(node):
        return "main"
    if isinstance(node, ast.Import | ast.ImportFrom):
        return "import"
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return "def"
    if first and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return "doc"
    return "other"


def _start(node: ast.stmt) -> int:
    """The statement's first line (its first decorator's), 0-based."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)]) - 1


def _strip_blank(lines: list[str]) -> str:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return "".join(lines).rstrip("\n")


def _joins(kind: str, last: str | None) -> bool:
    """Whether a statement of ``kind`` shares the cell of the one before it (of kind ``last``):
    imports join the docstring and the imports before them, other statements the others."""
    return (kind == "import" and last in ("doc", "import")) or (kind == "other" and last == "other")


def _add_statement(groups: list[tuple[str, list[str]]], kind: str, chunk: list[str]) -> None:
    """Put a statement's lines into the last cell when it joins it, else into a new cell."""
    last = groups[-1][0] if groups else None
    if _joins(kind, last):
        groups[-1][1].extend(chunk)
        groups[-1] = ("import" if kind == "import" else last or kind, groups[-1][1])
    else:
        groups.append((kind, list(chunk)))


def _main_body(node: ast.If, lines: Sequence[str]) -> str:
    """The body of the ``__main__`` block, dedented."""
    end = node.end_lineno or node.lineno
    return textwrap.dedent("".join(lines[node.body[0].lineno - 1 : end])).rstrip("\n")


def split_cells(code: str) -> Cells:
    """Split black-formatted ``code`` on its top-level statements.

    Consecutive imports share a cell (with the header comments and the module docstring
    before them), and so do consecutive other statements (constants); each function and
    class has its own. Comment lines belong to the statement after them (to the one before a
    ``__main__`` block, which is left out). Cells hold the script's lines as they are, less
    the blank lines at their edges.
    """
    lines = code.splitlines(keepends=True)
    body = ast.parse(code).body
    groups: list[tuple[str, list[str]]] = []
    main = ""
    cursor = 0  # first line not yet given to a cell
    for index, node in enumerate(body):
        kind = _kind(node, index == 0)
        end = node.end_lineno or node.lineno
        if isinstance(node, ast.If) and kind == "main":
            if groups and cursor < _start(node):  # comments before it: the previous cell's
                groups[-1][1].extend(lines[cursor : _start(node)])
            main = _main_body(node, lines)
        else:
            _add_statement(groups, kind, lines[cursor:end])
        cursor = end
    if groups and cursor < len(lines):
        groups[-1][1].extend(lines[cursor:])
    cells = [_strip_blank(chunk) for _, chunk in groups]
    return Cells([cell for cell in cells if cell], main)


# --- markdown ----------------------------------------------------------------------------------


def md_text(text: str) -> str:
    """Outside prose for markdown: every line printable, no raw HTML."""
    return "\n".join(html.escape(escape(line), quote=False) for line in text.splitlines())


def md_code_block(text: str) -> str:
    """``text`` as a fenced code block it cannot leave: one printable line (see
    :func:`snippetgen.codegen.quoting.escape`) inside a fence of more backticks than any run in it."""
    line = escape(text)
    longest = max((len(run) for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{line}\n{fence}"


def _docs(recipe: Recipe) -> list[str]:
    out = [f"## {md_text(recipe.title)}", "", md_text(recipe.summary)]
    if recipe.when:
        out += ["", "**When to use it.** " + md_text(recipe.when)]
    if recipe.pitfalls:
        out += ["", "**Pitfalls:**", ""]
        out += ["- " + md_text(p).replace("\n", "\n  ") for p in recipe.pitfalls]
    return out


def intro(title: str, command: str, recipes: Sequence[Recipe], closing: str) -> str:
    from snippetgen import __version__

    out = [
        f"# {md_text(title)}",
        "",
        f"Generated by snippetgen {__version__} with this command:",
        "",
        md_code_block(command),
    ]
    for recipe in recipes:
        out += ["", *_docs(recipe)]
    return "\n".join([*out, "", closing])


# --- notebooks ---------------------------------------------------------------------------------


def _notebook(markdown: str, cells: Sequence[str]) -> str:
    """The notebook's JSON text, validated; cell ids are fixed, so a render is repeatable."""
    nbformat = require_nbformat()
    v4 = nbformat.v4
    notebook = v4.new_notebook()
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    notebook.cells = [v4.new_markdown_cell(markdown, id="cell-0")] + [
        v4.new_code_cell(source, id=f"cell-{index}") for index, source in enumerate(cells, 1)
    ]
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def example_args(plan_: Plan, given: dict[str, Any] | None = None) -> list[str]:
    """The run cell's arguments: the common flags with the values the script defaults to
    (valid for it by construction); the user edits them."""
    from snippetgen.recipes.params.code import cli_text

    values = {**plan_.values, **(given or {})}
    out: list[str] = []
    for name in EXAMPLE_PARAMS:
        param = plan_.params.get(name)
        if param is not None:
            out += [param.option, cli_text(param, values[name])]
    return out


def run_cell(
    args: Sequence[str], options: str = "parse_args (defined above) lists the options."
) -> str:
    """The cell that trains: ``history = main([...])`` under a comment that says how."""
    from snippetgen.codegen.codecheck import format_source

    listed = json.dumps(list(args), ensure_ascii=False)  # a JSON list of strings is Python
    ast.literal_eval(listed)
    return format_source(
        "# Edit the arguments and run this cell (again): each run writes metrics.jsonl and\n"
        '# model.pt to a fresh runs/<timestamp> folder, or pass "--output-dir", "FOLDER".\n'
        f"# {options}\n"
        f"history = main({listed})\n"
    ).rstrip("\n")


def script_notebook(
    code: str, plan_: Plan, command: str, given: dict[str, Any] | None = None
) -> str:
    """A rendered script (``code``, from ``plan_`` by ``command``) as a notebook's JSON."""
    cells = split_cells(code)
    target = plan_.target
    if target.kind == "feature":
        shown = [r for r in plan_.recipes if r.name != BASE_RECIPE] or [target]
        title = " + ".join(r.title for r in shown)
        closing = (
            "Run the cells from the top: they define the training script's functions, and "
            "the last cell trains with the arguments it lists (edit them). Replace "
            "`build_datasets` and `build_model` with your own."
        )
        last = run_cell(example_args(plan_, given))
    else:
        shown, title = [target], target.title
        closing = "Run the cells from the top; the last one runs the example."
        last = cells.main
    return _notebook(
        intro(title, command, shown, closing), [*cells.code, last] if last else cells.code
    )


def project_notebook(package: str, title: str, command: str, args: Sequence[str]) -> str:
    """``notebook.ipynb`` of a project made by ``new``: imports the project's package and
    trains with editable arguments (run it from the project's folder, or install the
    project)."""
    if not package.isidentifier():  # a validated identifier only, never raw text
        raise ValueError(f"not a package name: {package!r}")
    closing = (
        f"The code lives in the package `{package}` next to this notebook: edit "
        f"`{package}/data.py` and `{package}/model.py`, then run the cells from the top."
    )
    import_cell = f"from {package}.train import main"
    return _notebook(
        intro(title, command, [], closing),
        [import_cell, run_cell(args, f"python -m {package} --help lists the options.")],
    )
