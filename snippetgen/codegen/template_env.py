"""The Jinja environment recipes render in: sandboxed, strict, and literal-only output.

Every ``{{ expression }}`` in a recipe template passes through :func:`_finalize`: a
:class:`Code` value (slot output, validated identifiers, generated blocks) is inserted
as is, and anything else (numbers, strings, lists from parameters) is inserted as its
Python literal (``repr``, quoted the way black quotes). A parameter value can therefore
only ever become a Python literal.
"""

from __future__ import annotations

import keyword
import os
import posixpath
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    PrefixLoader,
    StrictUndefined,
    TemplateNotFound,
    Undefined,
)
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment

from snippetgen.recipes.params.literal import py_literal


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


MAX_INT_BITS = 4096  # far beyond any number a recipe needs, and computed instantly
MAX_REPEAT_LEN = 100_000  # the longest string or list ``*`` may build (Jinja's range limit)


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with the operators that could stall a render bounded: ``**``
    (``9**(9**9)`` is a single C call that would not return for hours), ``*`` between
    integers (squaring in a loop grows as fast) and sequence repetition (``'x' * 10**9``).
    They are intercepted at render time; Jinja does not fold intercepted operators into
    constants when it compiles a template."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        if operator == "*":
            _check_product(left, right)
        return super().call_binop(context, operator, left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_power(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right) and right > 0:
        bits = abs(left).bit_length()
        if bits > 1 and (bits - 1) * right > MAX_INT_BITS:
            raise SecurityError(f"power too large: the result would exceed {MAX_INT_BITS} bits")


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):  # squaring in a loop grows as fast as **
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            raise SecurityError(f"product too large: over {MAX_INT_BITS} bits")
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and _is_int(times):
            if len(seq) * times > MAX_REPEAT_LEN:
                raise SecurityError(
                    f"repetition too long: over {MAX_REPEAT_LEN} items or characters"
                )


class _RecipeFolderLoader(BaseLoader):
    """Templates from one recipe folder, and only from there: a name with ``..`` is not
    found (Jinja's own rule), a link that leads out of the folder is refused, and only a
    regular file is opened (never a FIFO or a device, which would block or never end)."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        from snippetgen.safefile import FileRefused, inside, read_text

        filename = posixpath.join(self.folder, *split_template_path(template))
        if not os.path.lexists(filename):
            raise TemplateNotFound(template)
        if not inside(Path(filename), Path(self.folder)):
            raise SecurityError(
                f"template {template!r} is a link to a file outside its recipe folder"
            )
        try:
            mtime = Path(filename).stat().st_mtime
            source = read_text(filename)
        except FileRefused as exc:
            if exc.missing:  # a dangling link
                raise TemplateNotFound(template) from None
            raise SecurityError(f"template {template!r} {exc.reason}") from None
        except OSError:
            raise TemplateNotFound(template) from None

        def uptodate() -> bool:
            try:
                return Path(filename).stat().st_mtime == mtime
            except OSError:
                return False

        return source, os.path.normpath(filename), uptodate


def make_env(folders: dict[str, Path]) -> ImmutableSandboxedEnvironment:
    """An environment whose templates are addressed as ``<recipe>/<file>``."""
    loader = PrefixLoader(
        {name: _RecipeFolderLoader(path) for name, path in folders.items()}, delimiter="/"
    )
    env = _BoundedSandbox(
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
