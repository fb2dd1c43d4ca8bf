"""The render command: a script or a notebook, to stdout or -o FILE."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from snippetgen.cli.base import (
    RECIPE_ARGS,
    DataOption,
    ModelOption,
    WithOption,
    app,
    emit,
    err,
    guard,
    load_recipes,
    notebook_format,
)
from snippetgen.completion import RecipeCommand, complete_recipe
from snippetgen.errors import OverwriteError, UserError
from snippetgen.output import Color, atomic_write, check_output
from snippetgen.recipes.datamodel import (
    data_model,
)


def _write_output(output: Path, code: str, *, force: bool) -> None:
    """Write a render to ``-o FILE`` (atomically); a refusal is one sentence."""
    try:
        atomic_write(output, code, overwrite=force)
    except FileExistsError:  # made while rendering
        raise OverwriteError(path=str(output)) from None
    except OSError as exc:  # a full disk, no permission, a name too long, ...
        raise UserError(f"Cannot write {output}: {exc.strerror or exc}.") from None
    err(f"wrote {output}")


def _write_or_print(text: str, output: Path | None, *, force: bool) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        _write_output(output, text, force=force)


@app.command(
    cls=RecipeCommand,
    context_settings=RECIPE_ARGS,
    add_help_option=False,
)
@guard
def render(
    ctx: typer.Context,
    recipe: Annotated[
        str | None, typer.Argument(help="recipe to render", autocompletion=complete_recipe)
    ] = None,
    with_: WithOption = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write to FILE instead of stdout")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace an existing -o FILE (a regular file only)")
    ] = False,
    color: Annotated[Color, typer.Option("--color", help="highlight the code")] = Color.auto,
    data: DataOption = None,
    model: ModelOption = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="py (a script) or ipynb (a notebook); default py, or ipynb for -o FILE.ipynb",
            autocompletion=lambda: ["py", "ipynb"],
        ),
    ] = None,
    show_help: Annotated[bool, typer.Option("--help", "-h", help="show parameters")] = False,
) -> None:
    """Render a recipe into a runnable script: render RECIPE [--PARAM V ...] [--with R ...]."""
    from snippetgen.codegen.rendering import RenderRequest, plan, render_plan

    if recipe is None or recipe.startswith("-"):
        if show_help or recipe is None:
            typer.echo(ctx.get_help())
            return
    assert recipe is not None
    if show_help:
        from snippetgen.renderhelp import render_help

        typer.echo(render_help(recipe, data, model), nl=False)
        return
    from snippetgen.recipes.recipecheck import check_templates

    notebook = notebook_format(fmt, output)
    with_ = with_ or []
    catalog = load_recipes(quiet=[recipe, *with_], only=[recipe, *with_])
    setup = data_model(data, model)
    request = RenderRequest(recipe, {}, with_, setup.data, setup.model, list(ctx.args))
    resolved = plan(request, catalog)  # every value is parsed and checked here, once
    check_templates(resolved.recipes)
    if output is not None:
        check_output(output, force=force)  # before the render: no work for a refused FILE
    code = render_plan(resolved)
    if notebook:
        from snippetgen.project.notebook import script_notebook

        notebook_json = script_notebook(code, resolved, resolved.command(), dict(resolved.given))
        _write_or_print(notebook_json, output, force=force)
    elif output is None:
        emit(code, color, code=True)
    else:
        _write_output(output, code, force=force)
    from snippetgen.lookup.lrplot import no_decay_warning

    warning = no_decay_warning([r.name for r in resolved.recipes], resolved.values)
    if warning:
        err(warning)
