"""The text of ``snippetgen show``: a cheat sheet for one recipe.

What it does and when to use it, its parameters (defaults and ranges), the pitfalls of the
usual copies, related recipes, requirements and conflicts, a learning-rate curve for the
schedule recipes, and the essential code: a feature's own slot code (the macros its
``essential`` key lists), or a snippet's own functions, as plain code for the given
parameter values. No Jinja, black or torch is imported; Pygments only with colour on.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Mapping
from typing import Any

from snippetgen.codegen.codecheck import LINE_LENGTH
from snippetgen.codegen.slots import SLOTS
from snippetgen.codegen.template_text import expand, macros
from snippetgen.lookup.condense import Block, condense, join
from snippetgen.recipes.catalog import BASE_RECIPE, Catalog
from snippetgen.recipes.params.code import cli_text
from snippetgen.recipes.recipe import BUILT_IN, Recipe, template_file

CODE_LINES = 40  # the most lines of code a cheat sheet shows; `render` prints all of it
LR_CURVE_RECIPES = ("warmup", "lr-schedule")


def _wrap(text: str, indent: str = "  ", subsequent: str | None = None) -> str:
    return textwrap.fill(
        " ".join(text.split()),
        width=LINE_LENGTH,
        initial_indent=indent,
        subsequent_indent=indent if subsequent is None else subsequent,
    )


def _hanging(head: str, text: str) -> str:
    """`head` then `text`, wrapped so that continuation lines start under the text."""
    return textwrap.fill(
        " ".join(text.split()),
        width=max(LINE_LENGTH, len(head) + 40),
        initial_indent=head,
        subsequent_indent=" " * len(head),
    )


def _python_values(recipe: Recipe, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameter values by Python name (``warmup_epochs``), as templates see them in ``p``."""
    out = {p.dest: p.default for p in recipe.params}
    for name, value in (values or {}).items():
        out[name.replace("-", "_")] = value
    return out


def _feature_code(recipe: Recipe, text: str, values: dict[str, Any]) -> list[Block]:
    found = {m.name: m for m in macros(text)}
    wanted = list(recipe.essential) or [name for name in found if name != "imports"]
    blocks = []
    features = [BASE_RECIPE, recipe.name]
    for name in wanted:
        macro = found.get(name)
        if macro is None:
            continue
        code = textwrap.dedent(expand(macro.body, values, features)).strip("\n")
        if not code.strip():
            continue
        slot = SLOTS.get(name)
        if slot is not None and slot.statement:  # an expression: shown in its statement
            code = slot.statement.format(code=code.strip())
        blocks.append(Block(code, f"# [{name}] {slot.place if slot else name}"))
    return blocks


_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _chosen_definitions(recipe: Recipe, tree: ast.Module) -> list[_Definition]:
    """A snippet's definitions named in ``essential`` (in that order), else all but main()."""
    defs = [node for node in tree.body if isinstance(node, _Definition)]
    if recipe.essential:
        return [node for name in recipe.essential for node in defs if node.name == name]
    return [node for node in defs if node.name != "main"] or defs


def _snippet_code(
    recipe: Recipe, text: str, values: dict[str, Any]
) -> tuple[list[Block], set[str]]:
    """A snippet's chosen definitions, and the names its other code (main()) uses."""
    source = expand(text, values)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [], set()
    lines = source.splitlines()
    chosen = _chosen_definitions(recipe, tree)
    blocks = []
    for node in chosen:
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        assert node.end_lineno is not None
        blocks.append(Block("\n".join(lines[first - 1 : node.end_lineno])))
    rest = [node for node in tree.body if node not in chosen]
    used = {n.id for node in rest for n in ast.walk(node) if isinstance(n, ast.Name)}
    return blocks, used


def _blocks(recipe: Recipe, values: Mapping[str, Any] | None) -> tuple[list[Block], int, set[str]]:
    """The essential code in blocks, how many blank lines go between them, and the names
    that the code not shown uses."""
    path = recipe.path / template_file(recipe.kind)
    if recipe.name == BASE_RECIPE or not path.is_file():
        return [], 1, set()
    from snippetgen.safefile import FileRefused, read_text

    try:
        text = read_text(path)  # a regular file only
    except FileRefused:
        return [], 1, set()
    python_values = _python_values(recipe, values)
    if recipe.kind == "feature":
        return _feature_code(recipe, text, python_values), 1, set()
    blocks, used = _snippet_code(recipe, text, python_values)
    return blocks, 2, used


def essential_code(recipe: Recipe, values: Mapping[str, Any] | None = None) -> str:
    """The recipe's own lines as plain code: a feature's essential slot code, a snippet's
    functions (those named in ``essential``, else all but ``main``)."""
    blocks, blank_lines, _ = _blocks(recipe, values)
    return join(blocks, blank_lines)


def key_code(
    recipe: Recipe, values: Mapping[str, Any] | None = None, budget: int = CODE_LINES
) -> tuple[str, bool]:
    """The essential code shortened to its key lines (at most `budget` lines; see
    snippetgen.lookup.condense), and whether anything was left out."""
    blocks, blank_lines, used = _blocks(recipe, values)
    if len(join(blocks, blank_lines).splitlines()) > budget:
        blank_lines = 1  # one blank line between a snippet's functions saves a few
    short, changed = condense(blocks, budget, blank_lines, used=used)
    return join(short, blank_lines), changed


def _parameters(recipe: Recipe, values: Mapping[str, Any]) -> list[str]:
    if not recipe.params:
        return []
    rows = [("option", "type", "default", "range", "meaning")]
    for p in recipe.params:
        value = values.get(p.name, p.default)
        rng = "" if p.choices else p.range_text()
        meaning = p.help + (f" ({p.range_text()})" if p.choices else "")
        if p.data:
            meaning += f" [--data {', '.join(p.data)} only]"
        rows.append((p.option, p.type, cli_text(p, value), rng, meaning))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    out = ["", "Parameters (each becomes the generated script's option of the same name):"]
    for row in rows:
        head = "  " + "".join(
            f"{cell:<{width}}  " for cell, width in zip(row, widths, strict=False)
        )
        out.append(_hanging(head, row[4]))
    return out


def _lr_section(recipe: Recipe, values: Mapping[str, Any]) -> list[str]:
    if recipe.name not in LR_CURVE_RECIPES or "lr" not in values or "epochs" not in values:
        return []
    from snippetgen.lookup.lrplot import lr_curve, no_decay_warning, text_plot

    rates, caption = lr_curve(recipe.name, values)
    if rates is None:
        return ["", "Learning rate per epoch:", f"  {caption}"] if caption else []
    first = ", ".join(f"{r:.4g}" for r in rates[:6])
    more = ", ..." if len(rates) > 6 else ""
    warning = no_decay_warning([recipe.name], values)
    return [
        "",
        f"Learning rate per epoch (lr {values['lr']:g}, {len(rates)} epochs; {caption}):",
        textwrap.indent(text_plot(rates), "  "),
        f"  epochs 1-{min(6, len(rates))}: {first}{more}; last: {rates[-1]:.4g}",
        *([_wrap(warning)] if warning else []),
    ]


def _related(recipe: Recipe, catalog: Catalog) -> list[str]:
    if not recipe.related:
        return []
    width = max(len(name) for name in recipe.related)
    out = ["", "Related:"]
    for name in recipe.related:
        other = catalog.recipes.get(name)
        summary = other.summary if other is not None else ""
        out.append(_hanging(f"  {name:<{width}}  ", summary).rstrip())
    return out


def shown_values(
    recipe: Recipe, catalog: Catalog, values: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The values a cheat sheet shows: those given, else the recipe's defaults, and for a
    feature the base recipe's too (as the feature sets them)."""
    shown = dict(values or {})
    for p in recipe.params:
        shown.setdefault(p.name, p.default)
    if recipe.kind == "feature" and recipe.name != BASE_RECIPE and BASE_RECIPE in catalog.recipes:
        for p in catalog.recipes[BASE_RECIPE].params:
            shown.setdefault(p.name, recipe.defaults.get(p.name, p.default))
    return shown


def _header(recipe: Recipe, catalog: Catalog) -> list[str]:
    """Name, title and summary; where a user's recipe comes from; its aliases."""
    out = [f"{recipe.name} ({recipe.kind}): {recipe.title}", "", _wrap(recipe.summary)]
    if recipe.source != BUILT_IN:
        extra = ", overriding the built-in one" if recipe.name in catalog.overridden else ""
        out.append(f"  (your recipe, from {recipe.path}{extra})")
    if recipe.aliases:
        out.append(_wrap("Also known as: " + ", ".join(recipe.aliases)))
    return out


def _cautions(recipe: Recipe) -> list[str]:
    """Pitfalls, notes, requirements and conflicts, each section only when there is one."""
    out: list[str] = []
    if recipe.pitfalls:
        out += ["", "Pitfalls:"]
        out += [_wrap(pitfall, "  - ", "    ") for pitfall in recipe.pitfalls]
    if recipe.notes:
        out += ["", "Notes:", _wrap(recipe.notes)]
    if recipe.requires:
        out += [
            "",
            f"Requires: {', '.join(recipe.requires)} (pip install {' '.join(recipe.requires)})",
        ]
    if recipe.conflicts:
        out += ["", "Does not combine with:"]
        out += [_wrap(f"{c.recipe}: {c.why}", "  ", "    ") for c in recipe.conflicts]
    return out


def _code_section(recipe: Recipe, values: Mapping[str, Any], *, color: bool) -> list[str]:
    code, trimmed = key_code(recipe, values)
    if not code:
        return []
    if color:
        from snippetgen.output import highlight

        code = highlight(code).rstrip("\n")
    heading = "Essential code (its key lines):" if trimmed else "Essential code:"
    out = ["", heading, textwrap.indent(code, "    ")]
    if trimmed:
        out.append(f"  full code: snippetgen render {recipe.name}")
    return out


def _usage(recipe: Recipe) -> list[str]:
    if recipe.kind == "snippet":
        usage = f"snippetgen render {recipe.name} > {recipe.name.replace('-', '_')}.py"
    elif recipe.name == BASE_RECIPE:
        usage = "snippetgen render train > train.py  (add features with --with NAME)"
    else:
        usage = (
            f"snippetgen render {recipe.name} > train.py\n"
            f"  (or with others: snippetgen render train --with {recipe.name} --with ...)"
        )
    return ["", f"Render it: {usage}", f"All options: snippetgen render {recipe.name} --help"]


def cheatsheet(
    recipe: Recipe,
    catalog: Catalog,
    *,
    color: bool = False,
    values: Mapping[str, Any] | None = None,
) -> str:
    """The cheat sheet of `recipe`; `values` (by parameter name) override the defaults shown."""
    shown = shown_values(recipe, catalog, values)
    out = _header(recipe, catalog)
    if recipe.when:
        out += ["", "When to use it:", _wrap(recipe.when)]
    out += _parameters(recipe, shown)
    out += _lr_section(recipe, shown)
    out += _cautions(recipe)
    out += _related(recipe, catalog)
    out += _code_section(recipe, shown, color=color)
    out += _usage(recipe)
    return "\n".join(out).rstrip() + "\n"
