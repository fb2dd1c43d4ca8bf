"""`snippetgen show`: the cheat sheet, its Jinja-free essential code, and the LR curves.

- The essential code `show` prints (read without Jinja) is exactly what Jinja renders for
  the same macros and parameter values, for every built-in recipe.
- The learning-rate curves (pure Python, no torch) equal torch's own schedulers, and the
  LR a rendered warmup / lr-schedule script logs per epoch.
"""

from __future__ import annotations

import ast
import re
import textwrap

import pytest

from snippetgen.codegen.rendering import RenderRequest, plan
from snippetgen.codegen.template_env import make_env
from snippetgen.codegen.template_text import expand, macros, structure_problems
from snippetgen.codegen.templating import _context
from snippetgen.lookup.cheatsheet import CODE_LINES, cheatsheet, essential_code, key_code
from snippetgen.lookup.condense import Block, condense, join
from snippetgen.recipes.catalog import load_catalog
from snippetgen.recipes.params.code import cli_text

CATALOG = load_catalog()
RECIPES = sorted(CATALOG.recipes)
FEATURES = [r.name for r in CATALOG.features() if r.name != "train"]
SNIPPETS = [r.name for r in CATALOG if r.kind == "snippet"]
ANSI = "\x1b["


def flat(text: str) -> str:
    return "".join(text.split())


def need(name: str) -> None:
    if name not in CATALOG.recipes:
        pytest.skip(f"recipe {name} not built yet")


# --- the cheat sheet --------------------------------------------------------------------------


@pytest.mark.parametrize("name", RECIPES)
def test_cheat_sheet_has_every_part_and_no_template_syntax(name):
    recipe = CATALOG.get(name)
    text = cheatsheet(recipe, CATALOG)
    assert text.startswith(f"{name} ({recipe.kind}): {recipe.title}")
    assert flat(recipe.summary) in flat(text)
    for pitfall in recipe.pitfalls:
        assert flat(pitfall) in flat(text), pitfall
    table = text.split("Parameters (")[1].split("\n\n")[0] if recipe.params else ""
    for param in recipe.params:
        row = next(line for line in table.splitlines() if line.startswith(f"  {param.option} "))
        assert cli_text(param, param.default) in row.split()
        assert flat(param.range_text()) in flat(text)
    for other in recipe.related:
        assert re.search(rf"^  {re.escape(other)}\b", text, re.M), other
    for conflict in recipe.conflicts:
        assert f"{conflict.recipe}: " in text
    if recipe.requires:
        assert "Requires: " + ", ".join(recipe.requires) in text
    assert not re.search(r"\{[%{#]", text), "Jinja syntax leaked into the cheat sheet"
    assert f"snippetgen render {name}" in text


@pytest.mark.parametrize("name", RECIPES)
def test_docs_name_what_they_refer_to(name):
    """A pitfall names the code it is about, not a source the reader has not seen."""
    recipe = CATALOG.get(name)
    for text in [*recipe.pitfalls, recipe.notes, recipe.when]:
        assert not re.search(r"\bcookbook", text, re.I), text


def test_mixup_reads_like_a_cheat_sheet(cli):
    code, out, err = cli("show", "mixup", "--color", "never")
    assert code == 0 and err == ""
    order = [
        "When to use it:",
        "Parameters",
        "Pitfalls:",
        "Related:",
        "Essential code:",
        "Render it:",
    ]
    positions = [out.index(heading) for heading in order]
    assert positions == sorted(positions)
    alpha = next(line for line in out.splitlines() if line.startswith("  --alpha "))
    assert "float" in alpha and "0.2" in alpha and "0 < x <= 100" in alpha
    assert "label-smoothing" in out and "# [batch]" in out and "def mix_batch(" in out
    assert "inputs, targets_b, lam = mix_batch(inputs, targets, args.alpha)" in out


def test_essential_code_is_the_features_own_lines_not_the_script(cli):
    code, out, _ = cli("show", "mixup", "--color", "never")
    essential = out.split("Essential code:")[1]
    assert "def main(" not in essential and "def build_model(" not in essential
    assert "import " not in essential  # mixup's essential slots hold no imports


def test_parameter_values_given_to_show_enter_the_code(tmp_path, cli):
    code, out, _ = cli("show", "one-hot", "--num-classes", "7", "--color", "never")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("  --num-classes "))
    assert " 7 " in row
    code, out, err = cli("show", "mixup", "--alpha", "0")
    assert code == 2 and out == "" and "--alpha" in err and len(err.splitlines()) == 1


def test_colour_only_when_asked(cli):
    code, out, _ = cli("show", "mixup", "--color", "always")
    assert code == 0 and ANSI in out.split("Essential code:")[1]
    code, out, _ = cli("show", "mixup", "--color", "never")
    assert ANSI not in out


@pytest.mark.parametrize("name", SNIPPETS)
def test_snippet_shows_its_functions_not_main(name):
    recipe = CATALOG.get(name)
    code = essential_code(recipe)
    if "def " not in code:
        pytest.skip(f"{name} has no functions besides its script body")
    compile(textwrap.dedent(code), name, "exec")  # whole top-level definitions
    defined = re.findall(r"^(?:def|class) (\w+)", code, re.M)
    assert defined and ("main" not in defined or defined == ["main"])


# --- the key lines: at most CODE_LINES of code, the rest in `render` ---------------------------


def _code_part(sheet: str) -> tuple[str, list[str]]:
    """The heading of the cheat sheet's code section and its lines (up to 'Render it:')."""
    if "\nEssential code" not in sheet:
        return "", []
    section = sheet.split("\nEssential code", 1)[1].split("\nRender it:", 1)[0]
    heading, *lines = section.strip("\n").splitlines()
    return heading, lines


@pytest.mark.parametrize("name", RECIPES)
def test_cheat_sheet_code_is_the_key_lines_and_valid_python(name):
    recipe = CATALOG.get(name)
    sheet = cheatsheet(recipe, CATALOG)
    heading, lines = _code_part(sheet)
    code = [line for line in lines if line.startswith("    ") or not line]
    assert len(code) <= CODE_LINES, f"{name}: {len(code)} lines of code"
    full = essential_code(recipe)
    shown, trimmed = key_code(recipe)
    assert ast.parse(shown)  # every shortening keeps valid Python
    if trimmed:
        assert heading == " (its key lines):"
        assert lines[-1] == f"  full code: snippetgen render {name}"
        assert len(full.splitlines()) > CODE_LINES
    else:
        nonblank = [line for line in full.splitlines() if line.strip()]
        assert [line for line in shown.splitlines() if line.strip()] == nonblank
        assert heading in (":", "")
        assert "full code:" not in sheet


def test_show_checkpoint_is_a_cheat_sheet_not_the_script(cli):
    code, out, err = cli("show", "checkpoint", "--color", "never")
    assert code == 0 and err == ""
    _, lines = _code_part(out)
    assert len(lines) <= CODE_LINES + 1 and len(out.splitlines()) <= 110
    text = "\n".join(lines)
    for key in [
        "def load_checkpoint(",
        "def make_checkpoint(",
        "load_checkpoint(",
        "make_checkpoint(stateful, epoch + 1, best_acc, args)",
        'atomic_save(checkpoint, output_dir / "last.pt")',
        'atomic_save(checkpoint, output_dir / "best.pt")',
    ]:
        assert key in text, key
    assert lines[-1] == "  full code: snippetgen render checkpoint"
    assert max(len(line) for line in out.splitlines() if not line.startswith("    ")) <= 88


LONG = '''\
def helper(path, stateful):
    """Load things.

    A long description
    over several lines.
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        fail(
            f"cannot resume: the checkpoint {path} does not exist; "
            "check the path"
        )
    for name, obj in stateful.items():
        obj.load_state_dict(checkpoint[name])
    return checkpoint


def other(a):
    return a
'''


def test_condense_goes_step_by_step_and_stops_at_the_budget():
    blocks = [Block(LONG, "# [helpers]"), Block("x = helper(\n    p,\n    s,\n)\ny = 1", "# [use]")]
    full = len(join(blocks).splitlines())
    seen = []
    for budget in range(full, 0, -1):
        short, changed = condense(blocks, budget)
        text = join(short)
        assert changed == (budget < full)
        for block in short:
            ast.parse(block.code)
        seen.append(text)
        if len(text.splitlines()) > budget:  # nothing left to shorten
            assert "def helper(path, stateful): ..." in text
            break
    # the first steps: the split call is joined (the same statement), two blank lines
    # become one, the docstring keeps its first line, the message loses its arguments
    assert any("x = helper(p, s)" in t and '"""Load things."""' not in t for t in seen)
    assert any('"""Load things."""' in t and "fail(...)" not in t for t in seen)
    assert any("fail(...)" in t and "obj.load_state_dict" in t for t in seen)
    # `helper` is called by the other block: `other` becomes a stub first
    assert any("def other(a): ..." in t and "def helper(path, stateful):\n" in t for t in seen)


def test_a_join_is_the_same_statement_or_none():
    code = 'value = call(\n    "a",\n    key=[\n        1,\n    ],\n)'
    short, _ = condense([Block(code)], 1)
    assert short[0].code == 'value = call("a", key=[1])'
    assert ast.dump(ast.parse(short[0].code)) == ast.dump(ast.parse(code))
    strings = 'value = call(\n    "a long message "\n    "in two parts"\n)'
    short, _ = condense([Block(strings)], 1)
    assert '"a long message " "in two parts"' not in short[0].code
    commented = "value = call(\n    1,  # why\n    2,\n)"
    short, _ = condense([Block(commented)], 1)
    assert "# why" in short[0].code or short[0].code.strip() == "..."


# --- essential code without Jinja == Jinja ----------------------------------------------------


def _jinja_module(name: str, values: dict | None = None):
    resolved = plan(RenderRequest(name, values or {}), CATALOG)
    env = make_env({r.name: r.path for r in resolved.recipes})
    context = _context(resolved)
    return resolved, env, context


def _python_values(resolved) -> dict:
    return {resolved.params[n].dest: v for n, v in resolved.values.items()}


@pytest.mark.parametrize("name", FEATURES)
def test_feature_macros_read_without_jinja_equal_jinja(name):
    resolved, env, context = _jinja_module(name)
    template = env.get_template(f"{name}/feature.py.j2")
    module = template.make_module(context)
    text = (CATALOG.get(name).path / "feature.py.j2").read_text()
    assert structure_problems(text) == []
    found = macros(text)
    assert {m.name for m in found} == {a for a in dir(module) if not a.startswith("_")}
    for macro in found:
        ours = textwrap.dedent(expand(macro.body, _python_values(resolved), resolved.names))
        theirs = textwrap.dedent(str(getattr(module, macro.name)()))
        assert ours.strip("\n") == theirs.strip("\n"), macro.name


@pytest.mark.parametrize("name", FEATURES)
def test_essential_slots_exist_in_the_template(name):
    recipe = CATALOG.get(name)
    defined = {m.name for m in macros((recipe.path / "feature.py.j2").read_text())}
    assert recipe.essential, f"{name}: recipe.toml should list its essential slots"
    assert set(recipe.essential) <= defined, set(recipe.essential) - defined
    shown = essential_code(recipe)
    for slot in recipe.essential:
        if f"# [{slot}]" not in shown:  # only a slot that renders to nothing may be missing
            body = next(
                m.body
                for m in macros((recipe.path / "feature.py.j2").read_text())
                if m.name == slot
            )
            assert not expand(body, {p.dest: p.default for p in recipe.params}).strip()


@pytest.mark.parametrize("name", SNIPPETS)
def test_snippet_templates_read_without_jinja_equal_jinja(name):
    resolved, env, context = _jinja_module(name)
    theirs = env.get_template(f"{name}/snippet.py.j2").render(context)
    text = (CATALOG.get(name).path / "snippet.py.j2").read_text()
    assert expand(text, _python_values(resolved), resolved.names) == theirs


def test_conditions_pick_the_branch_jinja_would():
    text = textwrap.dedent("""\
        {% macro batch() %}
        {% if p.kind == "step" %}
        a = {{ p.size }}
        {% elif p.kind in ["cos", "lin"] and not has("amp") %}
        b = {{ p.kind }}
        {% else %}
        c = 1
        {% endif %}
        d = {{ unknown_name }}
        {% endmacro %}
    """)
    (body,) = [m.body for m in macros(text)]
    assert expand(body, {"kind": "step", "size": 3}).split() == [
        "a",
        "=",
        "3",
        "d",
        "=",
        "unknown_name",
    ]
    assert expand(body, {"kind": "cos", "size": 3}).split()[:3] == ["b", "=", '"cos"']
    assert expand(body, {"kind": "cos", "size": 3}, ["amp"]).split()[:3] == ["c", "=", "1"]
    assert structure_problems("{% if x %}\n") and structure_problems("{% endfor %}")
