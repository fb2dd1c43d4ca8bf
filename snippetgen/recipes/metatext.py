"""How the texts and names of a recipe.toml are checked: one sentence per problem.

Shared by the recipe's own fields (snippetgen.recipes.recipe) and its parameters
(snippetgen.recipes.params.schema).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from snippetgen.errors import RecipeDefinitionError

# \Z, not $: "$" also matches before a final line break, and a name reaches generated code
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")
# an importable module or a distribution name (what `requires` lists), e.g. "tensorboard"
REQUIREMENT_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
LINE_LIMIT = 500  # characters of a one-line text: title, summary, help, a tag, an alias...
TEXT_LIMIT = 5000  # characters of a docs text (when, notes, one pitfall)


def fail(path: Path, reason: str) -> RecipeDefinitionError:
    return RecipeDefinitionError(path=str(path), reason=reason)


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """What is wrong with a metadata text (a phrase), or None."""
    limit = TEXT_LIMIT if multiline else LINE_LIMIT
    if len(value) > limit:
        return f"is longer than {limit} characters"
    if not (value.replace("\n", "") if multiline else value).isprintable():
        return (
            "holds a control character" if multiline else "holds a line break or control character"
        )
    return None


def text_field(
    path: Path, data: dict[str, Any], key: str, *, required: bool = True, multiline: bool = False
) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise fail(
            path, f"'{key}' must be a non-empty string" if required else f"'{key}' must be a string"
        )
    problem = text_problem(value, multiline=multiline)
    if problem:
        raise fail(path, f"'{key}' {problem}")
    return value


def text_list(
    path: Path,
    data: dict[str, Any],
    key: str,
    *,
    multiline: bool = False,
    form: tuple[re.Pattern[str], str] | None = None,
) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(path, f"'{key}' must be a list of non-empty strings")
    for item in value:
        if not (item.isprintable() and len(item) <= LINE_LIMIT):  # else: say what is wrong
            problem = text_problem(item, multiline=multiline)
            if problem:
                raise fail(path, f"an entry of '{key}' {problem}")
        if form is not None and not form[0].match(item):
            raise fail(path, f"'{key}' lists {item!r}, which is not {form[1]}")
    return tuple(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
