"""Reading recipe templates without Jinja: macro bodies as plain code, and structure checks.

``show`` prints a feature's essential slot macros as plain Python, and ``list`` checks user
recipes, without importing Jinja (the look-up commands stay fast). This module knows the
small subset of Jinja that recipe templates use, and reads it as the render's environment
does (snippetgen.codegen.template_env: trim_blocks, lstrip_blocks, ``-``/``+`` whitespace control,
literal output):

- ``{% macro %}`` blocks (:func:`macros`) and ``{% if/elif/else %}``;
- ``{{ expression }}`` becomes the value's Python literal; an ``ident("name")`` is inserted
  as is;
- expressions of constants (``true``/``none`` included), lists and tuples, ``p.name`` and
  ``p["name"]``, ``features``, ``feature_list``, ``has("amp")``, ``ident("name")``,
  comparisons, ``and``/``or``/``not``, unary ``-``/``+`` and ``x if c else y``
  (evaluated by :mod:`snippetgen.codegen.template_eval`).

Anything else is not evaluated: ``{{ expr }}`` is kept as its bare expression, an ``if`` on
it keeps every branch, and other blocks (``for``, ``filter``, ...) keep their body once.
Rendering for real is Jinja's job (snippetgen.codegen.templating); tests/codegen/test_template_text.py
checks that this reading gives Jinja's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from snippetgen.codegen.template_eval import Evaluator, Unknown, literal_text

# The tags: {% statement %}, {{ expression }} and {# comment #}, each ended by the first closer
# after its opener, with Jinja's whitespace-control signs inside the delimiters. They are found
# by a linear scan (see _tags): a lazy regular expression takes cubic time on an unclosed tag
# followed by whitespace, which a hostile user template would turn into a hang.
_CLOSERS = {"{%": "%}", "{{": "}}", "{#": "#}"}
_KINDS = {"{%": "statement", "{{": "expression", "{#": "comment"}


class _Tag(NamedTuple):
    """One tag: where it starts and ends, its kind, its content less delimiters, signs and
    surrounding whitespace, and its opening and closing whitespace-control signs."""

    start: int
    end: int
    kind: str
    content: str
    opening: str
    closing: str


def _parts(kind: str, inner: str) -> tuple[str, str, str]:
    """The content and the two signs of a tag whose text between delimiters is `inner`,
    as Jinja reads them: ``{%-``/``{%+`` and ``-%}``/``+%}``, ``{{-``/``{{+`` and ``-}}``."""
    opening = inner[:1] if inner[:1] in ("-", "+") else ""
    rest = inner[len(opening) :]
    if kind == "comment":
        return "", opening, rest[-1:] if rest[-1:] in ("-", "+") else ""
    signs = ("-", "+") if kind == "statement" else ("-",)
    body = rest.lstrip()
    closing = body[-1:] if body[-1:] in signs else ""
    return body[: len(body) - len(closing)].rstrip(), opening, closing


def _tags(text: str) -> list[_Tag]:
    """Every tag of `text` in order, in linear time. An opener with no closer after it is
    not a tag (nor is any later opener of its kind), and the scan goes on after it."""
    found: list[_Tag] = []
    upcoming = {opener: -1 for opener in _CLOSERS}  # the next position of each live opener
    position = 0
    while upcoming:
        for opener, at in list(upcoming.items()):
            if at < position:
                at = upcoming[opener] = text.find(opener, position)
            if at < 0:
                del upcoming[opener]
        if not upcoming:
            break
        opener = min(upcoming, key=upcoming.__getitem__)
        index = upcoming[opener]
        close = text.find(_CLOSERS[opener], index + 2)
        if close < 0:
            del upcoming[opener]
            position = index + 1
            continue
        kind = _KINDS[opener]
        content, opening, closing = _parts(kind, text[index + 2 : close])
        found.append(_Tag(index, close + 2, kind, content, opening, closing))
        position = close + 2
    return found


_SPACE = re.compile(r"\s*")
_NEWLINE = re.compile(r"\r\n|\r")  # Jinja reads every line break of a template as \n
_OPENERS = {"if", "for", "macro", "call", "filter", "block", "with", "raw", "autoescape"}
_MIDDLES = {"elif": ("if",), "else": ("if", "for")}
_OTHER_TAGS = {"set", "include", "import", "from", "extends", "do", "break", "continue"}


@dataclass(frozen=True)
class Macro:
    name: str
    body: str  # the template text between the macro tags, less what Jinja trims there


def _word(statement: str) -> str:
    return statement.split(None, 1)[0] if statement.split() else ""


# --- lexing: what Jinja's lexer makes of the text around tags --------------------------------


class _Token(NamedTuple):
    """A piece of template text. Tokens tile the text: a tag's span takes in the whitespace
    that trim_blocks, lstrip_blocks and ``-`` remove around it, so ``text`` tokens hold
    exactly the text Jinja outputs."""

    kind: str  # "text", "statement", "expression" or "comment"
    content: str  # the text, the statement or the expression
    start: int
    end: int


def _text_end(before: str, kind: str, sign: str, line_starting: bool) -> int:
    """How much of the text before a tag is output: ``{%-`` strips all whitespace before it;
    lstrip_blocks strips the indentation of a block or comment tag that starts its line."""
    if sign == "-":
        return len(before.rstrip())
    if sign == "+" or kind == "expression":
        return len(before)
    line = before.rfind("\n") + 1
    rest = before[line:]
    if (line > 0 or line_starting) and rest and rest.isspace():
        return line
    return len(before)


def _tag_end(text: str, end: int, kind: str, sign: str) -> int:
    """Where the text after a tag starts: ``-%}`` strips all whitespace after it;
    trim_blocks drops the one newline right after a block or comment tag."""
    if sign == "-":
        return _SPACE.match(text, end).end()  # type: ignore[union-attr]  # \s* always matches
    if not sign and kind != "expression" and text.startswith("\n", end):
        return end + 1
    return end


def _lex(text: str) -> Iterator[_Token]:
    """The tokens of a template whose line breaks are all ``\\n`` (see :func:`_lines`)."""
    position = 0
    line_starting = True  # Jinja's lexer: the last thing read ended a line (or nothing was read)
    for tag in _tags(text):
        if tag.start < position:  # inside the whitespace that the last tag's "-" removed
            continue
        before = text[position : tag.start]
        stop = position + _text_end(before, tag.kind, tag.opening, line_starting)
        if stop > position:
            yield _Token("text", text[position:stop], position, stop)
        after = _tag_end(text, tag.end, tag.kind, tag.closing)
        yield _Token(tag.kind, tag.content, stop, after)
        line_starting = after > tag.end and text[after - 1] == "\n"
        position = after
    if position < len(text):
        yield _Token("text", text[position:], position, len(text))


def _lines(text: str) -> str:
    """The text with every line break as ``\\n``, as Jinja's lexer reads it."""
    return _NEWLINE.sub("\n", text)


# --- structure checks and macros ---------------------------------------------------------------


def _tag_problem(word: str, statement: str, line: int, stack: list[tuple[str, int]]) -> str | None:
    """Update the stack of open blocks for one tag; a problem with it, if any."""
    if word in _OPENERS or (word == "set" and "=" not in statement):
        stack.append((word, line))
    elif word in _MIDDLES:
        if not stack or stack[-1][0] not in _MIDDLES[word]:
            return f"{{% {word} %}} outside an if block at line {line}"
    elif word.startswith("end"):
        if not stack or stack[-1][0] != word[3:]:
            return f"unexpected {{% {word} %}} at line {line}"
        stack.pop()
    elif word not in _OTHER_TAGS:
        return f"unknown tag {{% {word} %}} at line {line}"
    return None


def structure_problems(text: str) -> list[str]:
    """Unbalanced or unknown block tags and unclosed delimiters, as short phrases."""
    problems: list[str] = []
    stack: list[tuple[str, int]] = []
    tags = _tags(text)
    line, counted = 1, 0
    for tag in tags:
        line += text.count("\n", counted, tag.start)  # each stretch counted once: linear
        counted = tag.start
        if tag.kind != "statement":
            continue
        problem = _tag_problem(_word(tag.content), tag.content, line, stack)
        if problem:
            problems.append(problem)
    problems += [f"{{% {word} %}} at line {line} is never closed" for word, line in stack]
    gaps = [0, *(edge for tag in tags for edge in (tag.start, tag.end)), len(text)]
    for opener in ("{%", "{#"):  # an opener outside every tag has no closer
        found = (text.find(opener, gaps[i], gaps[i + 1]) for i in range(0, len(gaps), 2))
        at = next((index for index in found if index >= 0), -1)
        if at >= 0:
            problems.append(f"unclosed {opener} near line {text.count(chr(10), 0, at) + 1}")
    return problems


def macros(text: str) -> list[Macro]:
    """The top-level ``{% macro name() %}`` blocks of a template, in order.

    A body is the text Jinja's macro outputs from, read as if it started a line (it does
    when the macro tag ends its line, as in every recipe)."""
    found: list[Macro] = []
    depth = 0
    start = 0
    name = ""
    text = _lines(text)
    for token in _lex(text):
        word = _word(token.content) if token.kind == "statement" else ""
        if word == "macro":
            if depth == 0:
                name = token.content[len("macro") :].split("(", 1)[0].strip()
                start = token.end
            depth += 1
        elif word == "endmacro":
            depth -= 1
            if depth == 0:
                found.append(Macro(name, text[start : token.start]))
    return found


# --- expansion ---------------------------------------------------------------------------------


@dataclass
class _Frame:
    """An open block: whether its current branch is output."""

    word: str
    parent_active: bool
    active: bool
    taken: bool = False  # an if: a branch was chosen already
    known: bool = True  # False: conditions could not be evaluated; every branch is kept


class _Expansion:
    """Template tokens in, plain code out, for one set of parameter values."""

    def __init__(self, evaluate: Evaluator) -> None:
        self.evaluate = evaluate
        self.out: list[str] = []
        self.stack: list[_Frame] = []
        self.statements: dict[str, Callable[[str], None]] = {
            "if": self._if,
            "elif": self._elif,
            "else": self._else,
        }

    @property
    def active(self) -> bool:
        return not self.stack or self.stack[-1].active

    def feed(self, token: _Token) -> None:
        if token.kind == "statement":
            self._statement(token.content)
        elif not self.active or token.kind == "comment":
            return
        elif token.kind == "text":
            self.out.append(token.content)
        else:
            self.out.append(self._expression(token.content))

    def _expression(self, expression: str) -> str:
        try:
            return literal_text(self.evaluate(expression))
        except Unknown:
            return expression

    def _condition(self, expression: str) -> bool | None:
        """The truth of a condition; None when it cannot be evaluated."""
        try:
            return bool(self.evaluate(expression))
        except Unknown:
            return None

    def _statement(self, statement: str) -> None:
        word = _word(statement)
        rest = statement[len(word) :].strip()
        if word in self.statements:
            self.statements[word](rest)
        elif word in _OPENERS:  # a block this reader does not run: its body is kept once
            self.stack.append(_Frame(word, self.active, self.active, known=False))
        elif word.startswith("end") and self.stack and self.stack[-1].word == word[3:]:
            self.stack.pop()

    def _if(self, condition: str) -> None:
        chosen = self._condition(condition)
        parent = self.active
        known = chosen is not None
        self.stack.append(_Frame("if", parent, parent and chosen is not False, bool(chosen), known))

    def _branch(self, chosen: bool | None) -> None:
        """Enter the next branch of the innermost block (chosen None: unknown)."""
        frame = self.stack[-1]
        if chosen is None or not frame.known:
            frame.known = False
            frame.active = frame.parent_active
            return
        chosen = chosen and not frame.taken
        frame.active = frame.parent_active and chosen
        frame.taken = frame.taken or chosen

    def _elif(self, condition: str) -> None:
        if not self.stack:
            return
        frame = self.stack[-1]
        if frame.known and frame.taken:  # a branch was chosen: this condition is not evaluated
            self._branch(False)
        else:
            self._branch(self._condition(condition) if frame.known else None)

    def _else(self, _: str) -> None:
        if self.stack:
            self._branch(True)


def expand(text: str, values: Mapping[str, Any], features: Sequence[str] = ()) -> str:
    """The template text as plain code for these parameter values (keyed by Python name).

    Whitespace around tags is removed as the render's environment removes it;
    ``{{ expr }}`` becomes the value's literal, or the bare expression when unknown.
    """
    expansion = _Expansion(Evaluator(values, features))
    for token in _lex(_lines(text)):
        expansion.feed(token)
    return "".join(expansion.out)
