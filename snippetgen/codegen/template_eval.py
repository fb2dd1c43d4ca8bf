"""The expressions of the recipe templates' Jinja subset, evaluated without Jinja.

:mod:`snippetgen.codegen.template_text` reads a template's tags; this module evaluates what stands in
its ``{{ expression }}`` and ``{% if condition %}`` tags, as Jinja would, for given parameter
values: constants (``true``/``none`` included), lists and tuples, ``p.name`` and
``p["name"]``, ``features``, ``feature_list``, ``has("amp")``, ``ident("name")``,
comparisons, ``and``/``or``/``not``, unary ``-``/``+`` and ``x if c else y``. Anything else
raises :class:`Unknown`.
"""

from __future__ import annotations

import ast
import keyword
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from snippetgen.recipes.params.literal import py_literal


class Unknown(Exception):
    """An expression this reader does not evaluate."""


class _Identifier(str):
    """ident("name"): inserted as is, not as a string literal."""


_CONSTANT_TYPES = (str, int, float, bool, type(None))  # the literals Jinja's syntax has
_JINJA_NAMES = {"true": True, "false": False, "none": None}
_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: lambda a: not a,
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: +a,
}


def _is_identifier(name: Any) -> bool:
    """What ``ident()`` accepts (snippetgen.codegen.template_env.ident)."""
    return (
        isinstance(name, str)
        and name.isidentifier()
        and name.isascii()
        and not keyword.iskeyword(name)
    )


class Evaluator:
    """Evaluates the expressions of the subset, as Jinja would, for given parameter values."""

    def __init__(self, values: Mapping[str, Any], features: Sequence[str]) -> None:
        self.values = dict(values)
        self.features = list(features)
        self.handlers: dict[type[ast.AST], Callable[[Any], Any]] = {
            ast.Constant: self._constant,
            ast.Name: self._name,
            ast.Attribute: self._attribute,
            ast.Subscript: self._subscript,
            ast.List: lambda node: [self.eval(item) for item in node.elts],
            ast.Tuple: lambda node: tuple(self.eval(item) for item in node.elts),
            ast.UnaryOp: self._unary,
            ast.BoolOp: self._bool_op,
            ast.Compare: self._compare,
            ast.IfExp: self._if_expression,
            ast.Call: self._call,
        }

    def __call__(self, expression: str) -> Any:
        source = expression.strip()
        if "\n" in source:  # Jinja reads a tag over several lines; Python needs brackets
            source = f"({source})"
        try:
            tree = ast.parse(source, mode="eval")
        except SyntaxError:
            raise Unknown(expression) from None
        return self.eval(tree.body)

    def eval(self, node: ast.AST) -> Any:
        handler = self.handlers.get(type(node))
        if handler is None:
            raise Unknown(ast.dump(node))
        return handler(node)

    def _constant(self, node: ast.Constant) -> Any:
        if not isinstance(node.value, _CONSTANT_TYPES):  # b"", 1j, ...: not Jinja syntax
            raise Unknown(repr(node.value))
        return node.value

    def _name(self, node: ast.Name) -> Any:
        if node.id in _JINJA_NAMES:
            return _JINJA_NAMES[node.id]
        if node.id == "features":
            return list(self.features)
        if node.id == "feature_list":
            return _Identifier(", ".join(self.features))
        raise Unknown(node.id)

    def _parameter(self, name: Any) -> Any:
        if isinstance(name, str) and name in self.values:
            return self.values[name]
        raise Unknown(repr(name))

    def _attribute(self, node: ast.Attribute) -> Any:
        # p.keys is the dict's method in Jinja, not a parameter named "keys"
        if (
            isinstance(node.value, ast.Name)
            and node.value.id == "p"
            and not hasattr(dict, node.attr)
        ):
            return self._parameter(node.attr)
        raise Unknown(node.attr)

    def _subscript(self, node: ast.Subscript) -> Any:
        if isinstance(node.value, ast.Name) and node.value.id == "p":
            return self._parameter(self.eval(node.slice))
        raise Unknown("subscript")

    def _unary(self, node: ast.UnaryOp) -> Any:
        operator = _UNARY.get(type(node.op))
        if operator is None:
            raise Unknown("operator")
        return _guarded(operator, self.eval(node.operand))

    def _bool_op(self, node: ast.BoolOp) -> Any:
        """``and``/``or`` give an operand, as in Python and Jinja, and stop at the first
        that decides (an operand after it need not be known)."""
        wanted = isinstance(node.op, ast.Or)  # or stops at a true operand, and at a false one
        value: Any = None
        for item in node.values:
            value = self.eval(item)
            if bool(value) == wanted:
                return value
        return value

    def _compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            operator = _COMPARISONS.get(type(op))
            if operator is None:  # is, is not: Jinja tests, not identity
                raise Unknown("operator")
            right = self.eval(right_node)
            if not _guarded(operator, left, right):
                return False
            left = right
        return True

    def _if_expression(self, node: ast.IfExp) -> Any:
        return self.eval(node.body if self.eval(node.test) else node.orelse)

    def _call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or len(node.args) != 1 or node.keywords:
            raise Unknown("call")
        argument = self.eval(node.args[0])
        if node.func.id == "has":
            return argument in self.features
        if node.func.id == "ident" and _is_identifier(argument):
            return _Identifier(argument)
        raise Unknown(node.func.id)


def _guarded(operator: Callable[..., Any], *operands: Any) -> Any:
    """An operation whose TypeError (``1 < "a"``) Jinja would raise: not evaluated here."""
    try:
        return operator(*operands)
    except TypeError:
        raise Unknown("operands") from None


def literal_text(value: Any) -> str:
    """What the environment's finalize writes for a value: its literal, or an identifier."""
    if isinstance(value, _Identifier):
        return str(value)
    return py_literal(value)
