"""Property-based tests (hypothesis) over every recipe's parameter schema.

Generic over the catalog, so a new recipe is covered the day it lands:

- every valid combination of values renders clean Python (the render checks pass and
  pyflakes is silent), the header's command parses back to the same values, and a
  feature's values become the generated script's argparse defaults;
- every junk value (empty, whitespace, non-finite, huge, unicode digits, quotes,
  backslashes, newlines, Jinja, Python, shell, very long) is refused through the CLI with
  exit 2, one sentence naming the parameter and nothing on stdout;
- no value changes the structure of the generated code: an accepted str value reaches the
  code only as a string literal (the AST with every string blanked out is unchanged).

Examples are few per recipe and derandomized (renders cost ~0.05 s for a snippet, ~0.5 s
for the training script), so the file stays well under a minute.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import math
import shlex
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from snippetgen import load_catalog
from snippetgen.errors import UserError
from snippetgen.params import FLOAT_LIMIT, INT_LIMIT, coerce, parse_cli_args, parse_value
from snippetgen.recipe import Param
from snippetgen.rendering import RenderRequest, plan, render

CATALOG = load_catalog()
RECIPES = [r.name for r in CATALOG]
PARAMS = [(r.name, p) for r in CATALOG for p in r.params]

# Values that no int, float, bool, choice or list parameter may accept.
JUNK = [
    "", " ", "\t", "   \n ",
    "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "-1e999", "1e308", "-1e308",
    "9" * 30, "99999999999999999999", "-99999999999999999999",
    "١٢", "٣.٥", "１２", "١,٢",  # Arabic-Indic and full-width digits
    "'", '"', "'''", "'; import os; '", '"); __import__("os").system("id"); ("',
    "\\", "\\n", "C:\\temp\\x", "a\nb", "\n", "\r\n", "1\n2", "\x00", "\u2028",
    "{{ 7*7 }}", "{% for x in range(9) %}x{% endfor %}", "{{ ''.__class__.__mro__ }}",
    "__import__(\"os\")", "eval('1')", "lambda: 0", "[1, 2]", "(1)", "1 + 1", "1/2",
    "$(rm -rf /)", "`id`", "; rm -rf ~", "| cat /etc/passwd", "../../etc/passwd",
    "0x10", "0b11", "1_000", "1e", ".", "+", "1,", ",1", "1,,2", "🙂",
    "x" * 5000, "1" * 5000,
]

SETTINGS = {
    "derandomize": True,  # the same examples on every run
    "database": None,  # write no .hypothesis folder
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    # no shrinking: a failure is reported as found (shrinking re-renders for minutes)
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
}


def pyflakes_messages(code: str) -> str:
    from pyflakes.api import check
    from pyflakes.reporter import Reporter

    out, err = io.StringIO(), io.StringIO()
    check(code, "<render>", Reporter(out, err))
    return out.getvalue() + err.getvalue()


def accepts(param: Param, value: Any) -> bool:
    try:
        coerce(param, value)
    except UserError:
        return False
    return True


def _int_bounds(param: Param) -> tuple[int, int]:
    lo, hi = -INT_LIMIT, INT_LIMIT
    if param.min is not None:
        lo = math.ceil(param.min)
        if param.min_exclusive and lo == param.min:
            lo += 1
    if param.max is not None:
        hi = math.floor(param.max)
        if param.max_exclusive and hi == param.max:
            hi -= 1
    return max(lo, -INT_LIMIT), min(hi, INT_LIMIT)


def valid_values(param: Param) -> st.SearchStrategy[Any]:
    """Every value the schema allows (and only those: each is checked against coerce)."""
    kind = param.type
    if kind == "bool":
        return st.booleans()
    if kind == "choice":
        return st.sampled_from(param.choices)
    if kind in ("int", "int_list"):
        lo, hi = _int_bounds(param)
        element: st.SearchStrategy[Any] = st.integers(lo, hi)
    elif kind in ("float", "float_list"):
        element = st.floats(
            min_value=-FLOAT_LIMIT if param.min is None else max(param.min, -FLOAT_LIMIT),
            max_value=FLOAT_LIMIT if param.max is None else min(param.max, FLOAT_LIMIT),
            exclude_min=param.min is not None and param.min_exclusive,
            exclude_max=param.max is not None and param.max_exclusive,
            allow_nan=False,
            allow_infinity=False,
        )
    elif param.pattern:
        element = st.from_regex(param.pattern, fullmatch=True)
    else:
        element = st.text(min_size=1, max_size=min(param.max_length, 60))
    if kind.endswith("_list"):
        return st.lists(element, min_size=1, max_size=4).filter(lambda v: accepts(param, v))
    return element.filter(lambda v: accepts(param, v))


def examples_for(name: str) -> int:
    recipe = CATALOG.get(name)
    if not recipe.params:
        return 1
    return 3 if recipe.kind == "snippet" or name == "train" else 2


def header_values(code: str, name: str) -> dict[str, Any]:
    """Parse the `snippetgen render ...` command in the header back into typed values."""
    first = code.splitlines()[0]
    assert first.startswith("# Generated by snippetgen ")
    words = shlex.split(first.split(": ", 1)[1])
    assert words[:3] == ["snippetgen", "render", name]
    return parse_cli_args(plan(RenderRequest(name), CATALOG).params, words[3:], recipe=name)


def _importable(recipe_names: tuple[str, ...]) -> bool:
    for name in recipe_names:
        for module in CATALOG.get(name).requires:
            try:
                if importlib.util.find_spec(module) is None:
                    return False
            except Exception:
                return False
    return True


@pytest.mark.parametrize("name", RECIPES)
def test_every_valid_combination_renders_clean_python(name):
    recipe = CATALOG.get(name)
    strategy = st.fixed_dictionaries({p.name: valid_values(p) for p in recipe.params})

    @settings(max_examples=examples_for(name), **SETTINGS)
    @given(values=strategy)
    def check(values: dict[str, Any]) -> None:
        code = render(RenderRequest(name, values), CATALOG)  # raises RecipeBug if a check fails
        assert pyflakes_messages(code) == ""
        typed = {n: coerce(recipe.param(n), v) for n, v in values.items()}
        assert header_values(code, name) == typed
        if recipe.kind == "feature" and _importable(plan(RenderRequest(name), CATALOG).names):
            namespace: dict[str, Any] = {"__name__": "generated_properties"}
            exec(compile(code, f"<{name}>", "exec"), namespace)
            try:
                args = namespace["parse_args"]([])
            except SystemExit as exc:
                pytest.fail(
                    f"render {name} {values} passed the schema, but the script it gives refuses "
                    f"its own defaults (exit {exc.code}); the render should refuse these values"
                )
            for param in recipe.params:
                assert getattr(args, param.dest) == typed[param.name], param.name

    check()


@pytest.mark.parametrize(("name", "param"), PARAMS, ids=[f"{n}--{p.name}" for n, p in PARAMS])
def test_every_junk_value_is_refused_naming_the_parameter(name, param):
    """The parser the CLI uses, over the whole junk list: refused with exit code 2."""
    for junk in JUNK:
        try:
            value = parse_value(param, junk)
        except UserError as exc:
            message = str(exc)
            assert exc.exit_code == 2
            assert f"--{param.name}" in message and "\n" not in message, message
            assert len(message) < 300, message
            continue
        # only a free-form string parameter may take it, and then unchanged
        assert param.type == "str", f"{name} --{param.name} accepted {junk!r} as {value!r}"
        assert value == junk


def _cli_args(name: str, option: str, value: str) -> list[str]:
    if value.startswith("-"):  # would read as an option; --name=value is unambiguous
        return ["render", name, f"{option}={value}"]
    return ["render", name, option, value]


def _assert_refused(result: tuple[int, str, str], option: str) -> None:
    code, out, err = result
    lines = [ln for ln in err.splitlines() if not ln.startswith("warning: skipped:")]
    assert code == 2, (code, err)
    assert out == ""
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert option in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", [r.name for r in CATALOG if r.params])
def test_junk_through_the_cli_exits_2_with_one_sentence(name, cli):
    recipe = CATALOG.get(name)

    @settings(max_examples=4, **SETTINGS)
    @given(param=st.sampled_from(recipe.params), junk=st.sampled_from(JUNK) | st.text(max_size=40))
    def check(param: Param, junk: str) -> None:
        result = cli(*_cli_args(name, param.option, junk))
        try:
            expected = parse_value(param, junk)
        except UserError:
            _assert_refused(result, param.option)
            return
        assert junk not in JUNK or param.type == "str"
        code, out, _ = result
        assert code == 0 and expected is not None
        ast.parse(out)

    check()


def test_missing_and_unknown_options_name_the_option(cli):
    _assert_refused(cli("render", "train", "--lr"), "--lr")
    _assert_refused(cli("render", "train", "--lr", "0.1", "--bogus", "1"), "--bogus")
    _assert_refused(cli("render", "train", "stray"), "stray")


# --- str values: literals only ---------------------------------------------------------------

PROBE_SNIPPET = '''\
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
'''

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

PROBE_FEATURE = '''\
name = "str-feature"
kind = "feature"
title = "String feature"
summary = "A feature with a free-form string parameter."

[[params]]
name = "run-name"
type = "str"
default = "baseline"
help = "a name recorded with every epoch"
'''

PROBE_FEATURE_TEMPLATE = '''\
{% macro helpers() %}
DEFAULT_RUN_NAME = {{ p.run_name }}
{% endmacro %}

{% macro record() %}
record["run_name"] = args.run_name or DEFAULT_RUN_NAME
{% endmacro %}
'''


@pytest.fixture(scope="module")
def probe_catalog(tmp_path_factory):
    root = tmp_path_factory.mktemp("user-recipes")
    for folder, meta, template, file in [
        ("str-probe", PROBE_SNIPPET, PROBE_TEMPLATE, "snippet.py.j2"),
        ("str-feature", PROBE_FEATURE, PROBE_FEATURE_TEMPLATE, "feature.py.j2"),
    ]:
        (root / folder).mkdir()
        (root / folder / "recipe.toml").write_text(meta)
        (root / folder / file).write_text(template)
    catalog = load_catalog(extra=[root])
    assert not catalog.broken, catalog.broken
    return root, catalog


class _BlankStrings(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant("") if isinstance(node.value, str) else node


def structure(code: str) -> str:
    """The AST with every string literal emptied: what a value must never change."""
    return ast.dump(_BlankStrings().visit(ast.parse(code)))


def string_constants(code: str) -> set[str]:
    tree = ast.parse(code)
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


STR_JUNK = [j for j in JUNK if j.strip()] + [
    "'''", '"""', "\\'", "x' + str(__import__('os').getcwd()) + '", "#", "# noqa\nimport os",
    "{{ p }}", "{% endmacro %}", "}}", "{#", "\\N{BULLET}", "%(prog)s %s", "%", "\t tab",
]


@pytest.mark.parametrize(("name", "option", "count"), [("str-probe", "label", 25), ("str-feature", "run-name", 4)])
def test_str_values_only_ever_become_string_literals(probe_catalog, cli, name, option, count):
    root, catalog = probe_catalog
    param = catalog.get(name).param(option)
    benign = structure(render(RenderRequest(name, {option: "x"}), catalog))

    @settings(max_examples=count, **SETTINGS)
    @given(value=st.sampled_from(STR_JUNK) | st.text(max_size=80))
    def check(value: str) -> None:
        if not accepts(param, value):
            _assert_refused(cli(*_cli_args(name, f"--{option}", value),
                                env={"SNIPPETGEN_PATH": str(root)}), f"--{option}")
            return
        code = render(RenderRequest(name, {option: value}), catalog)
        assert value in string_constants(code)  # it arrived intact, as a string
        assert structure(code) == benign  # and changed nothing else
        assert pyflakes_messages(code) == ""

    check()


def test_jinja_in_a_value_is_not_evaluated(probe_catalog):
    _, catalog = probe_catalog
    code = render(RenderRequest("str-probe", {"label": "{{ 7*7 }}"}), catalog)
    assert "{{ 7*7 }}" in string_constants(code) and "49" not in code
    namespace: dict[str, Any] = {"__name__": "probe"}
    exec(compile(code, "<probe>", "exec"), namespace)
    assert namespace["LABEL"] == "{{ 7*7 }}"


BUILTIN_STR = [(n, p) for n, p in PARAMS if p.type == "str"]


@pytest.mark.skipif(not BUILTIN_STR, reason="no built-in recipe declares a str parameter")
@pytest.mark.parametrize(("name", "param"), BUILTIN_STR, ids=[f"{n}--{p.name}" for n, p in BUILTIN_STR])
def test_builtin_str_parameters_are_literals(name, param):
    """Two accepted values other than the default give the same code but for string literals."""
    values = valid_values(param).filter(lambda v: v != param.default)

    @settings(max_examples=3, **SETTINGS)
    @given(first=values, second=values)
    def check(first: str, second: str) -> None:
        one = render(RenderRequest(name, {param.name: first}), CATALOG)
        two = render(RenderRequest(name, {param.name: second}), CATALOG)
        assert first in string_constants(one) and second in string_constants(two)
        assert structure(one) == structure(two)

    check()


def test_schema_strategy_covers_the_bounds():
    """The valid-value strategy itself honours exclusive bounds (a guard on this file)."""
    param = Param(name="x", type="int", default=1, help="h", min=0, max=3, min_exclusive=True,
                  max_exclusive=True)
    assert _int_bounds(param) == (1, 2)
    assert structure("a = 'x'\n") == structure("a = 'y'\n") != structure("a = y\n")
