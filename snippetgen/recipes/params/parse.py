"""Typed parameters: CLI strings in, validated Python values and literals out.

One schema (:class:`snippetgen.recipes.recipe.Param`) drives the CLI, ``--help``, validation and
the generated script's argparse defaults. Values reach generated code only as the
literal of a validated int, float, bool, str or list (:func:`snippetgen.recipes.params.literal.py_literal`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from snippetgen.errors import (
    MissingValueError,
    ParamValueError,
    StrayArgumentError,
    UnknownParamError,
)
from snippetgen.recipes.datamodel import not_for_source

if TYPE_CHECKING:  # the schema checks each declared default here: no import back at run time
    from snippetgen.recipes.params.schema import Param

_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
# Sanity limits for parameters that declare no bound of their own.
INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e12
TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "choice": "a choice",
    "int_list": "a comma-separated list of integers",
    "float_list": "a comma-separated list of numbers",
}


def _bad(param: Param, value: object, reason: str) -> ParamValueError:
    return ParamValueError(param=param.name, value=value, reason=reason)


def _check_range(param: Param, number: float, shown: object) -> None:
    if not math.isfinite(number):
        raise _bad(param, shown, "it must be a finite number")
    limit = INT_LIMIT if param.type in ("int", "int_list") else FLOAT_LIMIT
    lo_ok = param.min is None or (
        number > param.min if param.min_exclusive else number >= param.min
    )
    hi_ok = param.max is None or (
        number < param.max if param.max_exclusive else number <= param.max
    )
    if not (lo_ok and hi_ok):
        raise _bad(param, shown, f"it must satisfy {param.range_text()}")
    if abs(number) > limit:
        raise _bad(param, shown, f"its magnitude must be at most {limit:g}")


def _parse_int(param: Param, text: str, shown: object) -> int:
    text = text.strip()
    if len(text) > 20 or not _INT_RE.fullmatch(text):
        raise _bad(param, shown, "it must be an integer")
    value = int(text)
    _check_range(param, value, shown)
    return value


def _parse_float(param: Param, text: str, shown: object) -> float:
    text = text.strip()
    if len(text) > 40 or not _FLOAT_RE.fullmatch(text):
        raise _bad(param, shown, "it must be a finite number, like 0.1 or 1e-4")
    value = float(text)
    _check_range(param, value, shown)
    return value


def _parse_list(param: Param, text: str, shown: object) -> list[Any]:
    parts = [p.strip() for p in text.split(",")]
    if len(text) > 400 or not parts or any(not p for p in parts):
        raise _bad(param, shown, f"it must be {TYPE_WORDS[param.type]}, like 30,60,90")
    if param.type == "int_list":
        return [_parse_int(param, p, shown) for p in parts]
    return [_parse_float(param, p, shown) for p in parts]


def _check_str(param: Param, value: str, shown: object) -> str:
    if not value.strip():
        raise _bad(param, shown, "it must not be empty")
    if len(value) > param.max_length:
        raise _bad(param, shown, f"it must be at most {param.max_length} characters")
    if any(not ch.isprintable() for ch in value):
        raise _bad(param, shown, "it must not contain control characters or newlines")
    if param.pattern and not re.fullmatch(param.pattern, value):
        raise _bad(param, shown, f"it must match the pattern {param.pattern}")
    return value


def parse_value(param: Param, text: str) -> Any:
    """Turn a command-line string into the parameter's typed, range-checked value."""
    if param.type == "int":
        return _parse_int(param, text, text)
    if param.type == "float":
        return _parse_float(param, text, text)
    if param.type == "bool":
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise _bad(param, text, "it must be true or false")
    if param.type == "choice":
        if text not in param.choices:
            raise _bad(param, text, f"it must be {param.range_text()}")
        return text
    if param.type in ("int_list", "float_list"):
        return _parse_list(param, text, text)
    return _check_str(param, text, text)


def _typed(param: Param, value: Any) -> tuple[bool, Any]:
    """Whether a Python value has the parameter's type, and the value (a float for an int
    given to a float parameter)."""
    if param.type == "int":
        return isinstance(value, int) and not isinstance(value, bool), value
    if param.type == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if param.type == "bool":
        return isinstance(value, bool), value
    if param.type in ("int_list", "float_list"):
        return isinstance(value, list | tuple) and len(value) > 0, value
    return isinstance(value, str), value


def coerce(param: Param, value: Any) -> Any:
    """Validate a value given from Python (or a recipe default); strings are parsed."""
    if isinstance(value, str) and param.type != "str":
        return parse_value(param, value)
    ok, value = _typed(param, value)
    if not ok:
        raise _bad(param, value, f"it must be {TYPE_WORDS[param.type]}")
    if param.type in ("int_list", "float_list"):
        return _parse_list(param, ",".join(str(v) for v in value), value)
    if param.type in ("int", "float"):
        _check_range(param, value, value)
    if param.type == "str":
        _check_str(param, value, value)
    return value


def validate_default(param: Param) -> None:
    """Raise ValueError when a recipe's declared default would not pass its own checks."""
    if param.default is None:
        raise ValueError("no default given")
    try:
        coerce(param, param.default)
    except ParamValueError as exc:
        raise ValueError(str(exc)) from None


def _option_param(
    params: Mapping[str, Param],
    name: str,
    *,
    recipe: str,
    inapplicable: Mapping[str, Param],
    data: str,
) -> Param:
    """The parameter an option names; an option the data source leaves out, or an unknown
    one, is refused."""
    param = params.get(name)
    if param is not None:
        return param
    skipped = inapplicable.get(name) or inapplicable.get(name[3:])
    if skipped is not None:
        raise not_for_source(skipped.option, skipped.data, data)
    raise UnknownParamError(
        option=f"--{name}", recipe=recipe, known=[p.option for p in params.values()]
    )


def _negation(params: Mapping[str, Param], name: str, eq: str) -> tuple[str, bool]:
    """``no-flag`` (with no ``=value``) for a boolean ``flag``: ("flag", True)."""
    if name not in params and name.startswith("no-") and not eq:
        base = params.get(name[3:])
        if base is not None and base.type == "bool":
            return name[3:], True
    return name, False


def parse_cli_args(
    params: Mapping[str, Param],
    args: list[str],
    *,
    recipe: str,
    inapplicable: Mapping[str, Param] | None = None,
    data: str = "",
) -> dict[str, Any]:
    """Parse ``--name value`` and ``--name=value`` pairs; ``--flag``/``--no-flag`` for booleans.

    ``inapplicable`` holds the recipe's parameters that the ``data`` source leaves out.
    """
    values: dict[str, Any] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or len(token) < 3:
            raise StrayArgumentError(token=token)
        name, eq, inline = token[2:].partition("=")
        name, negated = _negation(params, name, eq)
        param = _option_param(
            params, name, recipe=recipe, inapplicable=inapplicable or {}, data=data
        )
        flag_alone = i + 1 >= len(args) or args[i + 1].startswith("--")
        if eq:
            text = inline
        elif param.type == "bool" and flag_alone:
            text = "false" if negated else "true"
        elif i + 1 >= len(args):
            raise MissingValueError(param=name)
        else:
            i += 1
            text = args[i]
        values[name] = parse_value(param, text)
        i += 1
    return values
