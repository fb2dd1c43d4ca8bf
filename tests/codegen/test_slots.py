"""One slot table (snippetgen.codegen.slots) drives the skeleton, `show` and the docs.

- the docs' slot table is the table, and the skeleton uses every slot of it and no other,
  an expression slot inside the statement `show` puts its code in;
- a feature filling every slot with multi-line code renders into a script that parses, each
  slot's code at the indentation of the line it stands on (nested `with`/`if` included);
- a skeleton that gives explicit columns (as written before slots took them from their
  line) renders the same script.
"""

from __future__ import annotations

import ast
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from jinja2 import Environment, nodes

from helpers import ROOT
from snippetgen.codegen.rendering import RenderRequest, make_header, plan
from snippetgen.codegen.slots import SLOTS, markdown_table
from snippetgen.codegen.templating import render_source
from snippetgen.errors import RecipeBug
from snippetgen.lookup import cheatsheet
from snippetgen.recipes.catalog import load_catalog

SKELETON = ROOT / "templates" / "train" / "feature.py.j2"
DOCS = ROOT / "docs" / "writing-recipes.md"
KINDS = {"multi", "single", "expression"}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    """No torch here: conftest's torch set-up would only cost time."""


def _calls(text: str, function: str) -> list[str]:
    """The slot names the skeleton passes to `function` (slot or provides), as Jinja reads it."""
    tree = Environment().parse(text)
    return [
        call.args[0].value
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Name)
        and call.node.name == function
        and call.args
        and isinstance(call.args[0], nodes.Const)
    ]


def test_every_slot_is_described():
    for slot in SLOTS.values():
        assert slot.kind in KINDS, slot
        assert slot.place.strip() and slot.what.strip(), slot
        assert bool(slot.statement) == (slot.kind == "expression"), slot
        assert "|" not in slot.place + slot.what, slot  # a cell of the docs' markdown table


def test_docs_slot_table_is_the_slot_table():
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- slot table:[^\n]*-->\n(.*?)<!-- end of slot table -->", text, re.S)
    assert found, "docs/writing-recipes.md lost its slot table markers"
    assert found[1] == markdown_table(), (
        "docs/writing-recipes.md's slot table is stale: paste `python -m snippetgen.codegen.slots`"
    )
    for name in SLOTS:
        assert f"| `{name}` |" in found[1]


def test_skeleton_uses_every_slot_and_only_declared_ones():
    text = SKELETON.read_text(encoding="utf-8")
    used = _calls(text, "slot")
    assert set(used) == set(SLOTS), (
        f"missing from the skeleton: {sorted(set(SLOTS) - set(used))}; "
        f"undeclared: {sorted(set(used) - set(SLOTS))}"
    )
    assert set(_calls(text, "provides")) <= set(SLOTS)


def test_expression_slots_stand_in_the_statement_show_prints():
    text = SKELETON.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if "slot(" in line]
    for name, slot in SLOTS.items():
        mine = [line for line in lines if f'slot("{name}")' in line]
        if slot.kind == "expression":
            wanted = slot.statement.splitlines()[0].format(code=f'{{{{ slot("{name}") }}}}')
            assert mine and set(mine) == {wanted}, name
        else:  # a statement slot stands alone on its line, maybe with a default body
            assert set(mine) <= {f'{{{{ slot("{name}") }}}}', f'{{% call slot("{name}") %}}'}, mine


def _filler(name: str) -> str:
    """Two-line code for a slot: its second line 4 columns in from its first, tagged."""
    if SLOTS[name].kind == "expression":
        return f"(  # slot {name}\n    nullcontext()\n)"
    if name == "imports":
        return f"from os import (  # slot {name}\n    sep,\n)"
    if name == "helpers":
        return f"def slot_helper():  # slot {name}\n    return sep"
    if name.endswith("_kwargs"):
        return f"timeout=(  # slot {name}\n    0\n),"
    tail = "\nreturn None" if name == "scheduler" else ""
    return f"if True:  # slot {name}\n    pass{tail}"


@pytest.fixture()
def every_slot(tmp_path: Path) -> Path:
    """A user feature that fills every slot."""
    folder = tmp_path / "every-slot"
    folder.mkdir()
    (folder / "recipe.toml").write_text(
        textwrap.dedent("""\
        name = "every-slot"
        kind = "feature"
        title = "Every slot"
        summary = "Test helper: fills every slot of the training script."
        order = 99
    """)
    )
    macros = "".join(
        f"{{% macro {name}() %}}\n{_filler(name)}\n{{% endmacro %}}\n\n" for name in SLOTS
    )
    (folder / "feature.py.j2").write_text(macros)
    return tmp_path


def _raw(root: Path | None, name: str) -> str:
    catalog = load_catalog([root] if root else None)
    resolved = plan(RenderRequest(name), catalog)
    return render_source(resolved, make_header(resolved, "snippetgen render test"))


def test_each_slot_takes_the_indentation_of_its_line(every_slot):
    source = _raw(every_slot, "every-slot")
    ast.parse(source)
    lines = source.splitlines()
    for name in SLOTS:
        at = [i for i, line in enumerate(lines) if line.endswith(f"# slot {name}")]
        assert len(at) == 1, (name, at)
        first, second = lines[at[0]], lines[at[0] + 1]
        column = len(first) - len(first.lstrip())
        assert second == " " * (column + 4) + second.strip(), (name, first, second)
    # nested: the loss under autocast under the no-sync context, the optimizer step under `if`
    assert "            with (  # slot sync_context" in lines
    assert "                with (  # slot autocast" in lines
    assert "                    if True:  # slot loss" in lines
    assert "                if True:  # slot optimizer_step" in lines


def test_show_labels_a_slot_with_its_place_and_statement(every_slot):
    recipe = load_catalog([every_slot]).get("every-slot")
    shown = cheatsheet.essential_code(recipe)
    for name, slot in SLOTS.items():
        if name != "imports":
            assert f"# [{name}] {slot.place}" in shown, name
    assert "with (  # slot autocast" in shown and "if (  # slot step_condition" in shown


def test_skeleton_with_explicit_columns_renders_the_same(tmp_path):
    """`slot("loss", 16)` (a copy of the skeleton made before slots took their line's
    indentation) still gives the same code."""
    shutil.copytree(SKELETON.parent, tmp_path / "train")
    for name in ("mixup", "amp", "grad-accumulation", "lr-schedule"):
        shutil.copytree(ROOT / "templates" / name, tmp_path / name)
    copy = tmp_path / "train" / "feature.py.j2"
    text = copy.read_text(encoding="utf-8")
    # outside the `filter indent` blocks, a slot's column is the line's template column
    explicit = re.sub(
        r'(?m)^( *)\{\{ (slot\("(?:imports|helpers|arguments|validate|model|setup|finish|'
        r'record|epoch_end|eval_batch|eval_result|loader_kwargs)")\) \}\}$',
        lambda m: f"{m[1]}{{{{ {m[2]}, {len(m[1])}) }}}}",
        text,
    )
    explicit = explicit.replace("{{ arguments() }}", "{{ arguments(4) }}")
    assert explicit.count(", ") > text.count(", ") + 10
    copy.write_text(explicit, encoding="utf-8")
    for name in ("mixup", "lr-schedule", "amp"):
        assert _raw(tmp_path, name) == _raw(None, name), name


def test_a_default_body_on_an_expression_slot_is_a_recipe_bug(tmp_path):
    shutil.copytree(SKELETON.parent, tmp_path / "train")
    copy = tmp_path / "train" / "feature.py.j2"
    copy.write_text(
        copy.read_text().replace(
            '{{ slot("batch") }}', '{% call slot("autocast") %}\npass\n{% endcall %}'
        )
    )
    with pytest.raises(RecipeBug, match="holds an expression and has no default body"):
        _raw(tmp_path, "train")
