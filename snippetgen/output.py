"""Writing results: colour decisions, Pygments highlighting, atomic file writes."""

from __future__ import annotations

import os
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import TextIO


class Color(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


def use_color(choice: Color, stream: TextIO | None = None) -> bool:
    """Colour only for a terminal (or when forced); NO_COLOR turns 'auto' off."""
    if choice is Color.always:
        return True
    if choice is Color.never or os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def highlight(code: str) -> str:
    from pygments import highlight as pyg_highlight
    from pygments.formatters import TerminalFormatter
    from pygments.lexers import PythonLexer

    return pyg_highlight(code, PythonLexer(), TerminalFormatter())


def _file_mode(path: Path) -> int:
    """The permissions for `path`: those of the file it replaces, else 0666 minus the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; give the file the usual permissions
                os.fchmod(handle.fileno(), _file_mode(path))
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
