"""Generated code derived from the parameter schema: argparse options and their checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from snippetgen.codegen.codecheck import LINE_LENGTH
from snippetgen.recipes.params.literal import py_literal
from snippetgen.recipes.params.schema import Limit, Param


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


def call_lines(func: str, args: list[str], indent: int) -> list[str]:
    """A call laid out as black lays it out: one line, else the arguments on one indented
    line, else one argument a line with a trailing comma."""
    multiline = any("\n" in arg for arg in args)
    one = f"{func}({', '.join(args)})"
    if not multiline and indent + len(one) <= LINE_LENGTH:
        return [one]
    middle = ", ".join(args)
    # one argument (black cannot split it further) or all of them fit on one indented line
    if not multiline and (len(args) == 1 or indent + 4 + len(middle) <= LINE_LENGTH):
        return [f"{func}(", f"    {middle}", ")"]
    return [f"{func}(", *(f"    {arg}," for arg in args), ")"]


def _choices(choices: tuple[str, ...], indent: int) -> str:
    """``choices=[...]``, one choice a line when the list does not fit on the argument's line."""
    flat = f"choices={py_literal(list(choices))}"
    if indent + 4 + len(flat) + 1 <= LINE_LENGTH:
        return flat
    items = "".join(f"        {py_literal(c)},\n" for c in choices)
    return f"choices=[\n{items}    ]"


def argparse_lines(params: Iterable[Param], values: Mapping[str, Any], indent: int = 4) -> str:
    """``parser.add_argument(...)`` for each parameter, for a block indented ``indent``."""
    lines = []
    for param in params:
        value = values[param.name]
        default = py_literal(list(value) if isinstance(value, list | tuple) else value)
        args = [py_literal(param.option)]
        if param.type == "bool":
            args.append("action=argparse.BooleanOptionalAction")
        elif param.type in ("int_list", "float_list"):
            args.append(f"type={param.type}")
        elif param.type == "choice":
            args.append(_choices(param.choices, indent))
        else:
            args.append(f"type={'str' if param.type == 'str' else param.type}")
        args.append(f"default={default}")
        args.append(f"help={py_literal(_help(param))}")
        lines.extend(call_lines("parser.add_argument", args, indent))
    return "\n".join(lines)


def _condition(param: Param, var: str) -> str | None:
    if param.min is None and param.max is None:
        return None
    text = var
    if param.min is not None:
        text = f"{py_literal(param.min)} {'<' if param.min_exclusive else '<='} {text}"
    if param.max is not None:
        text = f"{text} {'<' if param.max_exclusive else '<='} {py_literal(param.max)}"
    return text


def check_lines(params: Iterable[Param], limits: Iterable[Limit] = (), indent: int = 4) -> str:
    """The script's checks of its arguments: each declared range, then each limit."""
    params = list(params)
    by_name = {p.name: p for p in params}
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
        lines.append(f"if not ({test}):\n    parser.error({py_literal(message)})")
    for limit in limits:
        when = " and ".join(
            f"args.{by_name[name].dest} == {py_literal(value)}" for name, value in limit.when
        )
        tail = f" with {limit.condition_text()} ({limit.why})"
        dest = by_name[limit.param].dest
        if isinstance(limit.below, str):  # an f-string of validated names; its text escaped
            other = by_name[limit.below].dest
            braced = tail.replace("{", "{{").replace("}", "}}")
            message = "f" + py_literal(
                f"--{limit.param} ({{args.{dest}}}) must be less than "
                f"--{limit.below} ({{args.{other}}}){braced}"
            )
            bound = f"args.{other}"
        else:
            message = py_literal(f"--{limit.param} must be < {limit.bound_text()}{tail}")
            bound = py_literal(limit.below)
        test = f"{when} and not (args.{dest} < {bound})"
        body = call_lines("parser.error", [message], indent + 4)
        lines.append(f"if {test}:\n" + "\n".join(f"    {line}" for line in body))
    return "\n".join(lines)


def list_types_used(params: Iterable[Param]) -> list[str]:
    return sorted({p.type for p in params if p.type in ("int_list", "float_list")})
