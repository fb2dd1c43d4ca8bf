"""Python source literals for validated values, spelled the way black would spell them.

A render whose text black leaves unchanged is formatted once and needs no second pass, so
the literals snippetgen inserts follow black's preferences: double-quoted strings where the
value holds no quote character, and lists as ``[a, b]``.
"""

from __future__ import annotations

from typing import Any


def py_literal(value: Any) -> str:
    """The source literal of ``value`` (None, bool, int, float, str, or a list/tuple of them).

    ``ast.literal_eval(py_literal(v)) == v`` always holds; only the quoting differs from repr.
    """
    if isinstance(value, str):
        text = repr(value)
        if text[0] == "'" and '"' not in value and "'" not in value:
            return f'"{text[1:-1]}"'  # same escapes: only the delimiters change
        return text
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if type(value) is tuple:  # not a NamedTuple: a record is not a value to spell out
        inner = ", ".join(py_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, float):
        return repr(value).replace("e+", "e")  # black writes 1e16, not 1e+16
    if value is None or isinstance(value, bool | int):
        return repr(value)
    raise TypeError(f"no literal for a {type(value).__name__}")
