"""Renders come out of Jinja already in black's style, so a render runs black once, not twice.

Not a correctness property (every render is formatted and checked either way) but the cost of
a cold render: black leaves its own output unchanged, and `format_source` skips the stability
pass and the AST comparison only then. These tests keep the built-in templates that way, and
prove the literals and argparse layouts snippetgen writes are the ones black would write.
"""

from __future__ import annotations

import ast
import itertools

import black
import pytest
from hypothesis import given
from hypothesis import strategies as st

from snippetgen import load_catalog
from snippetgen.codegen.codecheck import format_source
from snippetgen.codegen.rendering import RenderRequest, make_header, plan
from snippetgen.codegen.templating import render_source
from snippetgen.errors import UserError
from snippetgen.recipes.datamodel import DATA_SOURCES
from snippetgen.recipes.params.code import call_lines
from snippetgen.recipes.params.literal import py_literal

CATALOG = load_catalog()
FEATURES = sorted(r.name for r in CATALOG.features() if r.name != "train")
MODE = black.Mode(target_versions={black.TargetVersion.PY310}, line_length=88)


def raw_render(
    name: str,
    with_: tuple[str, ...] = (),
    params: dict | None = None,
    data: str = "synthetic",
    model: str = "small-cnn",
) -> str:
    plan_ = plan(RenderRequest(name, params or {}, with_, data, model), CATALOG)
    return render_source(plan_, make_header(plan_, "snippetgen render test"))


@pytest.mark.parametrize("name", sorted(r.name for r in CATALOG))
def test_every_default_render_is_already_black(name):
    source = raw_render(name)
    assert black.format_str(source, mode=MODE) == source


def test_every_compatible_pair_and_all_features_at_once_are_already_black():
    compatible: list[str] = []
    for a, b in itertools.combinations(FEATURES, 2):
        try:
            source = raw_render(a, (b,))
        except UserError:
            continue
        assert black.format_str(source, mode=MODE) == source, (a, b)
    for name in FEATURES:
        try:
            plan(RenderRequest("train", {}, (*compatible, name)), CATALOG)
        except UserError:
            continue
        compatible.append(name)
    source = raw_render("train", tuple(compatible))
    assert black.format_str(source, mode=MODE) == source


@pytest.mark.parametrize("data", DATA_SOURCES)
def test_every_data_source_alone_and_with_all_features_is_already_black(data):
    for model in ("small-cnn", "mlp"):
        source = raw_render("train", data=data, model=model)
        assert black.format_str(source, mode=MODE) == source, (data, model)
    compatible: list[str] = []
    for name in FEATURES:
        try:
            plan(RenderRequest("train", {}, (*compatible, name), data), CATALOG)
        except UserError:
            continue
        compatible.append(name)
    source = raw_render("train", tuple(compatible), data=data)
    assert black.format_str(source, mode=MODE) == source, (data, compatible)


def test_lr_schedule_choices_and_list_parameters_are_already_black():
    source = raw_render("lr-schedule", params={"kind": "multistep", "milestones": [2, 4, 8]})
    assert black.format_str(source, mode=MODE) == source


def test_a_render_black_must_change_is_still_formatted_and_checked():
    source = "x = {'a':1}\n"
    assert format_source(source) == 'x = {"a": 1}\n'


@given(
    st.one_of(
        st.text(max_size=40),
        st.lists(st.text(max_size=8), max_size=4),
        st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4),
        st.integers(),
        st.booleans(),
        st.none(),
    )
)
def test_literals_round_trip_and_are_what_black_writes(value):
    text = py_literal(value)
    assert ast.literal_eval(text) == value
    line = f"x = {text}\n"
    if len(line) <= 80 and "\\" not in text:  # black leaves long lines and escapes to us
        assert black.format_str(line, mode=MODE) == line


@pytest.mark.parametrize("count", [1, 3, 6, 12])
def test_argparse_layouts_match_black(count):
    args = [f'"--option-{i}"' if i == 0 else f"value_{i}={i}" for i in range(count)]
    code = (
        "def f(parser):\n"
        + "\n".join("    " + ln for ln in call_lines("parser.add_argument", args, 4))
        + "\n"
    )
    assert black.format_str(code, mode=MODE) == code


@pytest.mark.parametrize("name", sorted(r.name for r in CATALOG))
def test_tidying_empty_slots_never_changes_the_program(name, monkeypatch):
    from snippetgen.codegen import templating

    tidy = templating._tidy
    monkeypatch.setattr(templating, "_tidy", lambda body: body)
    untidied = raw_render(name)
    assert ast.dump(ast.parse(tidy(untidied))) == ast.dump(ast.parse(untidied))
