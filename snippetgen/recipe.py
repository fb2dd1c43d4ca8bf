"""Recipe metadata: the typed, validated contents of a ``recipe.toml``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from snippetgen.cache import load_toml
from snippetgen.errors import RecipeDefinitionError

KINDS = ("feature", "snippet")
PARAM_TYPES = ("int", "float", "bool", "str", "choice", "int_list", "float_list")
# Options of `snippetgen render` itself, and flags every training script already has.
RESERVED_NAMES = frozenset({"with", "output", "force", "color", "help"})
SCRIPT_FLAGS = frozenset(
    {"device", "num-workers", "output-dir", "overwrite", "pretrained", "max-batches",
     "channels-last", "compile", "resume"}
)
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

_PARAM_KEYS = {
    "name",
    "type",
    "default",
    "help",
    "min",
    "max",
    "min_exclusive",
    "max_exclusive",
    "choices",
    "pattern",
    "max_length",
}
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
}
_DOC_KEYS = {"when", "pitfalls", "notes"}


# The records below are NamedTuples rather than dataclasses: every command builds them,
# and a NamedTuple class is created several times faster at import, which is most of what
# separates `snippetgen list` from a bare Typer start-up. They are immutable values alike.


class Param(NamedTuple):
    """One declared parameter: drives CLI parsing, --help, validation and argparse code."""

    name: str
    type: str
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    max_length: int = 200

    @property
    def dest(self) -> str:
        """The Python identifier: ``warmup-epochs`` -> ``warmup_epochs``."""
        return self.name.replace("-", "_")

    @property
    def option(self) -> str:
        return f"--{self.name}"

    def range_text(self) -> str:
        """Human text for the constraint, e.g. ``> 0``, ``0 <= x < 1``, ``one of a, b``."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        lo = hi = ""
        if self.min is not None:
            lo = f"{_num(self.min)} {'<' if self.min_exclusive else '<='} "
        if self.max is not None:
            hi = f" {'<' if self.max_exclusive else '<='} {_num(self.max)}"
        if not lo and not hi:
            return ""
        return f"{lo}x{hi}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "help": self.help,
        }
        for key in ("min", "max"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.min_exclusive:
            out["min_exclusive"] = True
        if self.max_exclusive:
            out["max_exclusive"] = True
        if self.choices:
            out["choices"] = list(self.choices)
        if self.pattern:
            out["pattern"] = self.pattern
        return out


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


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
    source: str = "built-in"

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


def _fail(path: Path, reason: str) -> RecipeDefinitionError:
    return RecipeDefinitionError(path=str(path), reason=reason)


def _strs(path: Path, data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, f"'{key}' must be a list of strings")
    return tuple(value)


def _str(path: Path, data: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(path, f"'{key}' must be a non-empty string")
    return value


def _load_param(path: Path, raw: Any) -> Param:
    if not isinstance(raw, dict):
        raise _fail(path, "each [[params]] entry must be a table")
    unknown = set(raw) - _PARAM_KEYS
    if unknown:
        raise _fail(path, f"unknown parameter key(s) {', '.join(sorted(unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _fail(path, f"parameter name {name!r} must be kebab-case, like 'warmup-epochs'")
    if name in RESERVED_NAMES:
        raise _fail(path, f"parameter name {name!r} is taken by snippetgen's own render options")
    ptype = raw.get("type")
    if ptype not in PARAM_TYPES:
        raise _fail(path, f"parameter {name!r} has type {ptype!r}; use one of {', '.join(PARAM_TYPES)}")
    help_text = raw.get("help")
    if not isinstance(help_text, str) or not help_text:
        raise _fail(path, f"parameter {name!r} needs a 'help' string")
    choices = raw.get("choices", [])
    if ptype == "choice" and (not choices or not all(isinstance(c, str) for c in choices)):
        raise _fail(path, f"choice parameter {name!r} needs a list of string 'choices'")
    for bound in ("min", "max"):
        value = raw.get(bound)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            raise _fail(path, f"parameter {name!r} has a non-numeric '{bound}'")
    param = Param(
        name=name,
        type=ptype,
        default=raw.get("default"),
        help=help_text,
        min=raw.get("min"),
        max=raw.get("max"),
        min_exclusive=bool(raw.get("min_exclusive", False)),
        max_exclusive=bool(raw.get("max_exclusive", False)),
        choices=tuple(choices),
        pattern=raw.get("pattern"),
        max_length=int(raw.get("max_length", 200)),
    )
    # The default must itself pass validation: a recipe cannot ship a default it would refuse.
    from snippetgen.params import validate_default

    try:
        validate_default(param)
    except ValueError as exc:
        raise _fail(path, f"default of parameter {name!r} is invalid ({exc})") from None
    return param


def load_recipe(folder: Path, *, source: str = "built-in") -> Recipe:
    """Read and validate ``folder/recipe.toml``; raise RecipeDefinitionError when malformed."""
    meta = folder / "recipe.toml"
    try:
        data = load_toml(meta.read_text(encoding="utf-8"), meta)  # tomllib.loads, memoised
    except FileNotFoundError:
        raise _fail(folder, "no recipe.toml") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError, UnicodeDecodeError
        raise _fail(meta, f"recipe.toml does not parse ({exc})") from None
    unknown = set(data) - _RECIPE_KEYS
    if unknown:
        raise _fail(meta, f"unknown key(s) {', '.join(sorted(unknown))}")
    name = _str(meta, data, "name")
    if not NAME_RE.match(name):
        raise _fail(meta, f"recipe name {name!r} must be kebab-case")
    kind = data.get("kind")
    if kind not in KINDS:
        raise _fail(meta, f"'kind' must be one of {', '.join(KINDS)}")
    params_raw = data.get("params", [])
    if not isinstance(params_raw, list):
        raise _fail(meta, "'params' must be an array of tables ([[params]])")
    params = tuple(_load_param(meta, raw) for raw in params_raw)
    names = [p.name for p in params]
    if kind == "feature" and SCRIPT_FLAGS & set(names):
        taken = ", ".join(sorted(SCRIPT_FLAGS & set(names)))
        raise _fail(meta, f"parameter name(s) {taken} clash with the training script's own flags")
    if len(names) != len(set(names)):
        raise _fail(meta, "parameter names repeat")
    docs = data.get("docs", {})
    if not isinstance(docs, dict) or set(docs) - _DOC_KEYS:
        raise _fail(meta, f"'docs' is a table with keys {', '.join(sorted(_DOC_KEYS))}")
    conflicts_raw = data.get("conflicts", [])
    conflicts: list[Conflict] = []
    for raw in conflicts_raw if isinstance(conflicts_raw, list) else [None]:
        if not isinstance(raw, dict) or not isinstance(raw.get("recipe"), str):
            raise _fail(meta, "each [[conflicts]] entry needs 'recipe' and 'why'")
        conflicts.append(Conflict(recipe=raw["recipe"], why=str(raw.get("why", "they conflict"))))
    order = data.get("order", 50)
    if not isinstance(order, int):
        raise _fail(meta, "'order' must be an integer")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise _fail(meta, "'defaults' must be a table of parameter names to values")
    template = "feature.py.j2" if kind == "feature" else "snippet.py.j2"
    if name != "train" and not (folder / template).is_file():
        raise _fail(folder, f"a {kind} recipe needs a {template} template")
    return Recipe(
        name=name,
        kind=kind,
        title=_str(meta, data, "title"),
        summary=_str(meta, data, "summary"),
        path=folder,
        tags=_strs(meta, data, "tags"),
        aliases=_strs(meta, data, "aliases"),
        params=params,
        requires=_strs(meta, data, "requires"),
        conflicts=tuple(conflicts),
        related=_strs(meta, data, "related"),
        when=_str(meta, docs, "when", required=False),
        pitfalls=_strs(meta, docs, "pitfalls"),
        notes=_str(meta, docs, "notes", required=False),
        order=order,
        defaults=MappingProxyType(dict(defaults)),
        essential=_strs(meta, data, "essential"),
        source=source,
    )
