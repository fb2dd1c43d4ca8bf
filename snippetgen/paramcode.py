"""Generated code derived from the parameter schema: argparse options and their checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from snippetgen.recipe import Param


def cli_text(param: Param, value: Any) -> str:
    """How a value is written on the command line (the inverse of parse_value)."""
    if param.type == "bool":
        return "true" if value else "false"
    if param.type in ("int_list", "float_list"):
        return ",".join(repr(v) for v in value)
    if param.type == "float":
        return repr(float(value))
    return str(value)


def _help(param: Param) -> str:
    text = param.help
    rng = param.range_text()
    if rng and not param.choices:
        text += f" ({rng})"
    return text.replace("%", "%%")


def argparse_lines(params: Iterable[Param], values: Mapping[str, Any]) -> str:
    lines = []
    for param in params:
        value = values[param.name]
        default = repr(list(value) if isinstance(value, list | tuple) else value)
        args = [repr(param.option)]
        if param.type == "bool":
            args.append("action=argparse.BooleanOptionalAction")
        elif param.type in ("int_list", "float_list"):
            args.append(f"type={param.type}")
        elif param.type == "choice":
            args.append(f"choices={list(param.choices)!r}")
        else:
            args.append(f"type={'str' if param.type == 'str' else param.type}")
        args.append(f"default={default}")
        args.append(f"help={_help(param)!r}")
        lines.append(f"parser.add_argument({', '.join(args)})")
    return "\n".join(lines)


def _condition(param: Param, var: str) -> str | None:
    if param.min is None and param.max is None:
        return None
    text = var
    if param.min is not None:
        text = f"{param.min!r} {'<' if param.min_exclusive else '<='} {text}"
    if param.max is not None:
        text = f"{text} {'<' if param.max_exclusive else '<='} {param.max!r}"
    return text


def check_lines(params: Iterable[Param]) -> str:
    lines = []
    for param in params:
        if param.type in ("int_list", "float_list"):
            cond = _condition(param, "value")
            if cond:
                test = f"all({cond} for value in args.{param.dest})"
            else:
                continue
        else:
            cond = _condition(param, f"args.{param.dest}")
            if cond is None or param.type not in ("int", "float"):
                continue
            test = cond
        message = f"{param.option} must satisfy {param.range_text()}"
        lines.append(f"if not ({test}):\n    parser.error({message!r})")
    return "\n".join(lines)


def list_types_used(params: Iterable[Param]) -> list[str]:
    return sorted({p.type for p in params if p.type in ("int_list", "float_list")})
