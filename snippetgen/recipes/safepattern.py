"""The safe form of a ``pattern`` in recipe metadata: regular expressions that cannot hang.

Python's ``re`` backtracks and has no timeout: ``(a+)+$``, ``(a|a)*`` or ``\\d*\\d*\\d*x``
take exponential or high-polynomial time on a short string that does not match. A
parameter's ``pattern`` must therefore be *unambiguous*: at every point of a match, at
most one way on can take the next character. Concretely (checked on ``re``'s own parse
of the pattern):

- a quantifier with a choice (``*``, ``+``, ``?``, ``{m,n}``) repeats a part that cannot
  match the empty string, and no character that may start another repetition may also
  come right after it (``[a-z]+(-[a-z]+)*`` is fine, ``\\w+\\d`` and ``(a+)+`` are not);
- the branches of an alternation start with different characters;
- no back-references, look-arounds or conditional groups, and no ``(?i)``, ``(?a)`` or
  ``(?L)`` flags.

The regular engine then never backtracks more than a few steps at any position, so a
match takes time linear in the length of the value (which ``max_length`` bounds). Where
two character classes are too large to compare exactly, they are taken to overlap: the
check may refuse a harmless pattern, never accept a slow one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

# re's own parser (the modules behind the deprecated sre_parse and sre_constants)
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

MAX_PATTERN = 200  # characters of a pattern
_ENUMERABLE = 4096  # character classes up to this size are compared character by character
_BAD_FLAGS = {
    sre.SRE_FLAG_IGNORECASE: "(?i)",
    sre.SRE_FLAG_LOCALE: "(?L)",
    sre.SRE_FLAG_ASCII: "(?a)",
}
_CATEGORY = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
}
# pairs of categories with no character in common
_DISJOINT = {
    frozenset(pair)
    for pair in [
        (sre.CATEGORY_DIGIT, sre.CATEGORY_NOT_DIGIT),
        (sre.CATEGORY_SPACE, sre.CATEGORY_NOT_SPACE),
        (sre.CATEGORY_WORD, sre.CATEGORY_NOT_WORD),
        (sre.CATEGORY_DIGIT, sre.CATEGORY_SPACE),
        (sre.CATEGORY_WORD, sre.CATEGORY_SPACE),
        (sre.CATEGORY_DIGIT, sre.CATEGORY_NOT_WORD),
    ]
}
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}
_CHARS = {sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN}
_END: tuple[Any, Any] = ("end of the value", None)

Prim = tuple[Any, Any]  # (opcode, argument) of one character-consuming item, or _END


class _Unsafe(Exception):
    pass


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable ``pattern`` (a phrase), or None when it is."""
    if len(pattern) > MAX_PATTERN:
        return f"it is longer than {MAX_PATTERN} characters"
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        return f"it is not a regular expression ({exc})"
    except (RecursionError, OverflowError, ValueError) as exc:
        return f"it is not a regular expression ({type(exc).__name__})"
    try:
        _check_flags(parsed.state.flags)
        _check(list(parsed), [_END])
        re.compile(pattern)
    except _Unsafe as exc:
        return f"it is not in the safe form: {exc}"
    except (re.error, RecursionError, OverflowError) as exc:
        return f"it does not compile ({exc})"
    return None


def _check_flags(flags: int) -> None:
    for flag, text in _BAD_FLAGS.items():
        if flags & flag:
            raise _Unsafe(f"the flag {text} is not supported")


def _first(seq: Sequence[Prim]) -> tuple[list[Prim], bool]:
    """The items that can consume the first character of ``seq``, and whether it can be empty."""
    prims: list[Prim] = []
    for op, av in seq:
        found, nullable = _first_item(op, av)
        prims += found
        if not nullable:
            return prims, False
    return prims, True


def _first_item(op: Any, av: Any) -> tuple[list[Prim], bool]:
    if op in _CHARS:
        return [(op, av)], False
    if op is sre.AT:
        return [], True
    if op is sre.SUBPATTERN:
        return _first(av[3])
    if op is getattr(sre, "ATOMIC_GROUP", None):
        return _first(av)
    if op is sre.BRANCH:
        prims: list[Prim] = []
        nullable = False
        for alternative in av[1]:
            found, empty = _first(alternative)
            prims += found
            nullable = nullable or empty
        return prims, nullable
    if op in _REPEATS:
        low, _, body = av
        found, empty = _first(body)
        return found, empty or low == 0
    if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
        raise _Unsafe("back-references and conditional groups are not supported")
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        raise _Unsafe("look-ahead and look-behind are not supported")
    raise _Unsafe(f"{str(op).lower()} is not supported")


def _check(seq: Sequence[Prim], follow: list[Prim]) -> None:
    """Check ``seq`` given what may come right after it, from its last item to its first."""
    after = follow
    for op, av in reversed(seq):
        _check_item(op, av, after)
        found, nullable = _first_item(op, av)
        after = found + after if nullable else found


def _check_repeat(av: Any, follow: list[Prim]) -> None:
    low, high, body = av
    found, empty = _first(body)
    if empty:
        raise _Unsafe("a repeated part can match the empty string")
    if low != high and _overlap(found, follow):
        raise _Unsafe(
            "a repetition can end where what follows it begins (as in \\w+\\d or (a+)+); "
            "make the boundary explicit"
        )
    _check(body, (found if high != 1 else []) + follow)


def _check_branch(av: Any, follow: list[Prim]) -> None:
    starts = [_first(alternative) for alternative in av[1]]
    for i, (one, _) in enumerate(starts):
        for other, _ in starts[i + 1 :]:
            if _overlap(one, other):
                raise _Unsafe("two alternatives can start with the same character")
    empties = [i for i, (_, empty) in enumerate(starts) if empty]
    if len(empties) > 1 or any(
        _overlap(follow, starts[j][0]) for j in range(len(starts)) if empties and j != empties[0]
    ):
        raise _Unsafe("an alternative that can be empty is ambiguous with the others")
    for alternative in av[1]:
        _check(alternative, follow)


def _check_item(op: Any, av: Any, follow: list[Prim]) -> None:
    if op in _REPEATS:
        _check_repeat(av, follow)
    elif op is sre.BRANCH:
        _check_branch(av, follow)
    elif op is sre.SUBPATTERN:
        _check_flags(av[1])
        _check(av[3], follow)
    elif op is getattr(sre, "ATOMIC_GROUP", None):
        _check(av, follow)
    else:
        _first_item(op, av)  # refuses what is not supported


# --- comparing character classes ------------------------------------------------------------


def _overlap(ones: list[Prim], others: list[Prim]) -> bool:
    return any(_prims_overlap(a, b) for a in ones for b in others)


def _prims_overlap(a: Prim, b: Prim) -> bool:
    if a is _END or b is _END:
        return a is b
    for small, other in ((a, b), (b, a)):
        chars = _enumerate(small)
        if chars is not None:
            matcher = _matcher(other)
            return any(matcher(ch) for ch in chars)
    cats_a, cats_b = _categories(a), _categories(b)
    if cats_a is None or cats_b is None:
        return True  # too large to compare: assume they share a character
    return any(frozenset((x, y)) not in _DISJOINT for x in cats_a for y in cats_b)


def _enumerate(prim: Prim) -> list[str] | None:
    """Every character ``prim`` matches, when that is a short list."""
    op, av = prim
    if op is sre.LITERAL:
        return [chr(av)]
    if op is not sre.IN:
        return None
    chars: list[str] = []
    for item_op, item in av:
        if item_op is sre.LITERAL:
            chars.append(chr(item))
        elif item_op is sre.RANGE and item[1] - item[0] + len(chars) < _ENUMERABLE:
            chars.extend(map(chr, range(item[0], item[1] + 1)))
        else:  # a category, a negation or a large range
            return None
    return chars


def _categories(prim: Prim) -> list[Any] | None:
    op, av = prim
    if op is sre.IN and all(item_op is sre.CATEGORY for item_op, _ in av):
        return [item for _, item in av]
    return None


def _matcher(prim: Prim) -> Any:
    return _compiled(_source(prim)).fullmatch


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> re.Pattern[str]:
    return re.compile(source, re.DOTALL)


def _source(prim: Prim) -> str:
    """A regular expression matching one character exactly as ``prim`` does."""
    op, av = prim
    if op is sre.LITERAL:
        return _char(av)
    if op is sre.NOT_LITERAL:
        return f"[^{_char(av)}]"
    if op is sre.ANY:
        return "."
    return "[" + "".join(_class_items(av)) + "]"


def _class_items(items: Sequence[Prim]) -> Iterator[str]:
    for op, av in items:
        if op is sre.NEGATE:
            yield "^"
        elif op is sre.LITERAL:
            yield _char(av)
        elif op is sre.RANGE:
            yield f"{_char(av[0])}-{_char(av[1])}"
        elif op is sre.CATEGORY and av in _CATEGORY:
            yield _CATEGORY[av]
        else:
            raise _Unsafe(f"{str(av).lower()} is not supported in a character class")


def _char(code: int) -> str:
    return f"\\U{code:08x}"
