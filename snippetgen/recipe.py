"""Recipe metadata: the typed, validated contents of a ``recipe.toml``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from snippetgen.cache import load_toml
from snippetgen.datamodel import DATA_SOURCES
from snippetgen.errors import RecipeDefinitionError
from snippetgen.safefile import FileRefused, read_text

KINDS = ("feature", "snippet")
BASE_RECIPE = "train"  # the training-script skeleton that every feature fills
BUILT_IN = "built-in"  # the source of a recipe shipped with snippetgen
PARAM_TYPES = ("int", "float", "bool", "str", "choice", "int_list", "float_list")
# Options of `snippetgen render` itself, and flags every training script already has.
RESERVED_NAMES = frozenset({"with", "output", "force", "color", "help", "data", "model"})
SCRIPT_FLAGS = frozenset(
    {
        "device",
        "num-workers",
        "output-dir",
        "overwrite",
        "pretrained",
        "max-batches",
        "channels-last",
        "compile",
        "resume",
    }
)
# \Z, not $: "$" also matches before a final line break, and a name reaches generated code
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")
# an importable module or a distribution name (what `requires` lists), e.g. "tensorboard"
REQUIREMENT_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
LINE_LIMIT = 500  # characters of a one-line text: title, summary, help, a tag, an alias...
TEXT_LIMIT = 5000  # characters of a docs text (when, notes, one pitfall)
CHOICE_LIMIT = 200  # characters of a choice
MAX_LENGTH_LIMIT = 10_000  # the largest max_length of a str parameter
TOML_LIMIT = 1 << 20  # bytes of a recipe.toml


def template_file(kind: str) -> str:
    """The template a recipe of this kind keeps in its folder."""
    return "feature.py.j2" if kind == "feature" else "snippet.py.j2"


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
    "data",
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
    "limits",
}
_LIMIT_KEYS = {"param", "below", "when", "why"}
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
    data: tuple[str, ...] = ()  # the --data sources it applies to (empty: every source)

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
        if self.data:
            out["data"] = list(self.data)
        return out


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


class Conflict(NamedTuple):
    recipe: str
    why: str


class Limit(NamedTuple):
    """A bound that holds only with some values of other parameters, e.g. --min-delta < 1
    with --monitor val_acc; the render refuses a value past it and the script checks it."""

    param: str
    below: float | str  # a number, or the name of another numeric parameter
    when: tuple[tuple[str, Any], ...]
    why: str

    def applies(self, values: Mapping[str, Any]) -> bool:
        return all(values.get(name) == value for name, value in self.when)

    def bound(self, values: Mapping[str, Any]) -> float:
        return values[self.below] if isinstance(self.below, str) else self.below

    def bound_text(self) -> str:
        return f"--{self.below}" if isinstance(self.below, str) else f"{self.below:g}"

    def condition_text(self) -> str:
        return " and ".join(f"--{name} {_word(value)}" for name, value in self.when)


def _word(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


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


def _fail(path: Path, reason: str) -> RecipeDefinitionError:
    return RecipeDefinitionError(path=str(path), reason=reason)


def _text_problem(value: str, *, multiline: bool = False) -> str | None:
    """What is wrong with a metadata text (a phrase), or None."""
    limit = TEXT_LIMIT if multiline else LINE_LIMIT
    if len(value) > limit:
        return f"is longer than {limit} characters"
    if not (value.replace("\n", "") if multiline else value).isprintable():
        return (
            "holds a control character" if multiline else "holds a line break or control character"
        )
    return None


def _text(
    path: Path, data: dict[str, Any], key: str, *, required: bool = True, multiline: bool = False
) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(
            path, f"'{key}' must be a non-empty string" if required else f"'{key}' must be a string"
        )
    problem = _text_problem(value, multiline=multiline)
    if problem:
        raise _fail(path, f"'{key}' {problem}")
    return value


def _texts(
    path: Path,
    data: dict[str, Any],
    key: str,
    *,
    multiline: bool = False,
    form: tuple[re.Pattern[str], str] | None = None,
) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, f"'{key}' must be a list of non-empty strings")
    for item in value:
        if not (item.isprintable() and len(item) <= LINE_LIMIT):  # else: say what is wrong
            problem = _text_problem(item, multiline=multiline)
            if problem:
                raise _fail(path, f"an entry of '{key}' {problem}")
        if form is not None and not form[0].match(item):
            raise _fail(path, f"'{key}' lists {item!r}, which is not {form[1]}")
    return tuple(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _param_name(path: Path, raw: Any) -> str:
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
    return name


def _param_type_and_help(path: Path, raw: dict[str, Any], name: str) -> tuple[str, str]:
    ptype = raw.get("type")
    if not isinstance(ptype, str) or ptype not in PARAM_TYPES:
        raise _fail(
            path, f"parameter {name!r} has type {ptype!r}; use one of {', '.join(PARAM_TYPES)}"
        )
    help_text = raw.get("help")
    if not isinstance(help_text, str) or not help_text.strip():
        raise _fail(path, f"parameter {name!r} needs a 'help' string")
    problem = _text_problem(help_text)
    if problem:
        raise _fail(path, f"the 'help' of parameter {name!r} {problem}")
    return ptype, help_text


def _check_bounds(path: Path, raw: dict[str, Any], name: str, ptype: str) -> None:
    numeric = ptype in ("int", "float", "int_list", "float_list")
    for bound in ("min", "max"):
        value = raw.get(bound)
        if value is not None and not _is_number(value):
            raise _fail(path, f"parameter {name!r} has a non-numeric '{bound}'")
        if value is not None and not numeric:
            raise _fail(path, f"parameter {name!r} is a {ptype}: '{bound}' is only for numbers")
    for flag in ("min_exclusive", "max_exclusive"):
        if not isinstance(raw.get(flag, False), bool):
            raise _fail(path, f"'{flag}' of parameter {name!r} must be true or false")
    if raw.get("min") is not None and raw.get("max") is not None and raw["min"] > raw["max"]:
        raise _fail(path, f"parameter {name!r} has a 'min' larger than its 'max'")


def _param_choices(path: Path, raw: dict[str, Any], name: str, ptype: str) -> tuple[str, ...]:
    choices = raw.get("choices")
    if ptype != "choice":
        if choices is not None:
            raise _fail(
                path, f"parameter {name!r} is a {ptype}: 'choices' is only for type \"choice\""
            )
        return ()
    if (
        not isinstance(choices, list)
        or not choices
        or not all(isinstance(c, str) and c.strip() for c in choices)
    ):
        raise _fail(path, f"choice parameter {name!r} needs a list of string 'choices'")
    if len(set(choices)) != len(choices):
        raise _fail(path, f"the 'choices' of parameter {name!r} repeat")
    for choice in choices:
        if len(choice) > CHOICE_LIMIT or not choice.isprintable():
            raise _fail(
                path,
                f"choice {choice!r} of parameter {name!r} must be one line of at most "
                f"{CHOICE_LIMIT} printable characters",
            )
    return tuple(choices)


def _param_str_rules(
    path: Path, raw: dict[str, Any], name: str, ptype: str
) -> tuple[str | None, int]:
    """A str parameter's ``pattern`` (checked to be safe) and ``max_length``."""
    pattern = raw.get("pattern")
    max_length = raw.get("max_length", 200)
    if ptype != "str" and ("pattern" in raw or "max_length" in raw):
        raise _fail(
            path, f"parameter {name!r} is a {ptype}: 'pattern' and 'max_length' are only for str"
        )
    if pattern is not None:
        if not isinstance(pattern, str) or not pattern:
            raise _fail(path, f"the 'pattern' of parameter {name!r} must be a non-empty string")
        from snippetgen.safepattern import pattern_problem

        problem = pattern_problem(pattern)
        if problem:
            raise _fail(path, f"the 'pattern' of parameter {name!r} is refused: {problem}")
    if (
        isinstance(max_length, bool)
        or not isinstance(max_length, int)
        or not (1 <= max_length <= MAX_LENGTH_LIMIT)
    ):
        raise _fail(
            path,
            f"'max_length' of parameter {name!r} must be a whole number from 1 to {MAX_LENGTH_LIMIT}",
        )
    return pattern, max_length


def _param_sources(path: Path, raw: dict[str, Any], name: str) -> tuple[str, ...]:
    sources = raw.get("data", [])
    if not isinstance(sources, list) or not all(s in DATA_SOURCES for s in sources):
        raise _fail(
            path,
            f"the 'data' of parameter {name!r} must be a list of data sources "
            f"({', '.join(DATA_SOURCES)})",
        )
    return tuple(sources)


def _load_param(path: Path, raw: Any) -> Param:
    name = _param_name(path, raw)
    ptype, help_text = _param_type_and_help(path, raw, name)
    _check_bounds(path, raw, name, ptype)
    choices = _param_choices(path, raw, name, ptype)
    pattern, max_length = _param_str_rules(path, raw, name, ptype)
    param = Param(
        name=name,
        type=ptype,
        default=raw.get("default"),
        help=help_text,
        min=raw.get("min"),
        max=raw.get("max"),
        min_exclusive=raw.get("min_exclusive", False),
        max_exclusive=raw.get("max_exclusive", False),
        choices=choices,
        pattern=pattern,
        max_length=max_length,
        data=_param_sources(path, raw, name),
    )
    # The default must itself pass validation: a recipe cannot ship a default it would refuse.
    from snippetgen.params import validate_default

    try:
        validate_default(param)
    except ValueError as exc:
        raise _fail(path, f"default of parameter {name!r} is invalid ({exc})") from None
    return param


def _default_value_ok(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(_is_number(v) for v in value)
    if isinstance(value, str):
        return _text_problem(value) is None
    return isinstance(value, bool) or _is_number(value)


def _defaults(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise _fail(path, "'defaults' must be a table of parameter names to values")
    for key, value in defaults.items():
        if not NAME_RE.match(key):
            raise _fail(path, f"'defaults' names {key!r}, which is not a parameter name")
        if not _default_value_ok(value):
            raise _fail(
                path,
                f"'defaults' gives {key!r} a value that is not a number, one-line string, "
                "true/false or list of numbers",
            )
    return dict(defaults)


def _conflicts(path: Path, data: dict[str, Any]) -> tuple[Conflict, ...]:
    raw_list = data.get("conflicts", [])
    if not isinstance(raw_list, list):
        raise _fail(path, "'conflicts' must be an array of tables ([[conflicts]])")
    conflicts = []
    for raw in raw_list:
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("recipe"), str)
            or set(raw) - {"recipe", "why"}
        ):
            raise _fail(path, "each [[conflicts]] entry needs 'recipe' and 'why'")
        if not NAME_RE.match(raw["recipe"]):
            raise _fail(path, f"[[conflicts]] names {raw['recipe']!r}, which is not a recipe name")
        why = _text(path, {"why": raw.get("why", "they conflict")}, "why")
        conflicts.append(Conflict(recipe=raw["recipe"], why=why))
    return tuple(conflicts)


def _is_numeric_param(param: Param | None) -> bool:
    return param is not None and param.type in ("int", "float")


def _check_below(path: Path, below: Any, target: Param, by_name: Mapping[str, Param]) -> None:
    if _is_number(below) or (
        isinstance(below, str) and _is_numeric_param(by_name.get(below)) and below != target.name
    ):
        return
    raise _fail(
        path,
        f"the 'below' of the limit on {target.name!r} must be a number or the name "
        "of another numeric parameter",
    )


def _check_when(path: Path, when: Any, target: Param, by_name: Mapping[str, Param]) -> None:
    if not isinstance(when, dict) or not when:
        raise _fail(path, f"the 'when' of the limit on {target.name!r} must be a table")
    for name, value in when.items():
        other = by_name.get(name)
        if other is None or other.type not in ("choice", "bool"):
            raise _fail(path, f"a limit's 'when' names {name!r}, not a choice or bool parameter")
        if (other.type == "bool") != isinstance(value, bool) or (
            other.type == "choice" and value not in other.choices
        ):
            raise _fail(path, f"a limit's 'when' gives {name!r} a value it cannot take")


def _limit(path: Path, entry: Any, by_name: Mapping[str, Param]) -> Limit:
    if not isinstance(entry, dict) or set(entry) != _LIMIT_KEYS:
        raise _fail(path, "each [[limits]] entry needs exactly param, below, when and why")
    target = by_name.get(entry["param"]) if isinstance(entry["param"], str) else None
    if target is None or not _is_numeric_param(target):
        raise _fail(
            path, f"the 'param' of a limit must name a numeric parameter: {entry['param']!r}"
        )
    _check_below(path, entry["below"], target, by_name)
    _check_when(path, entry["when"], target, by_name)
    if not isinstance(entry["why"], str) or _text_problem(entry["why"]):
        raise _fail(path, f"the 'why' of the limit on {target.name!r} must be one line of text")
    return Limit(target.name, entry["below"], tuple(entry["when"].items()), entry["why"])


def _limits(path: Path, data: dict[str, Any], params: tuple[Param, ...]) -> tuple[Limit, ...]:
    raw = data.get("limits", [])
    if not isinstance(raw, list):
        raise _fail(path, "'limits' must be an array of tables ([[limits]])")
    by_name = {p.name: p for p in params}
    return tuple(_limit(path, entry, by_name) for entry in raw)


def _read_meta(folder: Path) -> dict[str, Any]:
    meta = folder / "recipe.toml"
    try:
        text = read_text(meta, limit=TOML_LIMIT)
    except FileRefused as exc:
        if exc.missing:
            raise _fail(folder, "no recipe.toml") from None
        raise _fail(meta, f"recipe.toml {exc.reason}") from None
    try:
        data = load_toml(text, meta)  # tomllib.loads, memoised on disk
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise _fail(meta, f"recipe.toml does not parse ({exc})") from None
    except (RecursionError, MemoryError):
        raise _fail(meta, "recipe.toml nests its arrays or tables too deeply") from None
    if not isinstance(data, dict):
        raise _fail(meta, "recipe.toml does not parse")
    return data


def _params(meta: Path, data: dict[str, Any], kind: str) -> tuple[Param, ...]:
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
    return params


def _order(meta: Path, data: dict[str, Any]) -> int:
    order = data.get("order", 50)
    if isinstance(order, bool) or not isinstance(order, int) or abs(order) > 10**6:
        raise _fail(meta, "'order' must be an integer (from -1000000 to 1000000)")
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
        raise _fail(meta, f"unknown key(s) {', '.join(sorted(unknown))}")
    name = _text(meta, data, "name")
    if not NAME_RE.match(name):
        raise _fail(meta, f"recipe name {name!r} must be kebab-case")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise _fail(meta, f"'kind' must be one of {', '.join(KINDS)}")
    params = _params(meta, data, kind)
    docs = data.get("docs", {})
    if not isinstance(docs, dict) or set(docs) - _DOC_KEYS:
        raise _fail(meta, f"'docs' is a table with keys {', '.join(sorted(_DOC_KEYS))}")
    order = _order(meta, data)
    template = template_file(kind)
    recipe = Recipe(
        name=name,
        kind=kind,
        title=_text(meta, data, "title"),
        summary=_text(meta, data, "summary"),
        path=folder,
        tags=_texts(meta, data, "tags"),
        aliases=_texts(meta, data, "aliases"),
        params=params,
        requires=_texts(meta, data, "requires", form=(REQUIREMENT_RE, "a module or package name")),
        conflicts=_conflicts(meta, data),
        related=_texts(meta, data, "related", form=(NAME_RE, "a recipe name")),
        when=_text(meta, docs, "when", required=False, multiline=True),
        pitfalls=_texts(meta, docs, "pitfalls", multiline=True),
        notes=_text(meta, docs, "notes", required=False, multiline=True),
        order=order,
        defaults=MappingProxyType(_defaults(meta, data)),
        essential=_texts(meta, data, "essential"),
        source=source,
        limits=_limits(meta, data, params),
    )
    if name != BASE_RECIPE and not (folder / template).is_file():
        raise _fail(folder, f"a {kind} recipe needs a {template} template")
    return recipe
