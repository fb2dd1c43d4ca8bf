"""The cache folder, ``$XDG_CACHE_HOME/snippetgen`` (default ``~/.cache/snippetgen``):
where it is, whether it is on, and reading and writing its files.

It holds the render cache (:mod:`snippetgen.codegen.cache`, in ``renders/``) and the index of parsed
recipe.toml files (:mod:`snippetgen.codegen.toml_cache`). Its files are read only when they are
regular files of bounded size, and replaced whole; the folder is safe to delete at any time.
``SNIPPETGEN_NO_CACHE=1`` turns the cache off.
"""

from __future__ import annotations

import os
from pathlib import Path

STALE_DAYS = 30  # entries (and parsed recipe.toml files) unused this long are removed
TEMP = (".tmp-", ".part")  # (prefix, suffix) of a file being written (see :func:`write`)


def cache_dir() -> Path:
    """Where renders are kept: $XDG_CACHE_HOME/snippetgen/renders, or ~/.cache/snippetgen/renders."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "snippetgen" / "renders"


def enabled() -> bool:
    return not os.environ.get("SNIPPETGEN_NO_CACHE")


def read_regular(path: Path, limit: int) -> bytes | None:
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


def write(path: Path, data: str | bytes) -> None:
    """Replace a cache file whole: private (0600), not synced (a crash costs one render),
    through a ".tmp-*.part" temporary (:func:`snippetgen.codegen.cache.prune` clears those a killed
    process left)."""
    from snippetgen.output import atomic_write

    atomic_write(path, data, sync=False, mode=0o600, temp=TEMP, only_regular=False)
