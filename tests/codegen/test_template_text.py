"""The Jinja subset of snippetgen.codegen.template_text gives Jinja's own text.

`show` prints a recipe's essential code without importing Jinja: template_text reads the
templates itself (a feature's slot macros, a snippet's whole script). These tests render
the same parts with the real Jinja environment of a render (sandboxed, StrictUndefined,
literal finalisation) and compare the text:

- every built-in recipe in the catalog (new recipes are covered without editing this file),
  at its defaults, at every value of each `choice` parameter and with each `bool` flipped;
- every macro of a feature, not only those `show` prints, and `show`'s essential code as a
  whole (so the values and feature names `show` passes are checked too);
- small templates written for the constructs of the subset, including ones the built-in
  recipes do not use today.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snippetgen.codegen.rendering import Plan, RenderRequest, plan
from snippetgen.codegen.template_env import Code, make_env
from snippetgen.codegen.template_text import expand, macros, structure_problems
from snippetgen.codegen.templating import _context
from snippetgen.lookup import cheatsheet
from snippetgen.recipes.catalog import BASE_RECIPE, load_catalog
from snippetgen.recipes.datamodel import DEFAULT_DATA
from snippetgen.recipes.recipe import Recipe, template_file

CATALOG = load_catalog()


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    """No torch here: conftest's torch set-up would double this file's time."""


def _settings(recipe: Recipe) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parameter values to compare at (by parameter name): the defaults, each choice, each
    bool flipped, for the recipe's own parameters and (for a feature) the skeleton's."""
    yield "defaults", {}
    params = list(recipe.params)
    if recipe.kind == "feature" and recipe.name != BASE_RECIPE:
        params += CATALOG.base.params
    for param in params:
        if param.data and DEFAULT_DATA not in param.data:
            continue  # not in a render for the default data source
        if param.type == "choice":
            for choice in param.choices:
                yield f"{param.name}={choice}", {param.name: choice}
        elif param.type == "bool":
            yield f"{param.name}={not param.default}", {param.name: not param.default}


# The base recipe is the skeleton itself: `show train` prints no code, and its slot calls
# only make sense inside a render.
CASES = [
    pytest.param(recipe.name, values, id=f"{recipe.name}[{label}]")
    for recipe in CATALOG
    if recipe.name != BASE_RECIPE
    for label, values in _settings(recipe)
]


@functools.cache
def _environment(name: str) -> Any:
    """One Jinja environment per recipe: its compiled templates are reused across settings."""
    resolved = plan(RenderRequest(name), CATALOG)
    return make_env({r.name: r.path for r in resolved.recipes})


def _jinja_expander(recipe: Recipe, resolved: Plan) -> Callable[..., str]:
    """An `expand` that answers with what Jinja renders for the recipe's template (a whole
    snippet, or a feature's macro: the one whose body `show` asks for), with the context of
    a real render of these values; the values and features `show` passes are ignored."""
    template = _environment(recipe.name).get_template(f"{recipe.name}/{template_file(recipe.kind)}")
    context = _context(resolved)
    text = (recipe.path / template_file(recipe.kind)).read_text(encoding="utf-8")
    if recipe.kind == "snippet":
        rendered = template.render(context)

        def expand_snippet(source: str, values: Any, features: Sequence[str] = ()) -> str:
            assert source == text
            return rendered

        return expand_snippet
    module = template.make_module(context)
    by_body = {m.body: m.name for m in macros(text)}

    def expand_macro(source: str, values: Any, features: Sequence[str] = ()) -> str:
        return str(getattr(module, by_body[source])())

    return expand_macro


def _python_values(resolved: Plan) -> dict[str, Any]:
    return {resolved.params[n].dest: v for n, v in resolved.values.items()}


@pytest.mark.parametrize(("name", "given"), CASES)
def test_show_code_is_what_jinja_renders(name, given, monkeypatch):
    """`show`'s essential code, read without Jinja, equals the same code rendered by Jinja."""
    recipe = CATALOG.get(name)
    resolved = plan(RenderRequest(name, given), CATALOG)
    values = {**resolved.values, **given}  # what `show --NAME VALUE` passes
    ours = cheatsheet.essential_code(recipe, values)

    calls = []
    jinja_expand = _jinja_expander(recipe, resolved)

    def recording(*args: Any, **kwargs: Any) -> str:
        calls.append(args)
        return jinja_expand(*args, **kwargs)

    monkeypatch.setattr(cheatsheet, "expand", recording)
    theirs = cheatsheet.essential_code(recipe, values)
    assert calls, "show no longer reads templates through template_text.expand"
    assert ours == theirs


@pytest.mark.parametrize(("name", "given"), CASES)
def test_every_macro_and_script_is_what_jinja_renders(name, given):
    """Each feature macro (as the skeleton's slot() inserts it: dedented, without leading or
    trailing blank lines) and each snippet script (exactly) as Jinja renders it."""
    recipe = CATALOG.get(name)
    resolved = plan(RenderRequest(name, given), CATALOG)
    text = (recipe.path / template_file(recipe.kind)).read_text(encoding="utf-8")
    assert structure_problems(text) == []
    template = _environment(name).get_template(f"{name}/{template_file(recipe.kind)}")
    context = _context(resolved)
    values = _python_values(resolved)
    if recipe.kind == "snippet":
        assert expand(text, values, resolved.names) == template.render(context)
        return
    module = template.make_module(context)
    found = macros(text)
    names = [m.name for m in found]
    assert sorted(names) == sorted(a for a in dir(module) if not a.startswith("_"))
    for macro in found:
        ours = textwrap.dedent(expand(macro.body, values, resolved.names)).strip("\n")
        theirs = textwrap.dedent(str(getattr(module, macro.name)())).strip("\n")
        assert ours == theirs, macro.name


# --- the subset, on generated templates --------------------------------------------------------
#
# Templates built from the constructs template_text claims to read (if/elif/else, comments,
# {{ expressions }}, whitespace control, text with indentation and line breaks), rendered by a
# real environment and by template_text: the texts must be equal, character for character.
# Expressions are limited to those Jinja evaluates without an error (no 1 < "a"): on an error
# Jinja stops while template_text keeps the bare expression, by design.

VALUES = {"a": 3, "b": "step", "c": True, "n": 0, "l": [1, 2], "s": "true"}
FEATURES = ["train", "amp"]

_ATOMS = [
    "p.a",
    "p.n",
    'p["b"]',
    "p.c",
    "p.l",
    "p.s",
    "1",
    "0",
    "-2",
    "2.5",
    '"step"',
    '"true"',
    '"it\'s"',
    "true",
    "false",
    "none",
    "True",
    "features",
    'has("amp")',
    'has("ema")',
    'ident("model")',
    "feature_list",
    "-p.a",
    "+p.n",
]
_CONTAINERS = ["[1, 3]", "p.l", "features", '["step", 3]']
_FORMS = [  # each bracketed, so that any nesting is valid syntax
    "(not {0})",
    "({0} and {1})",
    "({0} or {1})",
    "({0} == {1})",
    "({0} != {1})",
    "({0} in {2})",
    "({0} not in {2})",
    "[{0}, {1}]",
    "({0}, {1})",
    "({0},)",
    "({0} if {1} else {3})",  # Jinja refuses it unbracketed in {% if %}
]


def _expressions(depth: int) -> st.SearchStrategy[str]:
    atoms = st.sampled_from(_ATOMS)
    if depth == 0:
        return atoms
    inner = _expressions(depth - 1)
    compound = st.builds(
        str.format, st.sampled_from(_FORMS), inner, inner, st.sampled_from(_CONTAINERS), inner
    )
    return st.one_of(atoms, compound)


_EXPRESSION = _expressions(2)
_SPACE = st.sampled_from(["", " ", "  ", "\t", "\n", "\n  ", "  \n", "\n\n", "\r\n"])
_TEXT = st.sampled_from(["x = 1", "y", "# note", " ", "    ", "\n", "\n    ", "\r\n", "\n\n"])
_SIGN = st.sampled_from(["", "-", "+"])
_VARIABLE_SIGN = st.sampled_from(["", "-"])
_PADDING = st.sampled_from([" ", "  "])


def _statement(body: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A block tag, after some whitespace, with any whitespace control."""
    return st.builds("{}{{%{}{}{}{}{}%}}".format, _SPACE, _SIGN, _PADDING, body, _PADDING, _SIGN)


_VARIABLE = st.builds(
    "{}{{{{{} {} {}}}}}".format, _SPACE, _VARIABLE_SIGN, _EXPRESSION, _VARIABLE_SIGN
)
_COMMENT = st.builds("{}{{#{} a\nnote {}#}}".format, _SPACE, _SIGN, _SIGN)
_IF = _statement(_EXPRESSION.map("if {}".format))
_ELIF = _statement(_EXPRESSION.map("elif {}".format))
_ELSE = _statement(st.just("else"))
_ENDIF = _statement(st.just("endif"))


def _templates(depth: int) -> st.SearchStrategy[str]:
    flat = st.one_of(_TEXT, _VARIABLE, _COMMENT)
    if depth > 0:
        inner = _templates(depth - 1)
        branches = st.lists(st.tuples(_ELIF, inner).map("".join), max_size=2).map("".join)
        otherwise = st.one_of(st.just(""), st.tuples(_ELSE, inner).map("".join))
        block = st.tuples(_IF, inner, branches, otherwise, _ENDIF).map("".join)
        flat = st.one_of(flat, block)
    return st.lists(flat, max_size=4).map("".join)


_TEMPLATE = _templates(2)


@functools.cache
def _bare_environment() -> Any:
    return make_env({})


def _bare_context() -> dict[str, Any]:
    return {
        "p": dict(VALUES),
        "features": list(FEATURES),
        "has": FEATURES.__contains__,
        "feature_list": Code(", ".join(FEATURES)),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEMPLATE)
def test_subset_expands_as_jinja_renders(template):
    theirs = _bare_environment().from_string(template).render(_bare_context())
    assert expand(template, VALUES, FEATURES) == theirs


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _templates(1),
    st.sampled_from(["{% macro m() %}\n", "{%- macro m() %}\n", "  {% macro m() -%}"]),
    _TEMPLATE,
    _statement(st.just("endmacro")),
)
def test_macro_bodies_expand_as_jinja_calls_them(before, opening, body, closing):
    template = f"{before}{opening}{body}{closing}"
    (macro,) = macros(template)
    module = _bare_environment().from_string(template).make_module(_bare_context())
    assert expand(macro.body, VALUES, FEATURES) == str(module.m())


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("{{ p.missing }}", "p.missing"),  # an unknown value: the bare expression
        ("{{ p.a | string }}", "p.a | string"),  # filters are not evaluated
        ('{{ ident("for") }}', 'ident("for")'),  # not an identifier: Jinja would refuse it
        ("{% if p.missing %}\na\n{% elif p.c %}\nb\n{% else %}\nc\n{% endif %}\n", "a\nb\nc\n"),
        ("{% if p.c %}\na\n{% elif p.missing %}\nb\n{% endif %}\n", "a\n"),  # not reached
        ("{% for i in p.l %}\n{{ i }}\n{% else %}\nnone\n{% endfor %}\n", "i\nnone\n"),
    ],
)
def test_what_is_not_evaluated_is_shown_whole(template, text):
    assert expand(template, VALUES, FEATURES) == text
