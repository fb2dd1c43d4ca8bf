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

Keys are computed with CPython's built-in SHA-256 module (see
:mod:`snippetgen.codegen.digests`), which loads faster than hashlib's OpenSSL binding. Beside the renders, :mod:`snippetgen.codegen.toml_cache` keeps parsed ``recipe.toml``
files; :func:`flush` saves them on exit, and :func:`clear` deletes both.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from snippetgen.codegen import toml_cache
from snippetgen.codegen.cache_folder import (
    STALE_DAYS,
    TEMP,
    cache_dir,
    enabled,
    read_regular,
    write,
)
from snippetgen.codegen.digests import folder_digest
from snippetgen.codegen.digests import sha256 as _sha256
from snippetgen.codegen.toml_cache import flush as flush

FORMAT = "v3"
MAX_ENTRIES = 500  # beyond this, the least recently used entries are removed
MAX_ENTRY_BYTES = 4 << 20  # a render is tens of kilobytes: anything this big is not ours
_MAGIC = f"# snippetgen render cache {FORMAT} key="
_SUM = " sha256="
_PART_AGE = 3600.0  # seconds: a ".tmp-*.part" file this old was left by a killed process


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
def _tool_digest() -> str:
    """snippetgen's version and own source (its subpackages' too), and the versions of the
    tools that shape output."""
    import snippetgen

    package = Path(snippetgen.__file__).resolve().parent
    digest = _sha256()
    digest.update(f"{snippetgen.__version__}|{sys.version_info[:2]}".encode())
    digest.update(f"|{_installed('jinja2')}|{_installed('black')}".encode())
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def render_key(
    header: str,
    folders: Iterable[Path],
    values: Mapping[str, Any],
    digests: Callable[[Path], str] = folder_digest,
) -> str:
    """The cache key of a render: a hex SHA-256 over everything the output depends on.
    `digests` gives each folder's digest (a FolderDigests in a long-running process)."""
    digest = _sha256()
    digest.update(f"{FORMAT}|{_tool_digest()}\0".encode())
    digest.update(header.encode() + b"\0")
    digest.update(json.dumps(values, sort_keys=True, default=repr).encode() + b"\0")
    for folder in folders:
        digest.update(f"{digests(Path(folder))}\0".encode())
    return str(digest.hexdigest())


def _entry(key: str) -> Path:
    return cache_dir() / f"{key}.py"


def _checksum(key: str, body: bytes) -> str:
    return _sha256(key.encode("ascii") + b"\0" + body).hexdigest()


def load(key: str) -> str | None:
    """The cached render for ``key``, or None (missing, unreadable, not a regular file, too
    big, another key's entry, corrupt, or cache off)."""
    if not enabled():
        return None
    path = _entry(key)
    data = read_regular(path, MAX_ENTRY_BYTES)
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
        write(_entry(key), data)
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
                elif entry.name.startswith(TEMP[0]) and entry.name.endswith(TEMP[1]):
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


def clear() -> int:
    """Delete every cache entry (and the parsed recipe.toml index); returns how many went."""
    toml_cache.forget()
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
