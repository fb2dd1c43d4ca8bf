"""The parameter schema: what a recipe declares in [[params]] and [[limits]], read and
checked from its recipe.toml (one sentence per problem)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from snippetgen.recipes.datamodel import DATA_SOURCES
from snippetgen.recipes.metatext import NAME_RE, fail, is_number, text_problem

PARAM_TYPES = ("int", "float", "bool", "str", "choice", "int_list", "float_list")
# Options of `snippetgen render` itself, and flags every training script already has.
RESERVED_NAMES = frozenset(
    {"with", "output", "force", "color", "help", "data", "model", "format", "recipe", "project"}
)
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
CHOICE_LIMIT = 200  # characters of a choice
MAX_LENGTH_LIMIT = 10_000  # the largest max_length of a str parameter
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
_LIMIT_KEYS = {"param", "below", "when", "why"}


# NamedTuples, like the records in snippetgen.recipes.recipe: cheap to create at start-up.


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


def _param_name(path: Path, raw: Any) -> str:
    if not isinstance(raw, dict):
        raise fail(path, "each [[params]] entry must be a table")
    unknown = set(raw) - _PARAM_KEYS
    if unknown:
        raise fail(path, f"unknown parameter key(s) {', '.join(sorted(unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise fail(path, f"parameter name {name!r} must be kebab-case, like 'warmup-epochs'")
    if name in RESERVED_NAMES:
        raise fail(path, f"parameter name {name!r} is taken by snippetgen's own render options")
    return name


def _param_type_and_help(path: Path, raw: dict[str, Any], name: str) -> tuple[str, str]:
    ptype = raw.get("type")
    if not isinstance(ptype, str) or ptype not in PARAM_TYPES:
        raise fail(
            path, f"parameter {name!r} has type {ptype!r}; use one of {', '.join(PARAM_TYPES)}"
        )
    help_text = raw.get("help")
    if not isinstance(help_text, str) or not help_text.strip():
        raise fail(path, f"parameter {name!r} needs a 'help' string")
    problem = text_problem(help_text)
    if problem:
        raise fail(path, f"the 'help' of parameter {name!r} {problem}")
    return ptype, help_text


def _check_bounds(path: Path, raw: dict[str, Any], name: str, ptype: str) -> None:
    numeric = ptype in ("int", "float", "int_list", "float_list")
    for bound in ("min", "max"):
        value = raw.get(bound)
        if value is not None and not is_number(value):
            raise fail(path, f"parameter {name!r} has a non-numeric '{bound}'")
        if value is not None and not numeric:
            raise fail(path, f"parameter {name!r} is a {ptype}: '{bound}' is only for numbers")
    for flag in ("min_exclusive", "max_exclusive"):
        if not isinstance(raw.get(flag, False), bool):
            raise fail(path, f"'{flag}' of parameter {name!r} must be true or false")
    if raw.get("min") is not None and raw.get("max") is not None and raw["min"] > raw["max"]:
        raise fail(path, f"parameter {name!r} has a 'min' larger than its 'max'")


def _param_choices(path: Path, raw: dict[str, Any], name: str, ptype: str) -> tuple[str, ...]:
    choices = raw.get("choices")
    if ptype != "choice":
        if choices is not None:
            raise fail(
                path, f"parameter {name!r} is a {ptype}: 'choices' is only for type \"choice\""
            )
        return ()
    if (
        not isinstance(choices, list)
        or not choices
        or not all(isinstance(c, str) and c.strip() for c in choices)
    ):
        raise fail(path, f"choice parameter {name!r} needs a list of string 'choices'")
    if len(set(choices)) != len(choices):
        raise fail(path, f"the 'choices' of parameter {name!r} repeat")
    for choice in choices:
        if len(choice) > CHOICE_LIMIT or not choice.isprintable():
            raise fail(
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
        raise fail(
            path, f"parameter {name!r} is a {ptype}: 'pattern' and 'max_length' are only for str"
        )
    if pattern is not None:
        if not isinstance(pattern, str) or not pattern:
            raise fail(path, f"the 'pattern' of parameter {name!r} must be a non-empty string")
        from snippetgen.recipes.safepattern import pattern_problem

        problem = pattern_problem(pattern)
        if problem:
            raise fail(path, f"the 'pattern' of parameter {name!r} is refused: {problem}")
    if (
        isinstance(max_length, bool)
        or not isinstance(max_length, int)
        or not (1 <= max_length <= MAX_LENGTH_LIMIT)
    ):
        raise fail(
            path,
            f"'max_length' of parameter {name!r} must be a whole number from 1 to {MAX_LENGTH_LIMIT}",
        )
    return pattern, max_length


def _param_sources(path: Path, raw: dict[str, Any], name: str) -> tuple[str, ...]:
    sources = raw.get("data", [])
    if not isinstance(sources, list) or not all(s in DATA_SOURCES for s in sources):
        raise fail(
            path,
            f"the 'data' of parameter {name!r} must be a list of data sources "
            f"({', '.join(DATA_SOURCES)})",
        )
    return tuple(sources)


def load_param(path: Path, raw: Any) -> Param:
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
    from snippetgen.recipes.params.parse import validate_default

    try:
        validate_default(param)
    except ValueError as exc:
        raise fail(path, f"default of parameter {name!r} is invalid ({exc})") from None
    return param


def _is_numeric_param(param: Param | None) -> bool:
    return param is not None and param.type in ("int", "float")


def _check_below(path: Path, below: Any, target: Param, by_name: Mapping[str, Param]) -> None:
    if is_number(below) or (
        isinstance(below, str) and _is_numeric_param(by_name.get(below)) and below != target.name
    ):
        return
    raise fail(
        path,
        f"the 'below' of the limit on {target.name!r} must be a number or the name "
        "of another numeric parameter",
    )


def _check_when(path: Path, when: Any, target: Param, by_name: Mapping[str, Param]) -> None:
    if not isinstance(when, dict) or not when:
        raise fail(path, f"the 'when' of the limit on {target.name!r} must be a table")
    for name, value in when.items():
        other = by_name.get(name)
        if other is None or other.type not in ("choice", "bool"):
            raise fail(path, f"a limit's 'when' names {name!r}, not a choice or bool parameter")
        if (other.type == "bool") != isinstance(value, bool) or (
            other.type == "choice" and value not in other.choices
        ):
            raise fail(path, f"a limit's 'when' gives {name!r} a value it cannot take")


def _limit(path: Path, entry: Any, by_name: Mapping[str, Param]) -> Limit:
    if not isinstance(entry, dict) or set(entry) != _LIMIT_KEYS:
        raise fail(path, "each [[limits]] entry needs exactly param, below, when and why")
    target = by_name.get(entry["param"]) if isinstance(entry["param"], str) else None
    if target is None or not _is_numeric_param(target):
        raise fail(
            path, f"the 'param' of a limit must name a numeric parameter: {entry['param']!r}"
        )
    _check_below(path, entry["below"], target, by_name)
    _check_when(path, entry["when"], target, by_name)
    if not isinstance(entry["why"], str) or text_problem(entry["why"]):
        raise fail(path, f"the 'why' of the limit on {target.name!r} must be one line of text")
    return Limit(target.name, entry["below"], tuple(entry["when"].items()), entry["why"])


def load_limits(path: Path, data: dict[str, Any], params: tuple[Param, ...]) -> tuple[Limit, ...]:
    raw = data.get("limits", [])
    if not isinstance(raw, list):
        raise fail(path, "'limits' must be an array of tables ([[limits]])")
    by_name = {p.name: p for p in params}
    return tuple(_limit(path, entry, by_name) for entry in raw)


def load_params(meta: Path, data: dict[str, Any], kind: str) -> tuple[Param, ...]:
    params_raw = data.get("params", [])
    if not isinstance(params_raw, list):
        raise fail(meta, "'params' must be an array of tables ([[params]])")
    params = tuple(load_param(meta, raw) for raw in params_raw)
    names = [p.name for p in params]
    if kind == "feature" and SCRIPT_FLAGS & set(names):
        taken = ", ".join(sorted(SCRIPT_FLAGS & set(names)))
        raise fail(meta, f"parameter name(s) {taken} clash with the training script's own flags")
    if len(names) != len(set(names)):
        raise fail(meta, "parameter names repeat")
    return params
