"""Shorten a recipe's code to its key lines for a cheat sheet, within a line budget.

``show`` prints a recipe's essential code; when that is longer than the budget (a
checkpoint's helpers with all their error handling), the least telling lines go first,
one step at a time, until it fits:

1. a statement split over several lines for width is joined when it fits on one;
2. a docstring of several lines keeps its first line;
3. a message spread over several lines (``fail(...)``, ``print(...)``, ``raise E(...)``)
   becomes one line with its arguments elided;
4. the body of a block nested in another block becomes ``...``, deepest first;
5. a function becomes a stub, ``def name(args): ...`` (those the other blocks call last);
6. the body of an outermost block becomes ``...``;
7. a statement list still too long keeps its first statements, then ``...``.

Blank lines go first: one between definitions, none between stubs. Within a step the
longest candidate goes first; from step 4 on, the shortest one that is enough, if any is.
Every step keeps the code valid Python (a join, the very same statement). Only the
standard library is used (``show`` stays light).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from snippetgen.codegen.codecheck import LINE_LENGTH

# Calls whose arguments are a message: on a cheat sheet the call alone says enough.
REPORTS = frozenset({"fail", "print", "warn", "warning", "error", "info", "debug", "exit"})
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_OPEN, _CLOSE = "([{", ")]}"
_COMPOUND = (
    *_FUNCTIONS,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
)
# The steps, least telling lines first (see the module docstring).
_STRING_END = re.compile(r"[\"']\s*$")
_STRING_START = re.compile(r"\s*[rbfuRBFU]{0,2}[\"']")
BLANK, JOIN, DOCSTRING, REPORT, NESTED, STUB, OUTER, TRUNCATE = range(8)


@dataclass(frozen=True)
class _Edit:
    rank: tuple[int, int, int]  # smaller goes first: (step, order within it, -lines saved)
    start: int  # first line replaced (0-based)
    stop: int  # one past the last line replaced
    lines: tuple[str, ...]  # what replaces them


def _first(node: ast.stmt) -> int:
    """The 0-based first line of a statement, decorators included."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)]) - 1


def _end(node: ast.AST) -> int:
    end = getattr(node, "end_lineno", None)
    assert end is not None
    return int(end)


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_ellipsis(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and node.value.value is ...
    )


def _bodies(node: ast.stmt, lines: Sequence[str]) -> Iterator[list[ast.stmt]]:
    """The statement lists of a compound statement."""
    for name in ("body", "orelse", "finalbody"):
        body = getattr(node, name, None)
        if not body or not isinstance(body, list):
            continue
        first = body[0]
        if name == "orelse" and isinstance(node, ast.If) and isinstance(first, ast.If):
            if lines[first.lineno - 1].lstrip().startswith("elif"):
                continue  # an elif: visited as the nested If itself
        yield body
    for handler in getattr(node, "handlers", []):
        yield handler.body


def _docstring_line(node: ast.Expr, lines: Sequence[str]) -> str:
    """A docstring as one line: its first line of text, closed."""
    start = lines[node.lineno - 1]
    col = node.col_offset
    opening = start[col:]
    prefix = opening[: len(opening) - len(opening.lstrip("rRbBuUfF"))]
    quotes = opening[len(prefix) : len(prefix) + 3]
    if quotes not in ('"""', "'''"):
        quotes = opening[len(prefix)]
    text = opening[len(prefix) + len(quotes) :].strip()
    if not text:
        text = next((line.strip() for line in lines[node.lineno : _end(node)] if line.strip()), "")
        text = text.removesuffix(quotes).rstrip()
    if not text.endswith((".", "!", "?", ":")):
        text += " ..."
    return f"{' ' * col}{prefix}{quotes}{text}{quotes}"


def _report_name(node: ast.stmt, code: str) -> str | None:
    """The called name of a message (``fail``, ``logger.warning``) or of a raised error's
    constructor, as written; None for any other statement."""
    call = node.value if isinstance(node, ast.Expr) else getattr(node, "exc", None)
    if not isinstance(call, ast.Call):
        return None
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name is None or not (isinstance(node, ast.Raise) or name in REPORTS):
        return None
    return ast.get_source_segment(code, func)


def _one_line(lines: Sequence[str]) -> str:
    """Lines a formatter split for width, joined back (a magic trailing comma dropped)."""
    out = lines[0].rstrip()
    for line in lines[1:]:
        text = line.strip()
        if text[:1] in _CLOSE:
            out = out.rstrip(",")
        elif out[-1:] not in _OPEN:
            out += " "
        out += text
    return out


def _concatenates(lines: Sequence[str]) -> bool:
    """Whether a line ends with a string that the next line continues (implicitly joined
    strings, which read badly on one line)."""
    return any(
        _STRING_END.search(line) and _STRING_START.match(after)
        for line, after in zip(lines, lines[1:], strict=False)
    )


def _same(text: str, node: ast.stmt) -> bool:
    """Whether `text` is the statement `node`, to the last token."""
    try:
        tree = ast.parse(text.strip())
    except SyntaxError:
        return False
    return len(tree.body) == 1 and ast.dump(tree.body[0]) == ast.dump(node)


@functools.lru_cache(maxsize=256)
def _names(code: str) -> frozenset[str]:
    """The names a piece of code uses."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return frozenset()
    return frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))


@functools.lru_cache(maxsize=256)  # condense asks again for every block it did not change
def _edits(code: str, width: int, used: AbstractSet[str] = frozenset()) -> tuple[_Edit, ...]:
    """Every shortening step that applies to `code`; a join makes no line over `width`.
    A function that `used` (the names other code uses) calls is the last made a stub."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ()
    lines = code.splitlines()
    edits: list[_Edit] = []

    def add(step: int, order: int, start: int, stop: int, *new: str) -> None:
        if stop - start > len(new):
            edits.append(_Edit((step, order, len(new) - (stop - start)), start, stop, new))

    def collapse(body: list[ast.stmt], depth: int) -> None:
        if not (len(body) == 1 and _is_ellipsis(body[0])):
            step = NESTED if depth > 1 else OUTER
            add(step, -depth, _first(body[0]), _end(body[-1]), " " * body[0].col_offset + "...")

    def stub(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        """`def name(args): ...` on the line that ends the signature."""
        body = node.body
        colon = next(
            (
                j
                for j in range(node.lineno - 1, body[0].lineno - 1)
                if lines[j].split("  #")[0].rstrip().endswith(":")
            ),
            None,
        )
        if colon is not None and not (len(body) == 1 and _is_ellipsis(body[0])):
            head = lines[colon].split("  #")[0].rstrip()
            add(STUB, int(node.name in used), colon, _end(body[-1]), f"{head} ...")

    def truncate(body: list[ast.stmt], depth: int) -> None:
        keep = len(body) - (2 if _is_ellipsis(body[-1]) else 1)
        if keep >= 1:
            node = body[keep]
            add(TRUNCATE, -depth, _first(node), _end(body[-1]), " " * node.col_offset + "...")

    def visit(body: list[ast.stmt], depth: int) -> None:
        if len(body) > 1:
            truncate(body, depth)
        for node in body:
            first, last = _first(node), _end(node)
            if last - first > 1 and not isinstance(node, _COMPOUND):
                span = lines[first:last]
                joined = _one_line(span)
                if (
                    len(joined) <= width
                    and not any("#" in line for line in span)
                    and not _concatenates(span)
                    and _same(joined, node)
                ):
                    add(JOIN, depth, first, last, joined)
            if _is_docstring(node):
                assert isinstance(node, ast.Expr)
                add(DOCSTRING, depth, first, last, _docstring_line(node, lines))
            name = _report_name(node, code) if last - first > 1 else None
            if name:
                head = "raise " if isinstance(node, ast.Raise) else ""
                add(REPORT, depth, first, last, f"{' ' * node.col_offset}{head}{name}(...)")
            if isinstance(node, _FUNCTIONS):
                stub(node)
            for inner in _bodies(node, lines):
                if not isinstance(node, _FUNCTIONS):
                    collapse(inner, depth + 1)
                visit(inner, depth + 1)

    visit(tree.body, 0)
    for i in range(1, len(lines) - 1):  # two blank lines between definitions: one will do
        if not lines[i].strip() and lines[i - 1].strip() and not lines[i + 1].strip():
            add(BLANK, 0, i, i + 1)
    packed = _pack_stubs(code).splitlines()
    if len(packed) < len(lines):
        edits.append(_Edit((BLANK, 0, len(packed) - len(lines)), 0, len(lines), tuple(packed)))
    return tuple(edits)


def _pack_stubs(code: str) -> str:
    """No blank line between two stubs of the same indent, as in a .pyi file."""
    lines = code.splitlines()
    keep = [
        line
        for i, line in enumerate(lines)
        if line.strip()
        or not (
            0 < i < len(lines) - 1
            and lines[i - 1].endswith(": ...")
            and lines[i + 1].endswith(": ...")
            and _indent(lines[i - 1]) == _indent(lines[i + 1])
        )
    ]
    return "\n".join(keep)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _apply(code: str, edit: _Edit) -> str:
    lines = code.splitlines()
    lines[edit.start : edit.stop] = edit.lines
    return "\n".join(lines)


@dataclass
class Block:
    """A piece of code shown under an optional heading (a comment line)."""

    code: str
    heading: str = ""

    def text(self) -> str:
        return f"{self.heading}\n{self.code}" if self.heading else self.code


def join(blocks: Sequence[Block], blank_lines: int = 1) -> str:
    return ("\n" * (blank_lines + 1)).join(block.text() for block in blocks)


def _next_edit(candidates: list[tuple[_Edit, int]], excess: int) -> tuple[_Edit, int]:
    """The edit to make next (and the index of its block): one of the earliest step; from
    step NESTED on, the smallest that removes ``excess`` lines if any does; else the one
    ranked first (its block the earliest, the edit the first in its block)."""
    step = min(edit.rank[0] for edit, _ in candidates)
    candidates = [(edit, i) for edit, i in candidates if edit.rank[0] == step]
    if step >= NESTED:  # the costly steps: the smallest one that is enough, if any is
        enough = [(edit, i) for edit, i in candidates if -edit.rank[2] >= excess]
        if enough:
            candidates = [min(enough, key=lambda c: -c[0].rank[2])]
    return min(candidates, key=lambda c: (c[0].rank, c[1], c[0].start))


def condense(
    blocks: Sequence[Block],
    budget: int,
    blank_lines: int = 1,
    width: int = LINE_LENGTH,
    used: Iterable[str] = (),
) -> tuple[list[Block], bool]:
    """`blocks` shortened until joined they take at most `budget` lines (and no line a join
    makes is over `width`); and whether any was. `used`: names that code not shown uses
    (its functions become stubs last, like those the other blocks call)."""
    context = frozenset(used)
    out = [Block(b.code, b.heading) for b in blocks]
    changed = False
    while (excess := len(join(out, blank_lines).splitlines()) - budget) > 0:
        candidates = [
            (edit, i)
            for i, block in enumerate(out)
            for edit in _edits(
                block.code,
                width,
                context.union(*(_names(other.code) for j, other in enumerate(out) if j != i)),
            )
        ]
        if not candidates:
            break
        edit, i = _next_edit(candidates, excess)
        out[i].code = _apply(out[i].code, edit)
        changed = True
    for block in out:
        block.code = _pack_stubs(block.code)
    return out, changed
