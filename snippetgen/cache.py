"""The render cache: a finished render is reused while nothing it depends on has changed.

Entries live in ``$XDG_CACHE_HOME/snippetgen/renders`` (default ``~/.cache/snippetgen``),
one file per render, named by the SHA-256 of everything the render depends on:

- the snippetgen version and the source of snippetgen's own modules,
- the Python version, and the installed Jinja2 and black (location, size and time),
- the name and contents of every file in every recipe folder involved,
- the header (the exact ``snippetgen render ...`` command) and every parameter value.

So editing a template, a recipe.toml, snippetgen itself, or upgrading black gives a new key,
and a stale render is never served. Only renders that passed every check are stored. An
entry is written atomically (temporary file, then ``os.replace``) and carries a checksum of
its text; an entry that fails it (truncated, edited, garbage) is ignored and removed. The
folder is safe to delete at any time. ``SNIPPETGEN_NO_CACHE=1`` turns the cache off.

Keys are computed with CPython's built-in SHA-256 module, which loads faster than hashlib's
OpenSSL binding. Beside the renders, ``load_toml`` keeps parsed ``recipe.toml`` files, keyed by
each file's whole text (nothing to hash), so that ``list``, ``search`` and ``show`` need not
parse TOML on every run.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

FORMAT = "v1"
MAX_ENTRIES = 500  # beyond this, the least recently used entries are removed
_MAGIC = f"# snippetgen render cache {FORMAT} sha256="


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
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
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


def load(key: str) -> str | None:
    """The cached render for ``key``, or None (missing, unreadable, corrupt or cache off)."""
    if not enabled():
        return None
    path = _entry(key)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    first, _, body = data.partition(b"\n")
    try:
        line = first.decode("ascii")
        if not line.startswith(_MAGIC) or _sha256(body).hexdigest() != line[len(_MAGIC):]:
            raise ValueError("checksum mismatch")
        text = body.decode("utf-8")
    except ValueError:  # also UnicodeDecodeError: a corrupt entry is dropped, never served
        path.unlink(missing_ok=True)
        return None
    try:
        os.utime(path)  # recently used: kept longest when the cache is pruned
    except OSError:
        pass
    return text


def store(key: str, text: str) -> None:
    """Keep a checked render; best effort (a read-only or full disk just means no caching)."""
    if not enabled():
        return
    import tempfile

    body = text.encode("utf-8")
    data = f"{_MAGIC}{_sha256(body).hexdigest()}\n".encode("ascii") + body
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(_entry(key))
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return
    except BaseException:  # Ctrl-C mid-write: leave no partial file behind
        Path(tmp).unlink(missing_ok=True)
        raise
    prune(folder)


def prune(folder: Path | None = None, limit: int = MAX_ENTRIES) -> int:
    """Remove the least recently used entries beyond ``limit``; returns how many went."""
    folder = folder or cache_dir()
    try:
        entries = [e for e in os.scandir(folder) if e.name.endswith(".py") and e.is_file()]
    except OSError:
        return 0
    if len(entries) <= limit:
        return 0
    entries.sort(key=lambda e: e.stat().st_mtime)
    removed = 0
    for entry in entries[: len(entries) - limit * 3 // 4]:
        try:
            Path(entry.path).unlink()
            removed += 1
        except OSError:
            pass
    return removed


# --- parsed recipe.toml files ------------------------------------------------------------------
# Parsing TOML is most of the time `list`, `search` and `show` spend on the catalog. The parsed
# tables are kept in one JSON file keyed by each file's whole text, so an edited file is simply a
# new key (never stale, and no hashing to pay for) and a damaged index is ignored. Each table is
# held as its own JSON text: every caller gets fresh objects from the (fast, C) JSON decoder.

_TOML_INDEX = "recipe-toml-v3.json"
_TOML_LIMIT = 2000
_toml_memo: dict[str, str] | None = None
_toml_used: set[str] = set()
_toml_dirty = False


def _toml_index() -> dict[str, str]:
    global _toml_memo
    if _toml_memo is None:
        _toml_memo = {}
        if enabled():
            try:
                data = json.loads((cache_dir().parent / _TOML_INDEX).read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    _toml_memo = {k: v for k, v in data.items() if isinstance(v, str)}
            except (OSError, ValueError):
                pass
    return _toml_memo


def load_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, remembered across runs; raises what tomllib raises."""
    global _toml_dirty
    key = text
    index = _toml_index()
    _toml_used.add(key)
    if key in index:
        try:
            data = json.loads(index[key])
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
    import tomllib

    data = tomllib.loads(text)
    try:
        index[key] = json.dumps(data, ensure_ascii=False)
    except (TypeError, ValueError):  # dates and times do not round-trip through JSON: not kept
        return data
    _toml_dirty = True
    return data


def flush() -> None:
    """Save what this process parsed for the next one (the CLI calls this once, on exit).

    Library use never writes the index by itself: only renders are stored as they happen.
    """
    global _toml_dirty
    if not _toml_dirty or _toml_memo is None or not enabled():
        return
    _toml_dirty = False
    keep = {k: v for k, v in _toml_memo.items() if k in _toml_used}
    for k, v in _toml_memo.items():
        if len(keep) >= _TOML_LIMIT:
            break
        keep.setdefault(k, v)
    import tempfile

    folder = cache_dir().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keep, handle, ensure_ascii=False)
        Path(tmp).replace(folder / _TOML_INDEX)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


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
