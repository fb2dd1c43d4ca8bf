"""The render cache: a finished render is reused while nothing it depends on has changed.

Entries live in ``$XDG_CACHE_HOME/snippetgen/renders`` (default ``~/.cache/snippetgen``),
one file per render, named by the SHA-256 of everything the render depends on:

- the snippetgen version and the source of snippetgen's own modules,
- the Python version, and the installed Jinja2 and black (location, size and time),
- the name and contents of every file in every recipe folder involved,
- the header (the exact ``snippetgen render ...`` command) and every parameter value.

So editing a template, a recipe.toml, snippetgen itself, or upgrading black gives a new key,
and a stale render is never served. Only renders that passed every check are stored. An
entry is written atomically (temporary file, then ``os.replace``); its first line names its
own key and a SHA-256 of key and text. Before use an entry must be a regular file (opened
without following a symlink or waiting on a FIFO), at most MAX_ENTRY_BYTES, name the key it
was asked for (an entry copied or renamed from another key is a miss) and match its
checksum; one that fails (truncated, edited, swapped, garbage) is ignored and removed. The
least recently used entries beyond MAX_ENTRIES, and those unused for STALE_DAYS, are pruned.
The folder is safe to delete at any time. ``SNIPPETGEN_NO_CACHE=1`` turns the cache off.

Keys are computed with CPython's built-in SHA-256 module, which loads faster than hashlib's
OpenSSL binding. Beside the renders, ``load_toml`` keeps parsed ``recipe.toml`` files (see
below), so that ``list``, ``search`` and ``show`` need not parse TOML on every run.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

FORMAT = "v2"
MAX_ENTRIES = 500  # beyond this, the least recently used entries are removed
MAX_ENTRY_BYTES = 4 << 20  # a render is tens of kilobytes: anything this big is not ours
STALE_DAYS = 30  # entries (and parsed recipe.toml files) unused this long are removed
_MAGIC = f"# snippetgen render cache {FORMAT} key="
_SUM = " sha256="
_PART_AGE = 3600.0  # seconds: a ".tmp-*.part" file this old was left by a killed process


def cache_dir() -> Path:
    """Where renders are kept: $XDG_CACHE_HOME/snippetgen/renders, or ~/.cache/snippetgen/renders."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "snippetgen" / "renders"


def enabled() -> bool:
    return not os.environ.get("SNIPPETGEN_NO_CACHE")


def _installed(package: str) -> str:
    """Where a package is installed and when: changes on any upgrade, without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
        origin = spec.origin if spec is not None else None
        if origin is None:
            return f"{package} missing"
        stat = Path(origin).stat()
    except (ImportError, ValueError, OSError):
        return f"{package} missing"
    return f"{package} {origin} {stat.st_size} {stat.st_mtime_ns}"


@functools.lru_cache(maxsize=1)
def _sha256_type() -> Any:
    """CPython's built-in SHA-256 where there is one: hashlib would load OpenSSL first,
    which costs a render served from the cache more than all its hashing. Same digest."""
    try:
        from _sha2 import sha256  # CPython 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # CPython 3.11
        except ImportError:
            from hashlib import sha256
    return sha256


def _sha256(data: bytes = b"") -> Any:
    """A SHA-256 hash object."""
    return _sha256_type()(data)


@functools.lru_cache(maxsize=1)
def _tool_digest() -> str:
    """snippetgen's version and own source, and the versions of the tools that shape output."""
    from snippetgen import __version__

    digest = _sha256()
    digest.update(f"{__version__}|{sys.version_info[:2]}".encode())
    digest.update(f"|{_installed('jinja2')}|{_installed('black')}".encode())
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _folder_digest(digest: Any, folder: Path) -> None:
    """Feed every file below ``folder`` (relative name and contents) into ``digest``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    digest.update(f"folder {len(files)}\0".encode())
    for path in files:
        data = path.read_bytes()
        name = path.relative_to(folder).as_posix()
        digest.update(f"{name}\0{len(data)}\0".encode() + data)


def render_key(header: str, folders: Iterable[Path], values: Mapping[str, Any]) -> str:
    """The cache key of a render: a hex SHA-256 over everything the output depends on."""
    digest = _sha256()
    digest.update(f"{FORMAT}|{_tool_digest()}\0".encode())
    digest.update(header.encode() + b"\0")
    digest.update(json.dumps(values, sort_keys=True, default=repr).encode() + b"\0")
    for folder in folders:
        _folder_digest(digest, Path(folder))
    return digest.hexdigest()


def _entry(key: str) -> Path:
    return cache_dir() / f"{key}.py"


def _read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes; None for
    anything else (missing, a symlink, a FIFO, a folder, too big), without blocking on it.
    A regular file that is too big is removed: nothing that big is a cache entry."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # missing, unreadable, or a symlink (ELOOP)
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > limit:
            path.unlink(missing_ok=True)
            return None
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks) if size <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _checksum(key: str, body: bytes) -> str:
    return _sha256(key.encode("ascii") + b"\0" + body).hexdigest()


def load(key: str) -> str | None:
    """The cached render for ``key``, or None (missing, unreadable, not a regular file, too
    big, another key's entry, corrupt, or cache off)."""
    if not enabled():
        return None
    path = _entry(key)
    data = _read_regular(path, MAX_ENTRY_BYTES)
    if data is None:
        return None
    first, _, body = data.partition(b"\n")
    try:
        line = first.decode("ascii")
        named, _, digest = line.removeprefix(_MAGIC).partition(_SUM)
        if not line.startswith(_MAGIC) or named != key or digest != _checksum(key, body):
            raise ValueError("not this key's entry, or damaged")
        text = body.decode("utf-8")
    except ValueError:  # also UnicodeDecodeError: a bad entry is dropped, never served
        path.unlink(missing_ok=True)
        return None
    try:
        os.utime(path, follow_symlinks=False)  # recently used: kept longest when pruning
    except OSError:
        pass
    return text


def store(key: str, text: str) -> None:
    """Keep a checked render; best effort (a read-only or full disk just means no caching)."""
    if not enabled():
        return
    body = text.encode("utf-8")
    data = f"{_MAGIC}{key}{_SUM}{_checksum(key, body)}\n".encode("ascii") + body
    if len(data) > MAX_ENTRY_BYTES:
        return
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write(_entry(key), data)
    except OSError:
        return
    prune(folder)


def prune(folder: Path | None = None, limit: int = MAX_ENTRIES) -> int:
    """Remove entries unused for STALE_DAYS, then the least recently used beyond ``limit``
    (down to three quarters of it), and temporaries a killed process left; returns how many
    went. Only regular files are considered: nothing is followed or opened."""
    import stat
    import time

    folder = folder or cache_dir()
    now = time.time()
    entries: list[tuple[float, str]] = []
    doomed: list[str] = []
    try:
        with os.scandir(folder) as found:
            for entry in found:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue
                if entry.name.endswith(".py"):
                    if now - info.st_mtime > STALE_DAYS * 86400:
                        doomed.append(entry.path)
                    else:
                        entries.append((info.st_mtime, entry.path))
                elif entry.name.startswith(".tmp-") and entry.name.endswith(".part"):
                    if now - info.st_mtime > _PART_AGE:
                        doomed.append(entry.path)
    except OSError:
        return 0
    if len(entries) > limit:
        entries.sort()
        doomed += [path for _, path in entries[: len(entries) - limit * 3 // 4]]
    removed = 0
    for path in doomed:
        try:
            Path(path).unlink()
            removed += 1
        except OSError:
            pass
    return removed


# --- parsed recipe.toml files ------------------------------------------------------------------
# Parsing TOML is most of the time `list`, `search` and `show` spend on the catalog. The parsed
# tables are kept in one JSON file, each as its own JSON text (every caller gets fresh objects
# from the fast C decoder) under the BLAKE2b digest of the file's text, with a check digest of
# that key and the table: a table edited, or moved under another text's key, is a miss (and
# dropped), never used. The whole index is bounded, so that its load stays cheap whatever was
# once parsed: a recipe.toml over _TOML_MAX_TEXT is parsed each time, never kept; at most
# _TOML_LIMIT tables and _TOML_BUDGET bytes are kept, the least recently used going first; and
# when the index is saved (when something changed, and at least once a day), the tables not
# used for STALE_DAYS, those of recipe files that no longer exist, and the older versions of a
# file parsed this run are dropped.

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
            raw = _read_regular(cache_dir().parent / _TOML_INDEX, _TOML_BUDGET)
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
    """What the saved index keeps: see the comment above _TOML_INDEX."""
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
        _write(folder / _TOML_INDEX, text)
        (folder / "recipe-toml-v3.json").unlink(missing_ok=True)  # the previous format's
    except OSError:
        pass


def _write(path: Path, data: str | bytes) -> None:
    """Replace a cache file whole: private (0600), not synced (a crash costs one render),
    through a ".tmp-*.part" temporary (:func:`prune` clears those a killed process left)."""
    from snippetgen.output import atomic_write

    atomic_write(path, data, sync=False, mode=0o600, temp=(".tmp-", ".part"), only_regular=False)


def clear() -> int:
    """Delete every cache entry (and the parsed recipe.toml index); returns how many went."""
    global _toml_memo
    _toml_memo = None
    (cache_dir().parent / _TOML_INDEX).unlink(missing_ok=True)
    removed = 0
    try:
        entries = list(os.scandir(cache_dir()))
    except OSError:
        return 0
    for entry in entries:
        try:
            Path(entry.path).unlink()
            removed += 1
        except OSError:
            pass
    return removed
