"""The command line: a thin Typer layer over the library API.

Every command runs inside :func:`_guard`, which turns snippetgen errors into one
sentence on stderr and an exit code (2 for bad input), and Ctrl-C into exit 130.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from snippetgen.catalog import Catalog, load_catalog
from snippetgen.errors import OverwriteError, SnippetgenError, UserError
from snippetgen.output import Color, atomic_write, highlight, use_color

app = typer.Typer(
    name="snippetgen",
    help="Look up PyTorch training recipes and render them into runnable scripts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])


def err(message: str) -> None:
    typer.echo(message, err=True)


def _guard(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except SnippetgenError as exc:
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _catalog() -> Catalog:
    catalog = load_catalog()
    for problem in catalog.broken:
        err(f"warning: skipped: {problem}")
    return catalog


def _emit(text: str, color: Color, *, code: bool = False) -> None:
    if code and use_color(color):
        text = highlight(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command("list")
@_guard
def list_recipes(
    tag: Annotated[str | None, typer.Option("--tag", help="only recipes with this tag")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """List every recipe: name, kind, summary and tags."""
    recipes = [r for r in _catalog() if tag is None or tag in r.tags]
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in recipes], indent=2, ensure_ascii=False))
        return
    if not recipes:
        err(f"No recipe has the tag {tag!r}." if tag else "No recipes found.")
        return
    width = max(len(r.name) for r in recipes)
    for r in recipes:
        extra = f"  [needs {', '.join(r.requires)}]" if r.requires else ""
        typer.echo(f"{r.name:<{width}}  {r.kind:<7}  {r.summary}  ({', '.join(r.tags)}){extra}")


@app.command()
@_guard
def search(
    query: Annotated[list[str], typer.Argument(help="words to look for (English or Chinese)")],
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="at most this many results")] = 5,
) -> None:
    """Find recipes by name, alias, tag and description, best match first."""
    from snippetgen.lookup import search as run_search

    text = " ".join(query)
    hits = run_search(_catalog(), text, limit=limit)
    if as_json:
        rows = [{"name": h.recipe.name, "score": round(h.score, 3), "kind": h.recipe.kind,
                 "summary": h.recipe.summary} for h in hits]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not hits:
        err(f"No recipe matches {text!r}; run 'snippetgen list' to see them all.")
        return
    width = max(len(h.recipe.name) for h in hits)
    for h in hits:
        typer.echo(f"{h.recipe.name:<{width}}  {h.recipe.summary}")


@app.command()
@_guard
def show(
    recipe: Annotated[str, typer.Argument(help="recipe name")],
    color: Annotated[Color, typer.Option("--color", help="colour the code")] = Color.auto,
) -> None:
    """Explain a recipe: what, when, pitfalls, parameters and the essential code."""
    from snippetgen.cheatsheet import cheatsheet

    catalog = _catalog()
    # not typer.echo: it strips colour codes whenever stdout is not a terminal (--color always)
    _emit(cheatsheet(catalog.get(recipe), catalog, color=use_color(color)), color)


def _render_help(recipe_name: str) -> str:
    from snippetgen.render import RenderRequest, plan

    catalog = load_catalog()
    recipe = catalog.get(recipe_name)
    resolved = plan(RenderRequest(recipe.name), catalog)
    lines = [
        f"Usage: snippetgen render {recipe.name} [--PARAM VALUE ...]"
        + (" [--with RECIPE ...]" if recipe.kind == "feature" else "")
        + " [-o FILE [--force]] [--color auto|always|never]",
        "",
        f"  {recipe.title}: {recipe.summary}",
        "",
        "Parameters (become the generated script's argparse defaults):"
        if recipe.kind == "feature"
        else "Parameters (become constants of the generated script):",
    ]
    for name, param in resolved.params.items():
        from snippetgen.paramcode import cli_text

        rng = param.range_text()
        owner = resolved.owners[name]
        lines.append(
            f"  {param.option} {param.type.upper()}"
            f"  {param.help}; default {cli_text(param, resolved.values[name])}"
            + (f"; {rng}" if rng else "")
            + (f"  [{owner}]" if owner != recipe.name else "")
        )
    return "\n".join(lines) + "\n"


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
@_guard
def render(
    ctx: typer.Context,
    recipe: Annotated[str | None, typer.Argument(help="recipe to render")] = None,
    with_: Annotated[
        list[str] | None, typer.Option("--with", help="add another feature (repeatable)")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write to FILE instead of stdout")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing -o FILE")] = False,
    color: Annotated[Color, typer.Option("--color", help="highlight the code")] = Color.auto,
    show_help: Annotated[bool, typer.Option("--help", "-h", help="show parameters")] = False,
) -> None:
    """Render a recipe into a runnable script: render RECIPE [--PARAM V ...] [--with R ...]."""
    from snippetgen.params import parse_cli_args
    from snippetgen.render import RenderRequest, plan
    from snippetgen.render import render as run_render

    if recipe is None or recipe.startswith("-"):
        if show_help or recipe is None:
            typer.echo(ctx.get_help())
            return
    assert recipe is not None
    if show_help:
        typer.echo(_render_help(recipe), nl=False)
        return
    catalog = _catalog()
    base = plan(RenderRequest(recipe, with_=with_ or []), catalog)
    values = parse_cli_args(base.params, list(ctx.args), recipe=base.target.name)
    if output is not None and output.exists() and not force:
        raise OverwriteError(path=str(output))
    if output is not None and not output.parent.is_dir():
        raise UserError(f"Cannot write {output}: folder {output.parent} does not exist.")
    if output is not None and output.is_dir():
        raise UserError(f"Cannot write {output}: it is a folder; give a file name.")
    command = base.command(values, with_ or [])
    code = run_render(RenderRequest(recipe, values, with_ or []), catalog, command=command)
    if output is None:
        _emit(code, color, code=True)
        return
    try:
        atomic_write(output, code)
    except OSError as exc:
        raise UserError(f"Cannot write {output}: {exc.strerror or exc}.") from None
    err(f"wrote {output}")


def main() -> None:
    app()
