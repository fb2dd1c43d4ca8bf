"""The look-up commands: list, search, show."""

import json
from typing import Annotated

import typer

from snippetgen.cli.base import RECIPE_ARGS, app, emit, err, guard, load_recipes, wrapped_rows
from snippetgen.completion import RecipeCommand, complete_recipe
from snippetgen.errors import UserError
from snippetgen.output import Color, use_color
from snippetgen.recipes.catalog import Catalog
from snippetgen.recipes.recipe import BUILT_IN, Recipe


@app.command("list")
@guard
def list_recipes(
    tag: Annotated[str | None, typer.Option("--tag", help="only recipes with this tag")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """List every recipe: name, kind, summary and tags (on a terminal, wrapped to its width)."""
    catalog = load_recipes()
    recipes = [r for r in catalog if tag is None or tag in r.tags]
    if tag is not None and not recipes:
        raise _no_such_tag(tag, catalog)
    if as_json:
        rows = [
            {**r.to_json(), "overrides": [str(o.path) for o in catalog.overridden.get(r.name, [])]}
            for r in recipes
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not recipes:
        err("No recipes found.")
        return
    width = max(len(r.name) for r in recipes)
    lines = [
        (
            f"{r.name:<{width}}  {r.kind:<7}  ",
            f"{r.summary}  ({', '.join(r.tags)}){_notes(r, catalog)}",
        )
        for r in recipes
    ]
    emit(wrapped_rows(lines), Color.never)


def _no_such_tag(tag: str, catalog: Catalog) -> UserError:
    from snippetgen.errors import closest

    near = closest(tag.lower(), {t for r in catalog for t in r.tags})
    hint = f" Did you mean {' or '.join(repr(t) for t in near)}?" if near else ""
    return UserError(
        f"No recipe has the tag {tag!r}.{hint} Run 'snippetgen list' to see every recipe's tags."
    )


def _notes(recipe: Recipe, catalog: Catalog) -> str:
    """What a listed recipe needs, and where it comes from when it is not built in."""
    extra = f"  [needs {', '.join(recipe.requires)}]" if recipe.requires else ""
    if recipe.source != BUILT_IN:
        overrides = " overriding the built-in" if recipe.name in catalog.overridden else ""
        extra += f"  [yours: {recipe.path}{overrides}]"
    return extra


@app.command()
@guard
def search(
    query: Annotated[list[str], typer.Argument(help="words to look for (English or Chinese)")],
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="at most this many results")] = 5,
) -> None:
    """Find recipes by name, alias, tag and description, best match first."""
    from snippetgen.lookup.search import search as run_search

    text = " ".join(query)
    hits = run_search(load_recipes(), text, limit=limit)
    if not hits:
        err(f"No recipe matches {text!r}; run 'snippetgen list' to see them all.")
    if as_json:
        rows = [
            {
                "name": h.recipe.name,
                "score": round(h.score, 3),
                "kind": h.recipe.kind,
                "summary": h.recipe.summary,
            }
            for h in hits
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not hits:
        return
    width = max(len(h.recipe.name) for h in hits)
    typer.echo(wrapped_rows([(f"{h.recipe.name:<{width}}  ", h.recipe.summary) for h in hits]))


@app.command(cls=RecipeCommand, context_settings=RECIPE_ARGS)
@guard
def show(
    ctx: typer.Context,
    recipe: Annotated[str, typer.Argument(help="recipe name", autocompletion=complete_recipe)],
    color: Annotated[Color, typer.Option("--color", help="colour the code")] = Color.auto,
) -> None:
    """Explain a recipe: what, when, pitfalls, parameters and the essential code.

    Parameters given as --NAME VALUE are shown in the code (and, for warmup and
    lr-schedule, in the learning-rate curve): show warmup --warmup-epochs 3 --epochs 20.
    """
    from snippetgen.codegen.rendering import RenderRequest, plan
    from snippetgen.lookup.cheatsheet import cheatsheet

    catalog = load_recipes(quiet=[recipe])
    found = catalog.get(recipe)
    values = plan(RenderRequest(found.name, args=list(ctx.args)), catalog).values
    # not typer.echo: it strips colour codes whenever stdout is not a terminal (--color always)
    emit(cheatsheet(found, catalog, color=use_color(color), values=values), color)
