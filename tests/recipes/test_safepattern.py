"""Patterns in recipe metadata (`pattern = ...` of a str parameter) are refused unless in a
safe form that cannot backtrack for ever (snippetgen.recipes.safepattern): known slow patterns
are refused, usual ones kept, every built-in pattern is safe, and every accepted random
pattern matches a 10 000-character value at once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import DERANDOMIZED
from snippetgen import load_catalog

CATALOG = load_catalog()

# --- patterns in metadata: the safe form cannot hang ---------------------------------------------

REDOS = [
    r"(a+)+$",
    r"(a|a)*",
    r"(a|aa)+",
    r"(.*a){12}",
    r"\d*\d*\d*\d*x",
    r"(\w+\s?)+$",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
    r"(x+x+)+y",
    r"(a*)*b",
    r"([a-zA-Z]+)*",
    r"(\w|\d)+z",
    r"(a|)*b",
    r"(?:a?){30}a{30}",
    r"(.*)*",
    r"([^,]*,?)*;",
    r"(a)\1",
    r"(?=a)a+",
    r"(?i)(a|A)+",
]
SAFE_PATTERNS = [
    "all|[0-9]+(,[0-9]+)*",
    "[A-Za-z][A-Za-z0-9_.-]*",
    r"[a-z0-9_]+(\.[a-z0-9_]+)?",
    r"[a-z]+(-[a-z]+)*",
    r"\w+@\w+\.\w+",
    r"v\d+\.\d+",
    "(cpu|cuda)",
    r"https?://\S+",
    r"\d{4}-\d{2}",
]


def test_slow_patterns_are_refused_and_usual_ones_kept():
    from snippetgen.recipes.safepattern import pattern_problem

    for pattern in REDOS:
        assert pattern_problem(pattern) is not None, pattern
    for pattern in SAFE_PATTERNS:
        assert pattern_problem(pattern) is None, (pattern, pattern_problem(pattern))
    for recipe in CATALOG:  # every built-in pattern is in the safe form
        for param in recipe.params:
            assert param.pattern is None or pattern_problem(param.pattern) is None, param


_ATOMS = st.sampled_from(
    ["a", "b", "-", r"\.", ".", r"\d", r"\w", r"\s", r"\S", "[ab]", "[^a]", "[a-c]"]
)
_QUANTIFIERS = st.sampled_from(["", "", "*", "+", "?", "{1,3}", "{2}", "*?", "+?"])


def _pattern(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    group = st.lists(children, min_size=1, max_size=3).map(
        lambda alts: "(?:" + "|".join(alts) + ")"
    )
    piece = st.tuples(_ATOMS | group, _QUANTIFIERS).map("".join)
    return st.lists(piece, min_size=1, max_size=4).map("".join)


patterns = st.recursive(st.tuples(_ATOMS, _QUANTIFIERS).map("".join), _pattern, max_leaves=8)


@settings(max_examples=300, **DERANDOMIZED)
@given(
    pattern=patterns,
    unit=st.text(alphabet="ab-1 .x", min_size=1, max_size=4),
    last=st.sampled_from("ab-1 .x!"),
)
def test_every_accepted_pattern_matches_in_linear_time(pattern, unit, last):
    """Random patterns (most of them ambiguous, hence refused); an accepted one answers on a
    value of 10 000 characters (the largest max_length) at once, where a refused one such as
    (a+)+$ would take longer than the universe has existed."""
    import re
    import time

    from snippetgen.recipes.safepattern import pattern_problem

    if pattern_problem(pattern) is not None:
        return
    compiled = re.compile(pattern)
    value = (unit * 10_000)[:9_999] + last
    start = time.perf_counter()
    compiled.fullmatch(value)
    compiled.fullmatch(value[:100])
    assert time.perf_counter() - start < 1.0, pattern  # linear: about a millisecond
