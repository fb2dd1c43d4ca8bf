"""Content digests: SHA-256 over the files of a folder, for the render cache's keys and the
recipe hashes a project records.

:func:`folder_digest` reads and hashes every file. A long-running process that asks again and
again (``snippetgen serve``) holds a :class:`FolderDigests` instead: it hashes a folder again
only when one of its files was added, removed or changed (name, size, inode, modification or
status-change time), and never trusts the times of a file modified so shortly before it was
hashed that a later edit could leave them as they are (file systems stamp times from a
coarse clock), so an edit is always seen, as with :func:`folder_digest`.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path
from typing import Any

RACY_SECONDS = 2.0  # a file modified this close to its hashing is hashed again next time
_clock = time.time_ns  # the wall clock files are stamped by

Listing = list[tuple[tuple[str, ...], os.stat_result]]


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


def sha256(data: bytes = b"") -> Any:
    """A SHA-256 hash object."""
    return _sha256_type()(data)


def folder_files(folder: Path) -> Listing:
    """Every file below ``folder`` (a link to a file counts; a linked folder is not entered;
    ``__pycache__`` is skipped) as (path parts relative to ``folder``, stat), in path order."""
    found: Listing = []

    def walk(path: str, parts: tuple[str, ...]) -> None:
        try:
            with os.scandir(path) as entries:
                listed = list(entries)
        except (PermissionError, FileNotFoundError, NotADirectoryError):
            return
        for entry in listed:
            if entry.name == "__pycache__":
                continue
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path, (*parts, entry.name))
            elif entry.is_file():
                found.append(((*parts, entry.name), entry.stat()))

    walk(os.fspath(folder), ())
    found.sort(key=lambda item: item[0])
    return found


def folder_digest(folder: Path, files: Listing | None = None) -> str:
    """A hex SHA-256 over every file below ``folder``: its count, then each file's relative
    name, size and contents, in path order."""
    listed = folder_files(folder) if files is None else files
    digest = sha256(f"folder {len(listed)}\0".encode())
    for parts, _ in listed:
        data = folder.joinpath(*parts).read_bytes()
        digest.update(f"{'/'.join(parts)}\0{len(data)}\0".encode() + data)
    return str(digest.hexdigest())


class FolderDigests:
    """folder_digest() for a process that asks for the same folders again and again."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[tuple[Any, ...], str]] = {}
        self._lock = threading.Lock()

    def __call__(self, folder: Path) -> str:
        listed = folder_files(folder)
        signature = tuple(
            (parts, s.st_size, s.st_ino, s.st_mtime_ns, s.st_ctime_ns) for parts, s in listed
        )
        with self._lock:
            known = self._known.get(folder)
        if known is not None and known[0] == signature:
            return known[1]
        hashed_at = _clock()
        digest = folder_digest(folder, listed)
        newest = max((max(s.st_mtime_ns, s.st_ctime_ns) for _, s in listed), default=0)
        if hashed_at - newest > RACY_SECONDS * 1e9:  # else: its times may not show an edit
            with self._lock:
                self._known[folder] = (signature, digest)
        return digest


__all__ = ["FolderDigests", "folder_digest", "folder_files", "sha256"]
