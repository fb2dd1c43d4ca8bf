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
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import DERANDOMIZED
from snippetgen import load_catalog
from snippetgen.codegen.rendering import RenderRequest, plan, render
from snippetgen.errors import UserError
from snippetgen.recipes.datamodel import DATA_SOURCES, DEFAULT_DATA
from snippetgen.recipes.params.parse import (
    FLOAT_LIMIT,
    INT_LIMIT,
    coerce,
    parse_cli_args,
    parse_value,
)
from snippetgen.recipes.params.schema import Param

CATALOG = load_catalog()
RECIPES = [r.name for r in CATALOG]
PARAMS = [(r.name, p) for r in CATALOG for p in r.params]

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


def header_values(code: str, name: str, data: str = DEFAULT_DATA) -> dict[str, Any]:
    """Parse the `snippetgen render ...` command in the header back into typed values."""
    first = code.splitlines()[0]
    assert first.startswith("# Generated by snippetgen ")
    words = shlex.split(first.split(": ", 1)[1])
    setup = plan(RenderRequest(name, data=data), CATALOG).setup.options()  # --data/--model
    assert words[: 3 + len(setup)] == ["snippetgen", "render", name, *setup]
    params = plan(RenderRequest(name, data=data), CATALOG).params
    return parse_cli_args(params, words[3 + len(setup) :], recipe=name)


def _importable(recipe_names: tuple[str, ...]) -> bool:
    for name in recipe_names:
        for module in CATALOG.get(name).requires:
            try:
                if importlib.util.find_spec(module) is None:
                    return False
            except Exception:
                return False
    return True


FEATURES = [r.name for r in CATALOG if r.kind == "feature"]


@pytest.mark.parametrize("name", RECIPES)
def test_every_valid_combination_renders_clean_python(name):
    recipe = CATALOG.get(name)
    sources: tuple[str, ...] = (DEFAULT_DATA,)
    if recipe.kind == "feature":  # each feature starts its draws at another source
        turn = FEATURES.index(name) % len(DATA_SOURCES)
        sources = DATA_SOURCES[turn:] + DATA_SOURCES[:turn]

    def params_for(data: str) -> list[Param]:
        return [p for p in recipe.params if not p.data or data in p.data]

    strategy = st.sampled_from(sources).flatmap(
        lambda data: st.tuples(
            st.just(data),
            st.fixed_dictionaries({p.name: valid_values(p) for p in params_for(data)}),
        )
    )

    @settings(max_examples=examples_for(name), **DERANDOMIZED)
    @given(drawn=strategy)
    def check(drawn: tuple[str, dict[str, Any]]) -> None:
        data, values = drawn
        request = RenderRequest(name, values, data=data)
        base = plan(RenderRequest(name, data=data), CATALOG)
        typed_all = {n: coerce(base.params[n], v) for n, v in {**base.values, **values}.items()}
        past = [
            x
            for x in recipe.limits
            if x.applies(typed_all) and typed_all[x.param] >= x.bound(typed_all)
        ]
        if past:  # a declared limit: the render refuses it (and the script would too)
            with pytest.raises(UserError, match=f"--{past[0].param}"):
                render(request, CATALOG)
            return
        code = render(request, CATALOG)  # raises RecipeBug if a check fails
        assert pyflakes_messages(code) == ""
        typed = {n: coerce(recipe.param(n), v) for n, v in values.items()}
        assert header_values(code, name, data) == typed
        if recipe.kind == "feature" and _importable(base.names):
            namespace: dict[str, Any] = {"__name__": "generated_properties"}
            exec(compile(code, f"<{name}>", "exec"), namespace)
            try:
                args = namespace["parse_args"]([])
            except SystemExit as exc:
                pytest.fail(
                    f"render {name} --data {data} {values} passed the schema, but the script "
                    f"it gives refuses its own defaults (exit {exc.code}); the render should "
                    "refuse these values"
                )
            for param in params_for(data):
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

    @settings(max_examples=4, **DERANDOMIZED)
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


@pytest.mark.parametrize(
    ("name", "option", "count"), [("str-probe", "label", 25), ("str-feature", "run-name", 4)]
)
def test_str_values_only_ever_become_string_literals(probe_catalog, cli, name, option, count):
    root, catalog = probe_catalog
    param = catalog.get(name).param(option)
    benign = structure(render(RenderRequest(name, {option: "x"}), catalog))

    @settings(max_examples=count, **DERANDOMIZED)
    @given(value=st.sampled_from(STR_JUNK) | st.text(max_size=80))
    def check(value: str) -> None:
        if not accepts(param, value):
            _assert_refused(
                cli(*_cli_args(name, f"--{option}", value), env={"SNIPPETGEN_PATH": str(root)}),
                f"--{option}",
            )
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
@pytest.mark.parametrize(
    ("name", "param"), BUILTIN_STR, ids=[f"{n}--{p.name}" for n, p in BUILTIN_STR]
)
def test_builtin_str_parameters_are_literals(name, param):
    """Two accepted values other than the default give the same code but for string literals."""
    values = valid_values(param).filter(lambda v: v != param.default)

    @settings(max_examples=3, **DERANDOMIZED)
    @given(first=values, second=values)
    def check(first: str, second: str) -> None:
        one = render(RenderRequest(name, {param.name: first}), CATALOG)
        two = render(RenderRequest(name, {param.name: second}), CATALOG)
        assert first in string_constants(one) and second in string_constants(two)
        assert structure(one) == structure(two)

    check()


def test_schema_strategy_covers_the_bounds():
    """The valid-value strategy itself honours exclusive bounds (a guard on this file)."""
    param = Param(
        name="x",
        type="int",
        default=1,
        help="h",
        min=0,
        max=3,
        min_exclusive=True,
        max_exclusive=True,
    )
    assert _int_bounds(param) == (1, 2)
    assert structure("a = 'x'\n") == structure("a = 'y'\n") != structure("a = y\n")


# --- every other channel from outside into generated files -------------------------------------
#
# Folder names, the echoed command line, answers-file values and recipe metadata reach
# generated files only through snippetgen.codegen.quoting (or are refused with one sentence). Each
# test below feeds one channel text holding every character that can end a line for some
# reader (Python's tokenizer, str.splitlines, black), quotes, triple quotes, backslashes,
# shell and template syntax, and checks the files that come out.

LINE_BREAKERS = [
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
]
NASTY = st.sampled_from(
    LINE_BREAKERS
    + [
        "\t",
        "\x00",
        "\x7f",
        "\ufeff",
        "\u200b",
        "\xa0",
        "\u3000",
        "\udcff",
        '"',
        "'",
        '"""',
        "'''",
        "\\",
        "#",
        "$(",
        "`",
        ";",
        "|",
        "&",
        "{{",
        "}}",
        "{%",
        "%}",
        "é",
        "名",
        "🙂",
        " ",
    ]
)
# Text of any kind (hypothesis' characters exclude lone surrogates; NASTY adds one).
hostile_text = st.lists(st.one_of(NASTY, st.characters()), max_size=40).map("".join)
# A folder name a file system accepts: no "/" or NUL, not "." or "..".
folder_names = st.lists(
    st.one_of(
        NASTY.filter(lambda c: "\x00" not in c),
        st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
    ),
    min_size=1,
    max_size=16,
).map(lambda parts: "p" + "".join(parts))
HOSTILE_FOLDERS = [
    "x\nimport os; os.system('touch PWNED')\n#",
    "x\r__import__('os')",
    '"""',
    "a'b\"c",
    "back\\slash",
    "sep\u2028line",
    "fs\x1cgs\x1drs\x1e",
    "nel\x85",
    "ff\x0cvt\x0b",
    "bytes\udcff\udc80",
    "trailing ",
    "-starts-with-dash",
    "$(id)`id`",
    "名前 プロジェクト",
]


def _one_printable_line(text: str) -> bool:
    return text.isprintable() and text.splitlines() == [text]


@settings(max_examples=200, **DERANDOMIZED)
@given(text=hostile_text)
def test_a_comment_is_one_line_for_every_reader(text):
    import tokenize

    from snippetgen.codegen.quoting import comment

    line = comment(text)
    assert _one_printable_line(line)
    source = f"{line}\nx = 1\n"
    comments = [
        t.string
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type == tokenize.COMMENT
    ]
    assert comments == [line]
    assert ast.dump(ast.parse(source)) == ast.dump(ast.parse("x = 1\n"))


@settings(max_examples=200, **DERANDOMIZED)
@given(text=hostile_text)
def test_a_docstring_literal_is_exact_and_black_keeps_it(text):
    from snippetgen.codegen.codecheck import verify
    from snippetgen.codegen.quoting import docstring

    tree = ast.parse(docstring(text))
    assert len(tree.body) == 1 and tree.body[0].value.value == text  # type: ignore[attr-defined]
    # as the scaffold uses it: a title line (stripped) inside a sentence of its own
    title = (text.splitlines() or [""])[0].strip() or "Train a model."
    source = docstring(f"{title.rstrip('.')}: generated by snippetgen 1.0.") + "\n"
    assert verify(source) == source  # black leaves it as it is: same text, same AST
    multi = docstring(f"{title}\n\nRun it with `python -m pkg`.\n") + "\n"
    assert verify(multi) == multi


@settings(max_examples=200, **DERANDOMIZED)
@given(text=hostile_text)
def test_a_toml_string_round_trips(text):
    import tomllib

    from snippetgen.codegen.quoting import toml_string

    value = toml_string(text)
    assert _one_printable_line(value)
    expected = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    assert tomllib.loads(f"key = {value}\n")["key"] == expected


@settings(max_examples=40, **DERANDOMIZED)
@given(name=folder_names)
def test_a_shell_word_reads_back_as_the_same_bytes_in_bash(name):
    import shutil
    import subprocess

    from snippetgen.codegen.quoting import shell_word

    if shutil.which("bash") is None:
        pytest.skip("no bash")
    word = shell_word(name)
    assert _one_printable_line(word)
    out = subprocess.run(
        ["bash", "-c", f"printf %s {word}"], capture_output=True, check=True
    ).stdout
    assert out == name.encode("utf-8", "surrogateescape")


@settings(max_examples=12, **DERANDOMIZED)
@given(command=hostile_text.filter(bool))
def test_the_echoed_command_stays_in_its_comment_line(command):
    """render(..., command=TEXT), the library's way to set the header: any text at all."""
    from snippetgen import __version__
    from snippetgen.codegen.quoting import comment

    benign = render(RenderRequest("one-hot"), CATALOG, command="snippetgen render one-hot")
    code = render(RenderRequest("one-hot"), CATALOG, command=command)
    lines = code.split("\n")
    # black trims a comment's trailing spaces, and nothing else
    assert lines[0] == comment(f"Generated by snippetgen {__version__}: {command}").rstrip()
    assert _one_printable_line(lines[0])
    assert lines[1:] == benign.split("\n")[1:]


@settings(max_examples=60, **DERANDOMIZED)
@given(name=folder_names)
def test_a_folder_name_gives_a_safe_package_name_or_one_sentence(name):
    import keyword
    import sys

    from snippetgen.project.scaffold import ScaffoldError, package_name

    try:
        package = package_name(Path("/tmp") / name)
    except ScaffoldError as exc:
        assert _one_printable_line(str(exc))
        return
    assert package.isidentifier() and package.isascii() and not keyword.iskeyword(package)
    assert package not in sys.stdlib_module_names


@pytest.fixture(scope="module")
def benign_project(tmp_path_factory):
    from snippetgen.project.scaffold import build_project

    return build_project(
        CATALOG, tmp_path_factory.mktemp("b") / "benign", with_=["checkpoint"], package="proj"
    )


def _check_project_against(project, benign, name: str) -> None:
    import tomllib

    from snippetgen.codegen.quoting import escape

    assert project.files.keys() == benign.files.keys()
    for path, text in project.files.items():
        reference = benign.files[path]
        path = path.removeprefix(".snippetgen/pristine/")  # `update`'s copy: the same rules
        if path.endswith(".py"):
            ast.parse(text)
            lines, expected = text.split("\n"), reference.split("\n")
            if lines[0].startswith("# Generated by snippetgen"):  # the header: one comment line
                assert _one_printable_line(lines[0]) and lines[0].count("\n") == 0
                lines, expected = lines[1:], expected[1:]
            assert lines == expected, path  # nothing else differs
        elif path.endswith(".toml"):
            assert tomllib.loads(text) == tomllib.loads(reference), path
        elif path == "README.md":
            assert text.split("\n")[0] == "# " + escape(name)
            assert len(text.split("\n")) == len(reference.split("\n"))
        else:
            assert text == reference, path


@pytest.mark.parametrize("name", HOSTILE_FOLDERS, ids=range(len(HOSTILE_FOLDERS)))
def test_hostile_folder_names_change_only_the_header_comment(benign_project, tmp_path, name):
    from snippetgen.project.scaffold import build_project

    project = build_project(CATALOG, tmp_path / name, with_=["checkpoint"], package="proj")
    _check_project_against(project, benign_project, name)


def test_random_folder_names_change_only_the_header_comment(benign_project, tmp_path):
    from snippetgen.project.scaffold import build_project

    @settings(max_examples=4, **DERANDOMIZED)
    @given(name=folder_names)
    def check(name: str) -> None:
        project = build_project(CATALOG, tmp_path / name, with_=["checkpoint"], package="proj")
        _check_project_against(project, benign_project, name)

    check()


def test_answers_values_round_trip_and_stay_literals(probe_catalog, tmp_path):
    """A free-form str value travels: command line -> answers file -> a re-created project."""
    from snippetgen.project.scaffold import ANSWERS_FILE, build_project, read_answers

    _, catalog = probe_catalog
    param = catalog.get("str-feature").param("run-name")
    benign = build_project(
        catalog, tmp_path / "same", with_=["str-feature"], package="proj", params={"run-name": "x"}
    )

    @settings(max_examples=4, **DERANDOMIZED)
    @given(value=(st.sampled_from(STR_JUNK) | hostile_text).filter(lambda v: accepts(param, v)))
    def check(value: str) -> None:
        project = build_project(
            catalog,
            tmp_path / "same",
            with_=["str-feature"],
            package="proj",
            params={"run-name": value},
        )
        for path, text in project.files.items():
            if path.endswith(".py"):
                assert structure(text) == structure(benign.files[path]), path
        answers_path = tmp_path / f"answers-{abs(hash(value))}.toml"
        answers_path.write_text(project.files[ANSWERS_FILE], encoding="utf-8")
        answers = read_answers(answers_path)
        assert answers.params["run-name"] == value
        again = build_project(catalog, tmp_path / "same", answers=answers)
        assert again.files == project.files

    check()


@settings(max_examples=150, **DERANDOMIZED)
@given(
    text=hostile_text
    | st.sampled_from(
        [
            'package = "x"\n[params]\nlr = "0.1\nimport os"\n',
            "recipes = [[[[[]]]]]\n",
            "a = " + "[" * 5000,
            'recipes = ["mixup"]\n[params]\nlr = 1979-05-27\n',
            "\ufeffpackage = 'x'\n",
            "[params\n",
        ]
    )
)
def test_any_answers_file_is_read_or_refused_in_one_sentence(tmp_path_factory, text):
    from snippetgen.project.scaffold import ScaffoldError, read_answers

    path = tmp_path_factory.mktemp("answers") / "answers.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))  # lone surrogates: invalid UTF-8
    try:
        read_answers(path)
    except ScaffoldError as exc:
        assert _one_printable_line(str(exc)), str(exc)


CHOICE_FEATURE = """\
name = "meta-probe"
kind = "feature"
title = {title}
summary = {summary}
tags = [{tag}]
aliases = [{alias}]

[[params]]
name = "mode"
type = "choice"
choices = [{choice}, "plain"]
default = "plain"
help = {help}
"""
CHOICE_TEMPLATE = """\
{% macro helpers() %}
MODE = {{ p.mode }}
{% endmacro %}
"""


def test_recipe_metadata_reaches_code_only_as_literals_or_is_refused(tmp_path_factory):
    """Titles, summaries, tags, aliases, choices and help texts of a user recipe: a recipe
    holding a line break or control character is skipped with one sentence; any other text
    leaves the rendered program as it is but for its string literals."""
    from snippetgen.codegen.quoting import toml_string

    def catalog_for(**fields: str):
        root = tmp_path_factory.mktemp("meta")
        folder = root / "meta-probe"
        folder.mkdir()
        (folder / "recipe.toml").write_text(
            CHOICE_FEATURE.format(**{k: toml_string(v) for k, v in fields.items()}),
            encoding="utf-8",
        )
        (folder / "feature.py.j2").write_text(CHOICE_TEMPLATE)
        return load_catalog(extra=[root])

    plain = {"title": "T", "summary": "S.", "tag": "t", "alias": "a", "choice": "c", "help": "h"}
    benign = structure(render(RenderRequest("meta-probe"), catalog_for(**plain)))

    @settings(max_examples=8, **DERANDOMIZED)
    @given(
        field=st.sampled_from(sorted(plain)),
        value=(hostile_text | st.sampled_from(STR_JUNK)).filter(
            lambda v: v.strip() and "\ud800" > max(v)
        ),
    )
    def check(field: str, value: str) -> None:
        catalog = catalog_for(**{**plain, field: value})
        if "meta-probe" not in catalog.recipes:
            assert len(catalog.broken) == 1
            assert _one_printable_line(str(catalog.broken[0])), str(catalog.broken[0])
            assert (
                not value.isprintable()
                or len(value) > 200
                or field == "choice"
                and value == "plain"
            )
            return
        assert value.isprintable()
        code = render(
            RenderRequest("meta-probe", {"mode": value} if field == "choice" else {}), catalog
        )
        assert structure(code) == benign
        assert pyflakes_messages(code) == ""

    check()
