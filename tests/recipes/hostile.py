"""Hostile input for recipe parameters: junk values no typed parameter accepts, text aimed
at str parameters, and two user recipes (a snippet and a feature) that put a str value into
code, a comment and a docstring; with the AST shape a value must never change."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from snippetgen.errors import UserError
from snippetgen.recipes.catalog import Catalog, load_catalog
from snippetgen.recipes.params.parse import coerce
from snippetgen.recipes.params.schema import Param

# Values that no int, float, bool, choice or list parameter may accept.
JUNK = [
    "",
    " ",
    "\t",
    "   \n ",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1e999",
    "1e308",
    "-1e308",
    "9" * 30,
    "99999999999999999999",
    "-99999999999999999999",
    "١٢",
    "٣.٥",
    "１２",
    "١,٢",  # Arabic-Indic and full-width digits
    "'",
    '"',
    "'''",
    "'; import os; '",
    '"); __import__("os").system("id"); ("',
    "\\",
    "\\n",
    "C:\\temp\\x",
    "a\nb",
    "\n",
    "\r\n",
    "1\n2",
    "\x00",
    "\u2028",
    "{{ 7*7 }}",
    "{% for x in range(9) %}x{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    '__import__("os")',
    "eval('1')",
    "lambda: 0",
    "[1, 2]",
    "(1)",
    "1 + 1",
    "1/2",
    "$(rm -rf /)",
    "`id`",
    "; rm -rf ~",
    "| cat /etc/passwd",
    "../../etc/passwd",
    "0x10",
    "0b11",
    "1_000",
    "1e",
    ".",
    "+",
    "1,",
    ",1",
    "1,,2",
    "🙂",
    "x" * 5000,
    "1" * 5000,
]


def accepts(param: Param, value: Any) -> bool:
    try:
        coerce(param, value)
    except UserError:
        return False
    return True


PROBE_SNIPPET = """\
name = "str-probe"
kind = "snippet"
title = "String probe"
summary = "Puts a free-form string parameter into code in several places."

[[params]]
name = "label"
type = "str"
default = "hello"
max_length = 200
help = "any text"
"""


PROBE_TEMPLATE = '''\
"""Echo a label given at render time."""

# the label: {{ p.label }}
LABEL = {{ p.label }}
LABELS = [{{ p.label }}, "fixed"]


def main():
    message = f"label={LABEL!r}"
    print(message, {{ p.label }})
    assert LABELS[0] == LABEL


if __name__ == "__main__":
    main()
'''


PROBE_FEATURE = """\
name = "str-feature"
kind = "feature"
title = "String feature"
summary = "A feature with a free-form string parameter."

[[params]]
name = "run-name"
type = "str"
default = "baseline"
help = "a name recorded with every epoch"
"""


PROBE_FEATURE_TEMPLATE = """\
{% macro helpers() %}
DEFAULT_RUN_NAME = {{ p.run_name }}
{% endmacro %}

{% macro record() %}
record["run_name"] = args.run_name or DEFAULT_RUN_NAME
{% endmacro %}
"""


class _BlankStrings(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant("") if isinstance(node.value, str) else node


def structure(code: str) -> str:
    """The AST with every string literal emptied: what a value must never change."""
    return ast.dump(_BlankStrings().visit(ast.parse(code)))


def string_constants(code: str) -> set[str]:
    tree = ast.parse(code)
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


STR_JUNK = [j for j in JUNK if j.strip()] + [
    "'''",
    '"""',
    "\\'",
    "x' + str(__import__('os').getcwd()) + '",
    "#",
    "# noqa\nimport os",
    "{{ p }}",
    "{% endmacro %}",
    "}}",
    "{#",
    "\\N{BULLET}",
    "%(prog)s %s",
    "%",
    "\t tab",
]


def probe_recipes(root: Path) -> Catalog:
    """The two probe recipes written under `root`, and the catalog with them."""
    for folder, meta, template, file in [
        ("str-probe", PROBE_SNIPPET, PROBE_TEMPLATE, "snippet.py.j2"),
        ("str-feature", PROBE_FEATURE, PROBE_FEATURE_TEMPLATE, "feature.py.j2"),
    ]:
        (root / folder).mkdir()
        (root / folder / "recipe.toml").write_text(meta)
        (root / folder / file).write_text(template)
    catalog = load_catalog(extra=[root])
    assert not catalog.broken, catalog.broken
    return catalog
