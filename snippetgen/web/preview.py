"""The composer's live preview: the selection rendered as the CLI renders it, highlighted, and
sent as the lines that changed since the preview the page already shows.

A preview is named by its render-cache key (:func:`snippetgen.codegen.rendering.render_key`),
which covers everything the render depends on. The server keeps the highlighted lines of its
latest previews by key (:class:`Previews`). A page names the preview it shows when it asks for the
next one, and is answered with the edits that turn those lines into the new ones
(:func:`patch`), or with the whole HTML when the server no longer holds them. The key is
computed on every request (the recipe folders are hashed again whenever a file in them
changes: :class:`snippetgen.codegen.digests.FolderDigests`), so an edited template or a new
value is never answered from memory; a key held in memory is the very render the render cache
would give, served without reading that cache or highlighting again.
"""

from __future__ import annotations

import difflib
import itertools
import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from snippetgen.codegen.digests import FolderDigests
from snippetgen.web.highlight import code_html
from snippetgen.web.selection import Selection, check_project, resolve

if TYPE_CHECKING:
    from snippetgen.codegen.rendering import Plan
    from snippetgen.recipes.catalog import Catalog

KEY = re.compile(r"[0-9a-f]{64}")  # a render-cache key, as a page sends it back
KEPT = 32  # previews held: about 3 MB of highlighted lines
Lines = tuple[str, ...]
Edit = tuple[int, int, list[str]]


class Preview(NamedTuple):
    key: str  # the render-cache key
    lines: Lines  # the script as highlighted HTML, one line per line of code
    command: str
    warning: str

    @property
    def html(self) -> str:
        return "\n".join(self.lines)


class Previews:
    """What the server keeps to answer previews: the highlighted lines of the latest ones, by
    key (the least recently used go first), and the recipe folders' digests (hashed again
    when a file changes); shared by the event loop and the worker threads that render."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or KEPT
        self.digests = FolderDigests()
        self._lines: OrderedDict[str, Lines] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Lines | None:
        with self._lock:
            lines = self._lines.get(key)
            if lines is not None:
                self._lines.move_to_end(key)
            return lines

    def put(self, key: str, lines: Lines) -> Lines:
        with self._lock:
            self._lines[key] = lines
            self._lines.move_to_end(key)
            while len(self._lines) > self.size:
                self._lines.popitem(last=False)
        return lines


def checked_plan(catalog: Catalog, selection: Selection) -> Plan:
    """The selection's plan, with every check `render` (and for a project, `new`) makes
    before rendering."""
    from snippetgen.recipes.recipecheck import check_templates

    resolved = resolve(catalog, selection)
    if resolved.target.kind == "feature":
        check_project(selection.project)
    check_templates(resolved.recipes)
    return resolved


def script(catalog: Catalog, selection: Selection) -> str:
    """The selection's script, byte for byte what ``snippetgen render`` prints for it."""
    from snippetgen.codegen.rendering import render_plan

    return render_plan(checked_plan(catalog, selection))


def preview(
    catalog: Catalog, selection: Selection, previews: Previews, *, cached_only: bool = False
) -> Preview | None:
    """The selection's script as the CLI renders it, highlighted, with the CLI's command; with
    `cached_only`, None unless `previews` or the render cache holds it (nothing is rendered)."""
    from snippetgen.codegen.rendering import cached_render, render_key, render_plan
    from snippetgen.lookup.lrplot import no_decay_warning

    resolved = checked_plan(catalog, selection)
    key = render_key(resolved, digests=previews.digests)
    lines = previews.get(key)
    if lines is None:
        if cached_only:
            code = cached_render(resolved, key=key)
        else:  # render_plan computes the key again, through the same kept digests (cheap)
            code = render_plan(resolved, digests=previews.digests)
        if code is None:
            return None
        lines = previews.put(key, tuple(code_html(code).split("\n")))
    warning = no_decay_warning([r.name for r in resolved.recipes], resolved.values)
    return Preview(key, lines, resolved.command(), warning)


def rendered(catalog: Catalog, selection: Selection, previews: Previews) -> Preview:
    """preview(), rendering on a cache miss."""
    made = preview(catalog, selection, previews)
    assert made is not None
    return made


def patch(old: Sequence[str], new: Sequence[str]) -> list[Edit]:
    """Edits that turn `old` into `new`: each (start, stop, lines) replaces old[start:stop]
    with `lines`; they are in order, do not overlap, and are applied last first (`apply`).

    When both sides have as many lines (a new value changes lines, seldom their number) they
    are compared place by place; otherwise, between the common head and tail, difflib
    matches them."""
    if len(old) != len(new):
        return _matched(old, new)
    edits: list[Edit] = []
    for i in itertools.compress(range(len(new)), map(operator.ne, old, new)):
        if edits and edits[-1][1] == i:  # a run of changed lines is one edit
            edits[-1][2].append(new[i])
            edits[-1] = (edits[-1][0], i + 1, edits[-1][2])
        else:
            edits.append((i, i + 1, [new[i]]))
    return edits


def _matched(old: Sequence[str], new: Sequence[str]) -> list[Edit]:
    size = min(len(old), len(new))
    head = 0
    while head < size and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < size - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    a, b = old[head : len(old) - tail], new[head : len(new) - tail]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [
        (head + i1, head + i2, list(b[j1:j2]))
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op != "equal"
    ]


def apply(old: Sequence[str], edits: Sequence[Edit]) -> list[str]:
    """The lines `edits` turn `old` into, applied as the page applies them (static/app.js)."""
    lines = list(old)
    for start, stop, replacement in reversed(edits):
        lines[start:stop] = replacement
    return lines


def answer(previews: Previews, made: Preview, base: str | None) -> dict[str, Any]:
    """The preview as JSON for a page that shows the preview keyed `base`: the edits from it
    when the server still holds it and they replace at most half the lines, else the whole
    HTML. `base` is whatever the page sent: only a key this server holds is used."""
    fields: dict[str, Any] = {"key": made.key, "command": made.command, "warning": made.warning}
    old = previews.get(base) if base is not None and KEY.fullmatch(base) else None
    if old is not None:
        edits = patch(old, made.lines)
        if sum(len(lines) for _, _, lines in edits) <= len(made.lines) // 2:
            return {**fields, "base": base, "edits": edits}
    return {**fields, "html": made.html}
