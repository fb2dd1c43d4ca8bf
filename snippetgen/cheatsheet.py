"""The text of ``snippetgen show``: a cheat sheet for one recipe."""

from __future__ import annotations

import textwrap

from snippetgen.catalog import Catalog
from snippetgen.paramcode import cli_text
from snippetgen.recipe import Recipe


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, width=88, initial_indent=indent, subsequent_indent=indent)


def essential_code(recipe: Recipe) -> str:
    """The recipe's own lines: its template, without Jinja tags."""
    name = "feature.py.j2" if recipe.kind == "feature" else "snippet.py.j2"
    path = recipe.path / name
    if recipe.name == "train" or not path.is_file():
        return ""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith(("{%", "{#")):
            continue
        lines.append(line)
    return textwrap.dedent("\n".join(lines)).strip("\n")


def cheatsheet(recipe: Recipe, catalog: Catalog, *, color: bool = False) -> str:
    out = [f"{recipe.name} ({recipe.kind}): {recipe.title}", "", _wrap(recipe.summary)]
    if recipe.when:
        out += ["", "When to use it:", _wrap(recipe.when)]
    if recipe.params:
        out += ["", "Parameters:"]
        for p in recipe.params:
            rng = p.range_text()
            out.append(
                f"  --{p.name} ({p.type}, default {cli_text(p, p.default)}"
                + (f", {rng}" if rng else "")
                + f"): {p.help}"
            )
    if recipe.pitfalls:
        out += ["", "Pitfalls:"]
        out += [_wrap(f"- {pit}", "  ").replace("  - ", "  - ", 1) for pit in recipe.pitfalls]
    if recipe.requires:
        out += ["", f"Requires: {', '.join(recipe.requires)}"]
    if recipe.conflicts:
        out += ["", "Does not combine with:"]
        out += [f"  {c.recipe}: {c.why}" for c in recipe.conflicts]
    if recipe.related:
        out += ["", f"Related: {', '.join(recipe.related)}"]
    code = essential_code(recipe)
    if code:
        if color:
            from snippetgen.output import highlight

            code = highlight(code)
        out += ["", "Essential code:", textwrap.indent(code, "    ")]
    usage = f"snippetgen render {recipe.name}" if recipe.kind == "snippet" else (
        f"snippetgen render {recipe.name}  (or: snippetgen render train --with {recipe.name})"
    )
    out += ["", f"Render it: {usage}"]
    return "\n".join(out).rstrip() + "\n"
