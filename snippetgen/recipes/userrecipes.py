"""Your own recipes: where a recipe comes from (``which``, override notes) and ``copy``.

The recipes on SNIPPETGEN_PATH are checked by :mod:`snippetgen.recipes.recipecheck` (re-exported
here: :func:`check_templates`). A recipe that fails is reported with its path and never
rendered; built-in recipes are proven by the test suite instead.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from snippetgen.errors import RecipeDefinitionError, UserError
from snippetgen.recipes.catalog import PATH_ENV, Catalog, user_dirs
from snippetgen.recipes.metatext import NAME_RE
from snippetgen.recipes.recipe import BUILT_IN, Recipe, load_recipe
from snippetgen.recipes.recipecheck import check_templates as check_templates

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def broken_folder(error: RecipeDefinitionError) -> Path:
    path = Path(error.path)
    return path if path.is_dir() else path.parent


def where(catalog: Catalog, name: str) -> tuple[Path, list[str]]:
    """The folder a recipe comes from, and lines that explain it (overrides, problems)."""
    broken = catalog.shadowed.get(name)
    if broken is not None and name not in catalog.recipes:
        return broken_folder(broken), [f"{name}: broken ({broken})"]
    recipe = catalog.get(name)
    notes = []
    origin = (
        "built-in recipe" if recipe.source == BUILT_IN else f"your recipe (from {recipe.source})"
    )
    notes.append(f"{recipe.name}: {origin}")
    for earlier in catalog.overridden.get(recipe.name, []):
        notes.append(f"  overrides the {_source_words(earlier)} at {earlier.path}")
    return recipe.path, notes


def override_notes(catalog: Catalog) -> list[str]:
    """One line per recipe that overrides another of the same name."""
    notes = []
    for name, earlier in sorted(catalog.overridden.items()):
        recipe = catalog.recipes.get(name)
        if recipe is not None and earlier:
            notes.append(
                f"note: {name} comes from {recipe.path}, overriding the {_source_words(earlier[-1])}"
            )
    return notes


def _source_words(recipe: Recipe) -> str:
    return "built-in recipe" if recipe.source == BUILT_IN else f"recipe from {recipe.source}"


def _rename(toml_text: str, old: str, new: str) -> str:
    pattern = re.compile(r'^(\s*name\s*=\s*)(["\'])' + re.escape(old) + r"\2", re.M)
    renamed, count = pattern.subn(lambda m: f'{m.group(1)}"{new}"', toml_text, count=1)
    if count != 1:
        raise UserError(f"Cannot rename: no line 'name = \"{old}\"' in its recipe.toml.")
    return renamed


def copy_recipe(catalog: Catalog, name: str, directory: Path, new_name: str | None = None) -> Path:
    """Copy a recipe's folder into `directory` (a recipes folder, e.g. on SNIPPETGEN_PATH).

    The copy is named `new_name` (its recipe.toml is updated), else keeps the name and so
    overrides the original when `directory` is on SNIPPETGEN_PATH. Nothing is written
    unless the whole copy succeeds; an existing target is refused.
    """
    recipe = catalog.get(name)
    target_name = new_name or recipe.name
    if not NAME_RE.match(target_name):
        raise UserError(f"Recipe name {target_name!r} must be kebab-case, like 'my-mixup'.")
    directory = Path(directory).expanduser()
    target = directory / target_name
    if target.exists():
        raise UserError(f"{target} already exists; choose another --name or folder.")
    if directory.exists() and not directory.is_dir():
        raise UserError(f"Cannot copy into {directory}: it is not a folder.")
    created = [p for p in (directory, *directory.parents) if not p.exists()]
    staging: Path | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target_name}.", dir=directory))
        _copy_as(recipe, staging / target_name, directory).replace(target)
    except OSError as exc:
        raise UserError(f"Cannot copy to {target}: {exc.strerror or exc}.") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if not target.exists():  # failed: remove the folders made for it
            _remove_empty(created)
    return target


def _copy_as(recipe: Recipe, folder: Path, directory: Path) -> Path:
    """Copy the recipe's folder to `folder` (whose name is the copy's recipe name, written
    into its recipe.toml); the copy must load as it stands from `directory`."""
    shutil.copytree(recipe.path, folder, ignore=_IGNORED)
    if folder.name != recipe.name:
        meta = folder / "recipe.toml"
        meta.write_text(
            _rename(meta.read_text(encoding="utf-8"), recipe.name, folder.name),
            encoding="utf-8",
        )
    load_recipe(folder, source=str(directory))
    return folder


def _remove_empty(folders: list[Path]) -> None:
    """Remove `folders` (innermost first) up to the first that is not empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def on_path(directory: Path) -> bool:
    """Whether `directory` is one of the SNIPPETGEN_PATH folders."""
    try:
        wanted = Path(directory).expanduser().resolve()
        return any(d.resolve() == wanted for d in user_dirs())
    except OSError:
        return False


def path_hint(directory: Path) -> str:
    """The shell line that puts `directory` on SNIPPETGEN_PATH (after any folders there)."""
    folder = str(Path(directory).expanduser().resolve())
    value = f"${PATH_ENV}{os.pathsep}{folder}" if os.environ.get(PATH_ENV) else folder
    return f'export {PATH_ENV}="{value}"'
