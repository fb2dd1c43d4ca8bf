"""The Jinja environment recipes render in: sandboxed, strict, and literal-only output.

Every ``{{ expression }}`` in a recipe template passes through :func:`_finalize`: a
:class:`Code` value (slot output, validated identifiers, generated blocks) is inserted
as is, and anything else (numbers, strings, lists from parameters) is inserted as its
Python literal (``repr``, quoted the way black quotes). A parameter value can therefore
only ever become a Python literal.
"""

from __future__ import annotations

import keyword
import textwrap
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, PrefixLoader, StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from snippetgen.pyliteral import py_literal


class Code(str):
    """Trusted source text: produced by snippetgen itself, never taken from user input."""

    __slots__ = ()


def _finalize(value: Any) -> str:
    if isinstance(value, Code):
        return value
    if isinstance(value, bool | int | float | str | list | tuple | type(None)):
        return py_literal(value)
    if isinstance(value, Undefined):  # say which name is undefined (or which access is unsafe)
        str(value)  # StrictUndefined raises UndefinedError or SecurityError here
    raise TypeError(f"cannot insert a {type(value).__name__} into generated code")


def ident(name: Any) -> Code:
    """A validated Python identifier, for templates that must name something."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{name!r} is not a valid Python identifier")
    if not name.isascii():
        raise ValueError(f"{name!r} is not an ASCII identifier")
    return Code(name)


def indent_code(text: str, width: int) -> Code:
    """Dedent ``text``, then indent every line but the first by ``width`` spaces."""
    body = textwrap.dedent(text).strip("\n")
    if not body:
        return Code("")
    pad = " " * width
    lines = body.splitlines()
    return Code("\n".join([lines[0]] + [(pad + ln) if ln.strip() else "" for ln in lines[1:]]))


def make_env(folders: dict[str, Path]) -> ImmutableSandboxedEnvironment:
    """An environment whose templates are addressed as ``<recipe>/<file>``."""
    loader = PrefixLoader(
        {name: FileSystemLoader(str(path)) for name, path in folders.items()}, delimiter="/"
    )
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.globals["ident"] = ident
    return env
