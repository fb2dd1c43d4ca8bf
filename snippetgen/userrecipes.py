"""Your own recipes: checks for recipes on SNIPPETGEN_PATH, ``which`` and ``copy``.

A user recipe is checked when the catalog loads it, without Jinja (so ``list`` stays
fast): its template must be UTF-8, its block tags must nest, a feature's macros must be
known slots and its ``essential`` list must name them. Right before a render, the
templates of the user recipes involved are also parsed by Jinja itself
(:func:`check_templates`). A recipe that fails is reported with its path and never
rendered; built-in recipes are proven by the test suite instead.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from snippetgen.catalog import PATH_ENV, Catalog, user_dirs
from snippetgen.errors import RecipeDefinitionError, UserError
from snippetgen.recipe import BUILT_IN, NAME_RE, Recipe, load_recipe, template_file
from snippetgen.slots import SLOTS

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def template_path(recipe: Recipe) -> Path:
    return recipe.path / template_file(recipe.kind)


def check_folder(folder: Path) -> None:
    """Refuse a recipe folder holding a link that leads out of it, or anything but regular
    files and folders (a FIFO, a device, a socket): nothing outside a recipe's folder can
    reach a render, the render cache or a copy of it, and nothing in it can block a read."""
    from snippetgen.safefile import inside, kind_problem

    root = Path(os.path.realpath(folder))
    for current, dirs, files in os.walk(folder, onerror=_walk_error):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for entry in [*dirs, *files]:
            path = Path(current) / entry
            relative = path.relative_to(folder)
            try:
                if path.is_symlink() and not inside(path, root):
                    raise RecipeDefinitionError(
                        path=str(path),
                        reason=f"{relative} is a link to a file outside the recipe folder",
                    )
                problem = kind_problem(path.stat().st_mode)
            except FileNotFoundError:  # a dangling link inside the folder: nothing to read
                continue
            except OSError as exc:
                raise RecipeDefinitionError(
                    path=str(path), reason=f"cannot read {relative} ({exc.strerror or exc})"
                ) from None
            if problem and not (problem.startswith("is a folder") and entry in dirs):
                raise RecipeDefinitionError(path=str(path), reason=f"{relative} {problem}")


def _walk_error(exc: OSError) -> None:
    raise RecipeDefinitionError(
        path=str(exc.filename), reason=f"cannot list the folder ({exc.strerror or exc})"
    )


def _template_text(path: Path) -> str:
    from snippetgen.safefile import FileRefused, read_text

    try:
        return read_text(path)
    except FileRefused as exc:
        reason = (
            "the template is not UTF-8 text"
            if exc.reason.startswith("is not UTF-8")
            else (f"the template {exc.reason}")
        )
        raise RecipeDefinitionError(path=str(path), reason=reason) from None


def check_user_recipe(recipe: Recipe) -> None:
    """Raise RecipeDefinitionError when a recipe's template is unusable (no Jinja needed)."""
    from snippetgen.template_text import macros, structure_problems

    path = template_path(recipe)
    if not path.is_file():  # only the base recipe may lack one (load_recipe checks the rest)
        return
    text = _template_text(path)
    problems = structure_problems(text)
    if problems:
        raise RecipeDefinitionError(path=str(path), reason="; ".join(problems[:3]))
    if recipe.kind != "feature":
        return
    names = [m.name for m in macros(text)]
    unknown = [n for n in names if n not in SLOTS]
    if unknown:
        raise RecipeDefinitionError(
            path=str(path),
            reason=f"macro {unknown[0]!r} is not a slot of the training script "
            "(see snippetgen/slots.py)",
        )
    missing = [n for n in recipe.essential if n not in names]
    if missing:
        raise RecipeDefinitionError(
            path=str(recipe.path / "recipe.toml"),
            reason=f"'essential' lists {missing[0]!r}, which the template does not define",
        )


def check_templates(recipes: Iterable[Recipe]) -> None:
    """Parse the templates of the user recipes among `recipes` with Jinja; a syntax error
    is a RecipeDefinitionError (exit 2) naming the file and line."""
    users = [r for r in recipes if r.source != BUILT_IN and template_path(r).is_file()]
    if not users:
        return
    from jinja2 import Environment, TemplateSyntaxError

    env = Environment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    for recipe in users:
        path = template_path(recipe)
        try:
            env.parse(_template_text(path))
        except TemplateSyntaxError as exc:
            raise RecipeDefinitionError(
                path=str(path), reason=f"template syntax error at line {exc.lineno}: {exc.message}"
            ) from None
        except (RecursionError, MemoryError):
            raise RecipeDefinitionError(
                path=str(path), reason="the template nests its blocks too deeply to be parsed"
            ) from None


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
        folder = staging / target_name
        shutil.copytree(recipe.path, folder, ignore=_IGNORED)
        if target_name != recipe.name:
            meta = folder / "recipe.toml"
            meta.write_text(
                _rename(meta.read_text(encoding="utf-8"), recipe.name, target_name),
                encoding="utf-8",
            )
        load_recipe(folder, source=str(directory))  # the copy must load as it stands
        folder.replace(target)
    except OSError as exc:
        raise UserError(f"Cannot copy to {target}: {exc.strerror or exc}.") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if not target.exists():  # failed: remove the folders made for it
            for folder in created:
                try:
                    folder.rmdir()
                except OSError:
                    break
    return target


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
