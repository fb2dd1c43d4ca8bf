"""Reading the files a user points snippetgen at: recipe files and answers files.

A path may name a FIFO (reading it would wait forever), a device (``/dev/zero`` never
ends), a socket, a folder or a huge file. :func:`read_text` checks what the path is before
opening it, opens it without blocking, checks again what it opened, and reads at most
``limit`` bytes: anything but a regular UTF-8 text file of reasonable size is refused
with a :class:`FileRefused` whose ``reason`` completes the sentence "<path> ...".
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

LIMIT = 1 << 20  # 1 MiB: far beyond any recipe.toml, template or answers file


class FileRefused(ValueError):
    """A path that is not a readable regular text file; ``reason`` says why."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def kind_problem(mode: int) -> str | None:
    """What is wrong with a file of this mode for reading (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def read_bytes(path: str | os.PathLike[str], *, limit: int = LIMIT) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; raise FileRefused otherwise."""
    try:
        problem = kind_problem(Path(path).stat().st_mode)  # never open a FIFO or a device
        if problem:
            raise FileRefused(problem)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileRefused("does not exist", missing=True) from None
    except OSError as exc:
        raise FileRefused(f"cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)  # what was opened: the path may have changed since the stat
        problem = kind_problem(info.st_mode)
        if problem:
            raise FileRefused(problem)
        if info.st_size > limit:
            raise FileRefused(f"is larger than {limit // 1024} KiB")
        chunks = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:  # it grew while being read
                raise FileRefused(f"is larger than {limit // 1024} KiB")
            chunks.append(chunk)
    except OSError as exc:
        raise FileRefused(f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_text(path: str | os.PathLike[str], *, limit: int = LIMIT) -> str:
    """The UTF-8 text of a regular file (see :func:`read_bytes`)."""
    data = read_bytes(path, limit=limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"is not UTF-8 text (byte {exc.start + 1} cannot be decoded)") from None


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, with every link followed, lies inside ``folder`` (links followed)."""
    try:
        real = os.path.realpath(path)
        root = os.path.realpath(folder)
    except (OSError, ValueError):
        return False
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)
