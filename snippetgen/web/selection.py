"""What a web request may ask for: one recipe, features, data source, model, parameter values
and a project name, read from a URL query and checked before anything is rendered.

The query *is* the selection (``/compose?recipe=mixup&with=warmup&alpha=0.4``), so a link
reproduces it. Parameter values stay the text the user typed: they are parsed and validated
by the same code as the CLI's ``--NAME VALUE`` words, which gives the same sentences.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode

from snippetgen.errors import UserError

if TYPE_CHECKING:
    from snippetgen.codegen.rendering import Plan
    from snippetgen.recipes.catalog import Catalog

# Keys of the query that are not parameters (recipe.toml may not declare a parameter so named).
RECIPE_KEY, WITH_KEY, DATA_KEY, MODEL_KEY, PROJECT_KEY = (
    "recipe",
    "with",
    "data",
    "model",
    "project",
)
STRUCTURE_KEYS = (RECIPE_KEY, WITH_KEY, DATA_KEY, MODEL_KEY, PROJECT_KEY)
MAX_QUERY_BYTES = 8192  # a selection is a few hundred bytes; a longer query is refused unread
MAX_FIELDS = 80  # more query fields than every parameter of every feature together
MAX_VALUE_CHARS = 1000  # a parameter's own max_length (at most this) is checked by the plan
DEFAULT_PROJECT = "my-project"
_KEY = re.compile(r"[a-z][a-z0-9-]{0,63}")
_PROJECT = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


class SelectionError(UserError):
    """A query that is not a selection (one sentence); `field` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class Selection(NamedTuple):
    """A checked query: the recipe, the features added, data, model, values (as typed)."""

    recipe: str
    with_: tuple[str, ...] = ()
    data: str | None = None
    model: str | None = None
    values: Mapping[str, str] = MappingProxyType({})
    project: str = DEFAULT_PROJECT

    def args(self) -> list[str]:
        """The values as the CLI's words (``--NAME=VALUE``: a value may start with '-')."""
        return [f"--{name}={text}" for name, text in self.values.items()]

    def query(self) -> str:
        """The URL query of this selection, for links."""
        chosen = self
        pairs: list[tuple[str, str]] = [(RECIPE_KEY, chosen.recipe)]
        pairs += [(WITH_KEY, name) for name in chosen.with_]
        pairs += [(k, v) for k, v in ((DATA_KEY, chosen.data), (MODEL_KEY, chosen.model)) if v]
        pairs += list(chosen.values.items())
        if chosen.project != DEFAULT_PROJECT:
            pairs.append((PROJECT_KEY, chosen.project))
        return urlencode(pairs)


def check_query_size(raw: bytes | str) -> None:
    if len(raw) > MAX_QUERY_BYTES:
        raise SelectionError(
            f"The request's query is {len(raw)} bytes; a selection fits in {MAX_QUERY_BYTES}."
        )


def _one(key: str, found: list[str]) -> str:
    if len(found) > 1:
        raise SelectionError(f"The query gives {key!r} {len(found)} times; give it once.", key)
    return found[0]


def _value(key: str, text: str) -> str:
    name = "The search" if key == "q" else f"The value of --{key}"
    if len(text) > MAX_VALUE_CHARS:
        raise SelectionError(
            f"{name} is {len(text)} characters long; at most {MAX_VALUE_CHARS}.", key
        )
    if "\x00" in text:
        raise SelectionError(f"{name} holds a NUL character.", key)
    return text


@functools.lru_cache(maxsize=64)  # a refusal is raised again each time, not kept
def check_project(project: str) -> None:
    """Refuse a project folder name that is not a plain word or whose package name `new`
    would refuse (``torch``, a keyword, a standard-library module...)."""
    from pathlib import Path

    from snippetgen.project.naming import package_name

    if not _PROJECT.fullmatch(project):
        raise SelectionError(
            "A project folder name is a letter, then letters, digits, '-' and '_' "
            "(at most 64 characters).",
            PROJECT_KEY,
        )
    try:
        package_name(Path(project), hint="; choose another folder name")
    except UserError as exc:
        raise SelectionError(str(exc), PROJECT_KEY) from None


def only_values(selection: Selection) -> Selection:
    """A selection that names parameter values only (a recipe page's query)."""
    extra = [
        key
        for key, given in (
            (WITH_KEY, selection.with_),
            (DATA_KEY, selection.data),
            (MODEL_KEY, selection.model),
            (PROJECT_KEY, selection.project != DEFAULT_PROJECT),
        )
        if given
    ]
    if extra:
        raise SelectionError(
            f"A recipe page takes parameter values only, not {extra[0]!r}; "
            "compose a script to choose features, data, model or project.",
            extra[0],
        )
    return selection


def read_search(pairs: Iterable[tuple[str, str]]) -> str:
    """The text of a search query (``q=TEXT``, once, at most MAX_VALUE_CHARS)."""
    found: list[str] = []
    for key, text in pairs:
        if key != "q":
            shown = key if len(key) <= 40 else key[:37] + "..."
            raise SelectionError(f"A search takes one field, q, not {shown!r}.")
        found.append(_value(key, text))
    return _one("q", found) if found else ""


def read_selection(pairs: Iterable[tuple[str, str]]) -> Selection:
    """The selection a query's (key, value) pairs give; raises SelectionError."""
    fields: dict[str, list[str]] = {}
    for count, (key, text) in enumerate(pairs, start=1):
        if count > MAX_FIELDS:
            raise SelectionError(f"The query has more than {MAX_FIELDS} fields.")
        if not _KEY.fullmatch(key):
            shown = key if len(key) <= 40 else key[:37] + "..."
            raise SelectionError(f"The query field {shown!r} is not a parameter name.")
        fields.setdefault(key, []).append(_value(key, text))
    if RECIPE_KEY not in fields:
        raise SelectionError("The query names no recipe (recipe=NAME).", RECIPE_KEY)
    project = _one(PROJECT_KEY, fields.pop(PROJECT_KEY, [DEFAULT_PROJECT]))
    data, model = (_one(k, fields.pop(k)) if k in fields else None for k in (DATA_KEY, MODEL_KEY))
    return Selection(
        recipe=_one(RECIPE_KEY, fields.pop(RECIPE_KEY)),
        with_=tuple(dict.fromkeys(fields.pop(WITH_KEY, []))),
        data=data or None,
        model=model or None,
        values={key: _one(key, found) for key, found in fields.items()},
        project=project,
    )


def _request(selection: Selection, *, with_values: bool) -> Any:
    from snippetgen.codegen.rendering import RenderRequest

    data_model: dict[str, Any] = {}
    if selection.data:
        data_model["data"] = selection.data
    if selection.model:
        data_model["model"] = selection.model
    return RenderRequest(
        selection.recipe,
        with_=selection.with_,
        args=selection.args() if with_values else (),
        **data_model,
    )


def resolve(catalog: Catalog, selection: Selection, *, with_values: bool = True) -> Plan:
    """The plan of a selection, through the CLI's plan(); without `with_values`, only its
    structure (the recipes, their parameters and defaults)."""
    from snippetgen.codegen.rendering import plan

    return plan(_request(selection, with_values=with_values), catalog)
