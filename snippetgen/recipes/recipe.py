"""Recipe metadata: the typed, validated contents of a ``recipe.toml``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from snippetgen.codegen.toml_cache import load_toml
from snippetgen.recipes.metatext import (
    NAME_RE,
    REQUIREMENT_RE,
    fail,
    is_number,
    text_field,
    text_list,
    text_problem,
)
from snippetgen.recipes.params.schema import Limit, Param, load_limits, load_params
from snippetgen.safefile import FileRefused, read_text

KINDS = ("feature", "snippet")
BASE_RECIPE = "train"  # the training-script skeleton that every feature fills
BUILT_IN = "built-in"  # the source of a recipe shipped with snippetgen
TOML_LIMIT = 1 << 20  # bytes of a recipe.toml


def template_file(kind: str) -> str:
    """The template a recipe of this kind keeps in its folder."""
    return "feature.py.j2" if kind == "feature" else "snippet.py.j2"


_RECIPE_KEYS = {
    "name",
    "kind",
    "title",
    "summary",
    "tags",
    "aliases",
    "params",
    "requires",
    "conflicts",
    "related",
    "docs",
    "order",
    "defaults",
    "essential",
    "limits",
}
_DOC_KEYS = {"when", "pitfalls", "notes"}


# The records below are NamedTuples rather than dataclasses: every command builds them,
# and a NamedTuple class is created several times faster at import, which is most of what
# separates `snippetgen list` from a bare Typer start-up. They are immutable values alike.


class Conflict(NamedTuple):
    recipe: str
    why: str


class Recipe(NamedTuple):
    """A recipe folder: metadata plus the templates beside it."""

    name: str
    kind: str
    title: str
    summary: str
    path: Path
    tags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    requires: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    related: tuple[str, ...] = ()
    when: str = ""
    pitfalls: tuple[str, ...] = ()
    notes: str = ""
    order: int = 50
    defaults: Mapping[str, Any] = MappingProxyType({})
    essential: tuple[str, ...] = ()
    source: str = BUILT_IN
    limits: tuple[Limit, ...] = ()

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "title": self.title,
            "summary": self.summary,
            "tags": list(self.tags),
            "aliases": list(self.aliases),
            "params": [p.to_json() for p in self.params],
            "requires": list(self.requires),
            "conflicts": [{"recipe": c.recipe, "why": c.why} for c in self.conflicts],
            "related": list(self.related),
            "source": self.source,
        }


def _default_value_ok(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(is_number(v) for v in value)
    if isinstance(value, str):
        return text_problem(value) is None
    return isinstance(value, bool) or is_number(value)


def _defaults(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise fail(path, "'defaults' must be a table of parameter names to values")
    for key, value in defaults.items():
        if not NAME_RE.match(key):
            raise fail(path, f"'defaults' names {key!r}, which is not a parameter name")
        if not _default_value_ok(value):
            raise fail(
                path,
                f"'defaults' gives {key!r} a value that is not a number, one-line string, "
                "true/false or list of numbers",
            )
    return dict(defaults)


def _conflicts(path: Path, data: dict[str, Any]) -> tuple[Conflict, ...]:
    raw_list = data.get("conflicts", [])
    if not isinstance(raw_list, list):
        raise fail(path, "'conflicts' must be an array of tables ([[conflicts]])")
    conflicts = []
    for raw in raw_list:
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("recipe"), str)
            or set(raw) - {"recipe", "why"}
        ):
            raise fail(path, "each [[conflicts]] entry needs 'recipe' and 'why'")
        if not NAME_RE.match(raw["recipe"]):
            raise fail(path, f"[[conflicts]] names {raw['recipe']!r}, which is not a recipe name")
        why = text_field(path, {"why": raw.get("why", "they conflict")}, "why")
        conflicts.append(Conflict(recipe=raw["recipe"], why=why))
    return tuple(conflicts)


def _read_meta(folder: Path) -> dict[str, Any]:
    meta = folder / "recipe.toml"
    try:
        text = read_text(meta, limit=TOML_LIMIT)
    except FileRefused as exc:
        if exc.missing:
            raise fail(folder, "no recipe.toml") from None
        raise fail(meta, f"recipe.toml {exc.reason}") from None
    try:
        data = load_toml(text, meta)  # tomllib.loads, memoised on disk
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise fail(meta, f"recipe.toml does not parse ({exc})") from None
    except (RecursionError, MemoryError):
        raise fail(meta, "recipe.toml nests its arrays or tables too deeply") from None
    if not isinstance(data, dict):
        raise fail(meta, "recipe.toml does not parse")
    return data


def _order(meta: Path, data: dict[str, Any]) -> int:
    order = data.get("order", 50)
    if isinstance(order, bool) or not isinstance(order, int) or abs(order) > 10**6:
        raise fail(meta, "'order' must be an integer (from -1000000 to 1000000)")
    return order


def load_recipe(folder: Path, *, source: str = BUILT_IN) -> Recipe:
    """Read and validate ``folder/recipe.toml``; raise RecipeDefinitionError when malformed.

    Each field is checked for its type and form (one sentence per problem), and the file is
    read only when it is a regular file (never a FIFO or a device), of at most 1 MiB.
    """
    data = _read_meta(folder)
    meta = folder / "recipe.toml"
    unknown = set(data) - _RECIPE_KEYS
    if unknown:
        raise fail(meta, f"unknown key(s) {', '.join(sorted(unknown))}")
    name = text_field(meta, data, "name")
    if not NAME_RE.match(name):
        raise fail(meta, f"recipe name {name!r} must be kebab-case")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise fail(meta, f"'kind' must be one of {', '.join(KINDS)}")
    params = load_params(meta, data, kind)
    docs = data.get("docs", {})
    if not isinstance(docs, dict) or set(docs) - _DOC_KEYS:
        raise fail(meta, f"'docs' is a table with keys {', '.join(sorted(_DOC_KEYS))}")
    order = _order(meta, data)
    template = template_file(kind)
    recipe = Recipe(
        name=name,
        kind=kind,
        title=text_field(meta, data, "title"),
        summary=text_field(meta, data, "summary"),
        path=folder,
        tags=text_list(meta, data, "tags"),
        aliases=text_list(meta, data, "aliases"),
        params=params,
        requires=text_list(
            meta, data, "requires", form=(REQUIREMENT_RE, "a module or package name")
        ),
        conflicts=_conflicts(meta, data),
        related=text_list(meta, data, "related", form=(NAME_RE, "a recipe name")),
        when=text_field(meta, docs, "when", required=False, multiline=True),
        pitfalls=text_list(meta, docs, "pitfalls", multiline=True),
        notes=text_field(meta, docs, "notes", required=False, multiline=True),
        order=order,
        defaults=MappingProxyType(_defaults(meta, data)),
        essential=text_list(meta, data, "essential"),
        source=source,
        limits=load_limits(meta, data, params),
    )
    if name != BASE_RECIPE and not (folder / template).is_file():
        raise fail(folder, f"a {kind} recipe needs a {template} template")
    return recipe
