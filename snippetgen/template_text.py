"""Reading recipe templates without Jinja: macro bodies as plain code, and structure checks.

``show`` prints a feature's essential slot macros as plain Python, and ``list`` checks user
recipes, without importing Jinja (the look-up commands stay fast). This module knows the
small subset of Jinja that recipe templates use: ``{% macro %}``, ``{% if/elif/else %}``,
``{{ p.name }}`` and ``{{ ident("name") }}``. Conditions are evaluated for the given
parameter values (``p.kind == "step"``, ``has("amp")``); a condition it cannot evaluate
keeps every branch. Rendering for real is Jinja's job (snippetgen.rendering).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from snippetgen.pyliteral import py_literal

_CLOSERS = {"{%": "%}", "{{": "}}", "{#": "#}"}
_OPENERS = {"if", "for", "macro", "call", "filter", "block", "with", "raw", "autoescape"}
_MIDDLES = {"elif": "if", "else": ("if", "for")}


class _Tag:
    """One ``{% statement %}``, ``{{ expression }}`` or ``{# comment #}``, with the interface of
    a regular-expression match (group 1 the statement, group 2 the expression, each without
    its surrounding whitespace and ``-`` markers). The lazy expression this replaces took
    cubic time on an unclosed tag followed by whitespace; :func:`_tags` is linear."""

    __slots__ = ("_start", "_end", "_groups")

    def __init__(self, start: int, end: int, statement: str | None, expression: str | None) -> None:
        self._start, self._end, self._groups = start, end, (statement, expression)

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def group(self, index: int) -> str | None:
        return self._groups[index - 1]


def _tags(text: str) -> tuple[list[_Tag], list[tuple[str, int]]]:
    """Every tag of ``text`` in order, and the unclosed openers (each kind's first)."""
    found: list[_Tag] = []
    unclosed: list[tuple[str, int]] = []
    upcoming = {opener: -1 for opener in _CLOSERS}  # next position of each live opener
    position = 0
    while upcoming:
        for kind, at in list(upcoming.items()):
            if at < position:
                at = upcoming[kind] = text.find(kind, position)
            if at < 0:
                del upcoming[kind]
        if not upcoming:
            break
        opener = min(upcoming, key=upcoming.__getitem__)
        index = upcoming[opener]
        end = text.find(_CLOSERS[opener], index + 2)
        if end < 0:  # no later opener of this kind can close either
            del upcoming[opener]
            unclosed.append((opener, index))
            position = index + 1
            continue
        inner = text[index + 2 : end]
        content = inner.removeprefix("-").lstrip().removesuffix("-").rstrip()
        if opener == "{%":
            found.append(_Tag(index, end + 2, content, None))
        elif opener == "{{":
            found.append(_Tag(index, end + 2, None, content))
        else:
            found.append(_Tag(index, end + 2, None, None))
        position = end + 2
    return found, unclosed


def _without_tags(text: str, tags: list[_Tag]) -> str:
    pieces, position = [], 0
    for tag in tags:
        pieces.append(text[position : tag.start()])
        position = tag.end()
    pieces.append(text[position:])
    return "".join(pieces)


class TemplateShapeError(ValueError):
    """A template whose block tags do not nest (an unclosed if, a stray endmacro, ...)."""


@dataclass(frozen=True)
class Macro:
    name: str
    body: str  # the raw template text between the macro tags


def _word(statement: str) -> str:
    return statement.split(None, 1)[0] if statement.split() else ""


def structure_problems(text: str) -> list[str]:
    """Unbalanced or unknown block tags and unclosed delimiters, as short phrases."""
    problems: list[str] = []
    stack: list[tuple[str, int]] = []
    tags, unclosed = _tags(text)
    line, counted = 1, 0
    for match in tags:
        line += text.count("\n", counted, match.start())  # counted once: linear in the text
        counted = match.start()
        statement = match.group(1)
        if statement is None:
            continue
        word = _word(statement)
        if word in _OPENERS or (word == "set" and "=" not in statement):
            stack.append((word, line))
        elif word in _MIDDLES:
            allowed = _MIDDLES[word]
            if not stack or stack[-1][0] not in (allowed if isinstance(allowed, tuple) else (allowed,)):
                problems.append(f"{{% {word} %}} outside an if block at line {line}")
        elif word.startswith("end"):
            opener = word[3:]
            if not stack or stack[-1][0] != opener:
                problems.append(f"unexpected {{% {word} %}} at line {line}")
                continue
            stack.pop()
        elif word not in ("set", "include", "import", "from", "extends", "do", "break", "continue"):
            problems.append(f"unknown tag {{% {word} %}} at line {line}")
    for word, line in stack:
        problems.append(f"{{% {word} %}} at line {line} is never closed")
    for opener, index in unclosed:
        if opener != "{{":
            problems.append(f"unclosed {opener} near line {text.count(chr(10), 0, index) + 1}")
    return problems


def macros(text: str) -> list[Macro]:
    """The top-level ``{% macro name() %}`` blocks of a template, in order."""
    found: list[Macro] = []
    depth = 0
    start = 0
    name = ""
    for match in _tags(text)[0]:
        statement = match.group(1)
        if statement is None:
            continue
        word = _word(statement)
        if word == "macro":
            if depth == 0:
                head = statement[len("macro") :].strip()
                name = head.split("(", 1)[0].strip()
                start = _after_tag_line(text, match.end())
            depth += 1
        elif word == "endmacro":
            depth -= 1
            if depth == 0:
                found.append(Macro(name, text[start : _before_tag_line(text, match.start())]))
    return found


def _after_tag_line(text: str, end: int) -> int:
    """Where the text after a tag starts (trim_blocks drops the newline after a tag)."""
    return end + 1 if text[end : end + 1] == "\n" else end


def _before_tag_line(text: str, start: int) -> int:
    """Where the text before a tag ends (lstrip_blocks drops indentation before a tag)."""
    line_start = text.rfind("\n", 0, start) + 1
    return line_start if not text[line_start:start].strip() else start


class _Unknown(Exception):
    """An expression this reader does not evaluate."""


class _Evaluator:
    def __init__(self, values: Mapping[str, Any], features: Sequence[str]) -> None:
        self.values = dict(values)
        self.features = list(features)

    def __call__(self, expression: str) -> Any:
        source = re.sub(r"\btrue\b", "True", expression)
        source = re.sub(r"\bfalse\b", "False", source)
        source = re.sub(r"\bnone\b", "None", source)
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError:
            raise _Unknown(expression) from None
        return self.eval(tree.body)

    def eval(self, node: ast.AST) -> Any:  # noqa: C901 - one branch per node type
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id == "features":
                return self.features
            raise _Unknown(node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "p":
            if node.attr in self.values:
                return self.values[node.attr]
            raise _Unknown(node.attr)
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(item) for item in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not self.eval(node.operand)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.eval(node.operand)
        if isinstance(node, ast.BoolOp):
            results = [self.eval(value) for value in node.values]
            return all(results) if isinstance(node.op, ast.And) else any(results)
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self.eval(right_node)
                if not _compare(op, left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
            argument = self.eval(node.args[0])
            if node.func.id == "has":
                return argument in self.features
            if node.func.id == "ident" and isinstance(argument, str):
                return _Identifier(argument)
        raise _Unknown(ast.dump(node))


class _Identifier(str):
    """ident("name"): inserted as is, not as a string literal."""


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    table = {
        ast.Eq: lambda: left == right,
        ast.NotEq: lambda: left != right,
        ast.Lt: lambda: left < right,
        ast.LtE: lambda: left <= right,
        ast.Gt: lambda: left > right,
        ast.GtE: lambda: left >= right,
        ast.In: lambda: left in right,
        ast.NotIn: lambda: left not in right,
    }
    for kind, fn in table.items():
        if isinstance(op, kind):
            try:
                return bool(fn())
            except TypeError:
                raise _Unknown("comparison") from None
    raise _Unknown("operator")


def _literal(value: Any) -> str:
    if isinstance(value, _Identifier):
        return str(value)
    return py_literal(list(value) if isinstance(value, tuple) else value)


@dataclass
class _Branch:
    parent_active: bool
    taken: bool  # a branch of this if was chosen already
    active: bool
    known: bool  # False: conditions could not be evaluated; every branch is kept


def expand(text: str, values: Mapping[str, Any], features: Sequence[str] = ()) -> str:
    """The template text as plain code for these parameter values (keyed by Python name).

    Block tags alone on a line remove their line (like trim_blocks and lstrip_blocks);
    ``{{ expr }}`` becomes the value's literal, or the bare expression when unknown.
    """
    evaluate = _Evaluator(values, features)
    out: list[str] = []
    stack: list[_Branch] = []

    def active() -> bool:
        return not stack or stack[-1].active

    for line in text.splitlines(keepends=True):
        tags = _tags(line)[0]
        alone = bool(tags) and not _without_tags(line, tags).strip() and all(
            m.group(2) is None for m in tags
        )
        pieces: list[str] = []
        position = 0
        for match in tags:
            if active():
                pieces.append(line[position : match.start()])
            position = match.end()
            statement, expression = match.group(1), match.group(2)
            if expression is not None:
                if active():
                    try:
                        pieces.append(_literal(evaluate(expression)))
                    except _Unknown:
                        pieces.append(expression)
                continue
            if statement is None:
                continue  # a comment
            word = _word(statement)
            rest = statement[len(word) :].strip()
            if word == "if":
                parent = active()
                try:
                    chosen, known = bool(evaluate(rest)), True
                except _Unknown:
                    chosen, known = True, False
                stack.append(_Branch(parent, chosen, parent and chosen, known))
            elif word in ("elif", "else") and stack:
                frame = stack[-1]
                if not frame.known:
                    frame.active = frame.parent_active
                    continue
                if word == "else":
                    chosen = not frame.taken
                else:
                    try:
                        chosen = not frame.taken and bool(evaluate(rest))
                    except _Unknown:
                        frame.known = False
                        frame.active = frame.parent_active
                        continue
                frame.active = frame.parent_active and chosen
                frame.taken = frame.taken or chosen
            elif word == "endif" and stack:
                stack.pop()
        if active():
            pieces.append(line[position:])
        if alone:
            continue
        out.append("".join(pieces))
    return "".join(out)
