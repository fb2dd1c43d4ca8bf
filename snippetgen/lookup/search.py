"""Ranked lookup of recipes by name, alias, tag and text, in English and Chinese.

A query is cut into *terms*: English words, lower-cased and stemmed ("resuming" and
"resume" both give ``resum``), and Chinese character pairs (Chinese has no spaces, so
"学习率预热" gives 学习 习率 率预 预热). Every recipe field is cut the same way. A term
scores by the best field it occurs in (name > aliases > tags, title > summary > docs),
weighted by how rare it is across the catalog, so "预热" counts for more than "学习".

Tolerance: misspelt words are matched to the closest words of the catalog
("checkpiont"), word order does not matter, a small synonym table connects how people
ask to how recipes are named ("crash" -> resume, checkpoint), and a query that is a
recipe's name or alias wins outright.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from snippetgen.lookup.terms import IS_CJK, PHRASES, SYNONYMS, TOKEN, normalised, stem, terms
from snippetgen.recipes.catalog import Catalog
from snippetgen.recipes.recipe import Recipe

# How much a match in each field counts.
FIELD_WEIGHTS = {
    "name": 10.0,
    "aliases": 8.0,
    "tags": 5.0,
    "title": 5.0,
    "summary": 3.0,
    "params": 1.5,
    "docs": 1.0,
}

FUZZY = 0.7  # the weight of a word matched as a likely typo of a catalog word


@dataclass(frozen=True)
class Hit:
    """One search result; a higher score is a better match."""

    recipe: Recipe
    score: float


@dataclass
class _Entry:
    recipe: Recipe
    fields: dict[str, set[str]]
    phrases: list[tuple[float, str]]  # (weight, normalised name/alias/tag) for phrase matches


def _fields(recipe: Recipe) -> dict[str, list[str]]:
    return {
        "name": [recipe.name],
        "aliases": list(recipe.aliases),
        "tags": list(recipe.tags),
        "title": [recipe.title],
        "summary": [recipe.summary],
        "params": [f"{p.name} {p.help}" for p in recipe.params],
        "docs": [recipe.when, recipe.notes, *recipe.pitfalls],
    }


@dataclass
class Index:
    """Term sets of every recipe, document frequencies and the catalog's vocabulary."""

    entries: list[_Entry] = field(default_factory=list)
    df: dict[str, int] = field(default_factory=dict)
    vocabulary: list[str] = field(default_factory=list)
    by_prefix: dict[str, list[str]] = field(default_factory=dict)  # first 4 letters -> words

    @classmethod
    def build(cls, recipes: Iterable[Recipe]) -> Index:
        index = cls()
        for recipe in recipes:
            raw = _fields(recipe)
            fields = {
                name: {t for text in texts for t in terms(text)} for name, texts in raw.items()
            }
            phrases = [(FIELD_WEIGHTS["name"], normalised(recipe.name))]
            phrases += [(FIELD_WEIGHTS["aliases"], normalised(a)) for a in recipe.aliases]
            phrases += [(FIELD_WEIGHTS["tags"], normalised(t)) for t in recipe.tags]
            phrases += [(FIELD_WEIGHTS["title"], normalised(recipe.title))]
            index.entries.append(_Entry(recipe, fields, [p for p in phrases if p[1]]))
            for term in set().union(*fields.values()):
                index.df[term] = index.df.get(term, 0) + 1
        index.vocabulary = sorted(t for t in index.df if not IS_CJK.match(t))
        for word in index.vocabulary:
            if len(word) >= 4:
                index.by_prefix.setdefault(word[:4], []).append(word)
        return index

    def idf(self, term: str) -> float:
        n = len(self.entries)
        return math.log((n + 1) / (self.df.get(term, 0) + 0.5))

    def variants(self, term: str) -> list[tuple[str, float]]:
        """Catalog terms that stand for a query term: itself, longer/shorter forms, typo fixes."""
        found = [(term, 1.0)] if term in self.df else []
        if IS_CJK.match(term):
            return found
        if len(term) >= 4:
            for word in self.by_prefix.get(term[:4], []):
                if word != term and (word.startswith(term) or term.startswith(word)):
                    shorter, longer = sorted((len(word), len(term)))
                    if shorter / longer >= 0.75:
                        found.append((word, 0.8))
        if not found and len(term) >= 4:
            same_start = [w for w in self.vocabulary if w[0] == term[0]]  # typos spare the start
            for word in difflib.get_close_matches(term, same_start, n=3, cutoff=0.8):
                found.append((word, FUZZY))
        return found


def _groups(query: str) -> list[list[tuple[str, float]]]:
    """One group per query word: the word itself, then its synonyms (weaker).

    A known phrase adds a group of the words it stands for. A Chinese phrase is cut out of
    the query first, so no character pair straddles its edges, and counts as one group.
    """
    spaced = " ".join(TOKEN.findall(query.lower()))
    normal = normalised(query)
    extra_groups: list[list[tuple[str, float]]] = []
    rest = query.lower()
    for phrase, extra in PHRASES.items():
        if phrase not in spaced and phrase not in normal:
            continue
        group = [(t, 0.9) for word in extra for t in terms(word)]
        if IS_CJK.match(phrase):
            rest = rest.replace(phrase, " ")
            group = [(t, 1.0) for t in terms(phrase)] + group
        extra_groups.append(group)
    groups: list[list[tuple[str, float]]] = []
    seen: set[str] = set()
    for term in terms(rest, query=True):
        if term in seen:
            continue
        seen.add(term)
        group = [(term, 1.0)]
        for word, synonyms in SYNONYMS.items():
            if stem(word) == term:
                group += [(t, 0.6) for syn in synonyms for t in terms(syn)]
        groups.append(group)
    return groups + extra_groups


def _phrase_bonus(entry: _Entry, normal: str) -> float:
    """Reward a query that is (or contains, or is contained in) a name, alias or tag."""
    if not normal:
        return 0.0
    best = 0.0
    compact = normal.replace(" ", "")
    for weight, phrase in entry.phrases:
        if phrase == normal or phrase.replace(" ", "") == compact:
            best = max(best, 12.0 * weight)
            continue
        small, big = sorted((phrase, normal), key=len)
        minimum = 2 if IS_CJK.search(small) else 4
        if len(small) >= minimum and small in big:
            best = max(best, 5.0 * weight * len(small) / len(big))
        elif len(compact) >= 5 and not IS_CJK.search(compact):  # a misspelt name or alias
            matcher = difflib.SequenceMatcher(None, compact, phrase.replace(" ", ""))
            if matcher.real_quick_ratio() >= 0.85 and matcher.ratio() >= 0.85:
                best = max(best, 6.0 * weight * matcher.ratio())
    return best


def word_score(
    index: Index,
    entry: _Entry,
    groups: list[list[tuple[str, float]]],
    variants: dict[str, list[tuple[str, float]]],
) -> float:
    """The entry's score from the query's words alone, whatever their order."""
    total = 0.0
    matched = 0
    for group in groups:
        best = 0.0
        for term, strength in group:
            for word, quality in variants[term]:
                for name, words in entry.fields.items():
                    if quality == FUZZY and FIELD_WEIGHTS[name] < FIELD_WEIGHTS["title"]:
                        continue  # a typo fix counts only in names, aliases, tags and titles
                    if word in words:
                        value = FIELD_WEIGHTS[name] * strength * quality * index.idf(word)
                        best = max(best, value)
        if best > 0:
            matched += 1
            total += best
    if groups and total:
        total *= 0.5 + 0.5 * matched / len(groups)  # prefer recipes that match every word
    return total


_cache: list[tuple[tuple[Recipe, ...], Index]] = []


def _index(recipes: Iterable[Recipe]) -> Index:
    """The index of these recipes, reused while the same recipe objects are searched."""
    key = tuple(recipes)
    if (
        _cache
        and len(_cache[0][0]) == len(key)
        and all(a is b for a, b in zip(_cache[0][0], key, strict=True))
    ):
        return _cache[0][1]
    index = Index.build(key)
    _cache[:] = [(key, index)]
    return index


def search(catalog: Catalog | Iterable[Recipe], query: str, limit: int = 10) -> list[Hit]:
    """Recipes matching `query`, best first; an empty list when nothing matches well."""
    index = _index(catalog)
    groups = _groups(query)
    normal = normalised(query)
    variants = {t: index.variants(t) for group in groups for t, _ in group}
    words = {id(e): word_score(index, e, groups, variants) for e in index.entries}
    # Which recipes match depends on the words alone, so word order changes only the ranking
    # (a phrase in the query's order earns its bonus there).
    found = [e for e in index.entries if words[id(e)] >= 2.0]
    top = max((words[id(e)] for e in found), default=0.0)
    hits = [
        Hit(e.recipe, words[id(e)] + _phrase_bonus(e, normal))
        for e in found
        if words[id(e)] >= 0.15 * top
    ]
    hits.sort(key=lambda h: (-h.score, h.recipe.name))
    return hits[:limit]


def score(recipe: Recipe, query: str, catalog: Catalog | None = None) -> float:
    """The score of one recipe for `query` (within `catalog`, which sets word rarity)."""
    pool = list(catalog) if catalog is not None else [recipe]
    for hit in search(pool, query, limit=len(pool)):
        if hit.recipe.name == recipe.name:
            return hit.score
    return 0.0
