"""Parsed ``recipe.toml`` files, kept across runs (:func:`load_toml`; :func:`flush` saves them).

Parsing TOML is most of the time `list`, `search` and `show` spend on the catalog. The parsed
tables are kept in one JSON file, each as its own JSON text (every caller gets fresh objects
from the fast C decoder) under the BLAKE2b digest of the file's text, with a check digest of
that key and the table: a table edited, or moved under another text's key, is a miss (and
dropped), never used. The whole index is bounded, so that its load stays cheap whatever was
once parsed: a recipe.toml over _TOML_MAX_TEXT is parsed each time, never kept; at most
_TOML_LIMIT tables and _TOML_BUDGET bytes are kept, the least recently used going first; and
when the index is saved (when something changed, and at least once a day), the tables not
used for STALE_DAYS, those of recipe files that no longer exist, and the older versions of a
file parsed this run are dropped. The index is ``recipe-toml-v4.json`` beside the renders.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from snippetgen.codegen.cache_folder import STALE_DAYS, cache_dir, enabled, read_regular, write

_TOML_INDEX = "recipe-toml-v4.json"
_TOML_LIMIT = 1000
_TOML_MAX_TEXT = 64 << 10
_TOML_BUDGET = 2 << 20  # bytes of the index file; a bigger one is not read
_TOML_PATHS = 8  # files remembered per table (copies of a recipe share their text)
_toml_memo: dict[str, dict[str, Any]] | None = None
_toml_used: set[str] = set()
_toml_dirty = False


@functools.lru_cache(maxsize=1)
def _blake2b_type() -> Any:
    """BLAKE2b from CPython's built-in module: several times faster than its SHA-256."""
    try:
        from _blake2 import blake2b
    except ImportError:
        from hashlib import blake2b
    return blake2b


def _toml_key(text: str) -> str:
    return str(_blake2b_type()(text.encode("utf-8"), digest_size=16).hexdigest())


def _toml_check(key: str, table: str) -> str:
    data = f"{key}\0{table}".encode()
    return str(_blake2b_type()(data, digest_size=16).hexdigest())


def _today() -> int:
    import time

    return int(time.time() // 86400)


def _toml_index() -> dict[str, dict[str, Any]]:
    global _toml_memo, _toml_dirty
    if _toml_memo is None:
        _toml_memo = {}
        data = None
        if enabled():
            raw = read_regular(cache_dir().parent / _TOML_INDEX, _TOML_BUDGET)
            try:
                data = json.loads(raw) if raw is not None else None
            except ValueError:
                data = None
        if isinstance(data, dict) and isinstance(data.get("tables"), dict):
            _toml_memo = {k: v for k, v in data["tables"].items() if isinstance(v, dict)}
            if data.get("pruned") != _today():  # saved (so pruned) at least once a day
                _toml_dirty = True
    return _toml_memo


def _cached_table(key: str, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The table an index entry holds, if it is whole and belongs to ``key``."""
    table = entry.get("table")
    if not isinstance(table, str) or entry.get("check") != _toml_check(key, table):
        return None
    try:
        data = json.loads(table)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def load_toml(text: str, origin: Path | str | None = None) -> dict[str, Any]:
    """``tomllib.loads(text)``, remembered across runs; raises what tomllib raises.

    ``origin``, the file the text was read from, lets the index drop the tables of files
    that were deleted or edited since."""
    global _toml_dirty
    if len(text) > _TOML_MAX_TEXT:
        import tomllib

        return tomllib.loads(text)
    index = _toml_index()
    key = _toml_key(text)
    _toml_used.add(key)
    entry = index.get(key)
    where = [str(origin)] if origin is not None else []
    if entry is not None:
        data = _cached_table(key, entry)
        if data is not None:
            paths = entry.get("paths")
            if not isinstance(paths, list):
                paths = entry["paths"] = []
            if entry.get("used") != _today() or not set(where) <= set(paths):
                entry["used"] = _today()
                paths += [w for w in where if w not in paths]
                del paths[:-_TOML_PATHS]
                _toml_dirty = True
            return data
        del index[key]  # damaged, edited or another text's: dropped, parsed again
        _toml_dirty = True
    import tomllib

    data = tomllib.loads(text)
    try:
        table = json.dumps(data, ensure_ascii=False)
    except (TypeError, ValueError):  # dates and times do not round-trip through JSON: not kept
        return data
    index[key] = {
        "table": table,
        "check": _toml_check(key, table),
        "used": _today(),
        "paths": where,
    }
    _toml_dirty = True
    return data


def _well_formed(entry: dict[str, Any]) -> bool:
    paths = entry.get("paths")
    return (
        isinstance(entry.get("used"), int)
        and isinstance(entry.get("table"), str)
        and isinstance(paths, list)
        and all(isinstance(p, str) for p in paths)
    )


def _outdated(entry: dict[str, Any], today: int, parsed_now: set[str]) -> bool:
    """A table not used this run that goes: unused for STALE_DAYS, or only of older versions
    of files read this run, or of files gone."""
    if today - entry["used"] > STALE_DAYS:
        return True
    paths = entry["paths"]
    return bool(paths) and all(p in parsed_now or not Path(p).is_file() for p in paths)


def _kept_tables(memo: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the saved index keeps: see the module's docstring."""
    today = _today()
    parsed_now = {p for k in _toml_used if k in memo for p in memo[k].get("paths", [])}
    keep: list[tuple[int, str, dict[str, Any]]] = []
    for key, entry in memo.items():
        if not _well_formed(entry):
            continue
        if key not in _toml_used and _outdated(entry, today, parsed_now):
            continue
        keep.append((entry["used"] if key not in _toml_used else today + 1, key, entry))
    keep.sort(key=lambda item: item[0], reverse=True)  # this run's first, then the latest
    kept: dict[str, dict[str, Any]] = {}
    size = 0
    for _, key, entry in keep[:_TOML_LIMIT]:
        size += len(entry["table"]) + 200
        if size > _TOML_BUDGET * 3 // 4:
            break
        kept[key] = entry
    return kept


def flush() -> None:
    """Save what this process parsed for the next one (the CLI calls this once, on exit).

    Library use never writes the index by itself: only renders are stored as they happen.
    """
    global _toml_dirty
    if not _toml_dirty or _toml_memo is None or not enabled():
        return
    _toml_dirty = False
    keep = _kept_tables(_toml_memo)
    folder = cache_dir().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"pruned": _today(), "tables": keep}, ensure_ascii=False)
        write(folder / _TOML_INDEX, text)
        (folder / "recipe-toml-v3.json").unlink(missing_ok=True)  # the previous format's
    except OSError:
        pass


def forget() -> None:
    """Delete the saved index, and what this process parsed."""
    global _toml_memo
    _toml_memo = None
    (cache_dir().parent / _TOML_INDEX).unlink(missing_ok=True)
