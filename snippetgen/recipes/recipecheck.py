"""Checks of a user recipe's folder and templates (built-in recipes are proven by the tests).

A user recipe is checked when the catalog loads it, without Jinja (so ``list`` stays
fast): nothing in its folder may link out of it or be anything but files and folders, its
template must be UTF-8, its block tags must nest, a feature's macros must be known slots and
its ``essential`` list must name them. Right before a render, the templates of the user
recipes involved are also parsed by Jinja itself (:func:`check_templates`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from snippetgen.codegen.slots import SLOTS
from snippetgen.errors import RecipeDefinitionError
from snippetgen.recipes.recipe import BUILT_IN, Recipe, template_file


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
    from snippetgen.codegen.template_text import macros, structure_problems

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
            "(see snippetgen/codegen/slots.py)",
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
