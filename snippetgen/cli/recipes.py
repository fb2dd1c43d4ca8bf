"""Your own recipes: which (where a recipe comes from) and copy (start your own)."""

from pathlib import Path
from typing import Annotated

import typer

from snippetgen.cli.base import app, err, guard, load_recipes
from snippetgen.completion import complete_recipe


@app.command()
@guard
def which(
    recipe: Annotated[str, typer.Argument(help="recipe name", autocompletion=complete_recipe)],
) -> None:
    """Print the folder a recipe comes from (the last line is the path)."""
    from snippetgen.recipes.userrecipes import where

    folder, notes = where(load_recipes(quiet=[recipe]), recipe)
    for note in notes:
        typer.echo(note)
    typer.echo(str(folder))


@app.command()
@guard
def copy(
    recipe: Annotated[str, typer.Argument(help="recipe to copy", autocompletion=complete_recipe)],
    directory: Annotated[Path, typer.Argument(help="recipes folder to copy it into")],
    name: Annotated[
        str | None, typer.Option("--name", help="name of the copy (default: the same name)")
    ] = None,
) -> None:
    """Copy a recipe's folder as the start of your own (DIR/NAME; add DIR to SNIPPETGEN_PATH)."""
    from snippetgen.recipes.catalog import PATH_ENV
    from snippetgen.recipes.userrecipes import copy_recipe, on_path, path_hint

    catalog = load_recipes(quiet=[recipe])
    target = copy_recipe(catalog, recipe, directory, name)
    err(f"copied {catalog.get(recipe).name} to {target}")
    if not on_path(directory):
        err(f"to use it, add the folder to {PATH_ENV}: {path_hint(directory)}")
    elif target.name in catalog.recipes:
        err(f"note: it overrides the recipe {target.name!r} from now on")
    typer.echo(str(target))
