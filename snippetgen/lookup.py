"""Ranked lookup of recipes by name, alias, tag and text."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from snippetgen.catalog import Catalog
from snippetgen.recipe import Recipe

_WORD = re.compile(r"[\w\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Hit:
    recipe: Recipe
    score: float


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _fields(recipe: Recipe) -> list[tuple[float, str]]:
    return [
        (5.0, recipe.name.replace("-", " ")),
        (4.0, " ".join(recipe.aliases)),
        (3.0, " ".join(recipe.tags)),
        (2.0, recipe.title + " " + recipe.summary),
        (1.0, recipe.when + " " + " ".join(recipe.pitfalls)),
    ]


def score(recipe: Recipe, query: str) -> float:
    q = query.strip().lower()
    if not q:
        return 0.0
    total = 0.0
    if q == recipe.name or q.replace(" ", "-") == recipe.name:
        total += 20.0
    if any(q == a.lower() for a in recipe.aliases):
        total += 15.0
    terms = _words(q)
    for weight, text in _fields(recipe):
        low = text.lower()
        words = _words(low)
        for term in terms:
            if term in words:
                total += weight
            elif len(term) >= 2 and term in low:
                total += weight * 0.6
            elif len(term) >= 4 and difflib.get_close_matches(term, words, n=1, cutoff=0.8):
                total += weight * 0.5
    return total


def search(catalog: Catalog, query: str, limit: int = 10) -> list[Hit]:
    hits = [Hit(r, score(r, query)) for r in catalog]
    hits = [h for h in hits if h.score > 0]
    hits.sort(key=lambda h: (-h.score, h.recipe.name))
    return hits[:limit]
