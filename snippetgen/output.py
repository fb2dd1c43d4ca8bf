"""Writing results: colour decisions, Pygments highlighting, atomic file writes."""

from __future__ import annotations

import errno
import os
import sys
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


# --- files -------------------------------------------------------------------------------------
# snippetgen writes only regular files, each through a temporary file (or, for `new`, a staging
# folder) in the same folder, renamed into place once complete. A temporary is named
# ".NAME.XXXXXXXX.snippetgen.tmp" and locked (flock) by its writer while it exists; one left
# by a process that was killed is unlocked, and the next write to that folder removes it.

TEMP_SUFFIX = ".snippetgen.tmp"
STALE_AFTER = 60.0  # seconds: a younger unlocked temporary may be one whose writer is starting


def temp_prefix(name: str) -> str:
    """A temporary's name begins like this: NAME cut short, so that a file name up to the
    system's limit still leaves room for the temporary's."""
    return f".{name[:100]}."


def lock(fd: int) -> None:
    """Hold an exclusive lock on ``fd`` (the writer's mark that its temporary is in use)."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): stale temporaries are never removed there
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def is_abandoned_temp(path: Path, now: float | None = None) -> bool:
    """A temporary of ours that nobody holds: named like one, old enough, its lock free."""
    try:
        import fcntl
    except ImportError:
        return False
    import stat
    import time

    if not (path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)):
        return False
    now = time.time() if now is None else now
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        return False  # never ours: a symlink, a FIFO, a socket, a device
    if now - info.st_mtime < STALE_AFTER:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its writer is alive
        return False
    finally:
        os.close(fd)
    return True


def remove_stale_temps(folder: Path) -> int:
    """Remove the temporaries that killed writers left in ``folder``; how many went."""
    import shutil
    import time

    now = time.time()
    removed = 0
    try:
        found = list(Path(folder).iterdir())
    except OSError:
        return 0
    for path in found:
        if not is_abandoned_temp(path, now):
            continue
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
        except OSError:
            pass
    return removed


_KINDS = {
    stat_name: text
    for stat_name, text in (
        ("S_ISLNK", "a symbolic link"),
        ("S_ISFIFO", "a named pipe (FIFO)"),
        ("S_ISSOCK", "a socket"),
        ("S_ISCHR", "a character device"),
        ("S_ISBLK", "a block device"),
        ("S_ISDIR", "a folder"),
    )
}


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, in words ("a regular file", "a symbolic link", ...)."""
    import stat

    for test, text in _KINDS.items():
        if getattr(stat, test)(mode):
            return text
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_output(path: Path, *, force: bool) -> None:
    """Refuse an -o target that is neither a new file in an existing folder nor, with
    ``force``, a regular file (never a symbolic link, device, FIFO or socket)."""
    import stat

    from snippetgen.errors import OverwriteError, UserError

    try:
        info = os.lstat(path)
    except FileNotFoundError:
        parent = path.parent
        try:
            if not stat.S_ISDIR(parent.stat().st_mode):
                raise UserError(f"Cannot write {path}: {parent} is not a folder.")
        except FileNotFoundError:
            raise UserError(f"Cannot write {path}: folder {parent} does not exist.") from None
        except OSError as exc:
            raise UserError(f"Cannot write {path}: {_reason(exc)}.") from None
        return
    except NotADirectoryError:
        blocker = next((f for f in reversed(path.parents) if f.exists() and not f.is_dir()), None)
        what = f"{blocker} is not a folder" if blocker else "a folder on its path is a file"
        raise UserError(f"Cannot write {path}: {what}.") from None
    except OSError as exc:  # too long a name, no permission, a loop of symbolic links
        raise UserError(f"Cannot write {path}: {_reason(exc)}.") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"Cannot write {path}: it is a folder; give a file name.")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(
            f"Cannot write {path}: it is {kind_of(info.st_mode)}, and snippetgen only "
            "writes regular files (remove it or choose another name)."
        )
    if not force:
        raise OverwriteError(path=str(path))


def _new_file_mode() -> int:
    """What open() would give a new file: 0666 minus the umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every system can)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (OSError, AttributeError):
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _link(tmp: str, path: Path) -> bool:
    """Give ``tmp`` the name ``path`` unless something has that name (FileExistsError);
    False where the file system has no hard links."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            return False
        raise
    return True


def atomic_write(
    path: Path,
    data: str | bytes,
    *,
    overwrite: bool = True,
    sync: bool = True,
    mode: int | None = None,
    temp: tuple[str, str] | None = None,
    only_regular: bool = True,
) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` through a temporary file in the same
    folder, then rename it into place: readers see the old file or the whole new one, never
    a part. Every file snippetgen writes, but for a project's staging folder, goes through here.

    The new file gets ``mode``, by default the usual permissions (0666 minus the umask),
    never those of a file it replaces. With ``overwrite=False`` an existing ``path`` is never
    replaced, even one created while the data was written (FileExistsError). With
    ``only_regular`` only a regular file is replaced (OSError otherwise); without it, anything
    but a folder is. ``sync`` makes the file and its name durable (fsync) before this returns.

    The temporary is ours (locked while written; one a killed writer left goes at the next
    write here) unless ``temp`` names its (prefix, suffix): then its owner clears leftovers.
    On any failure, or an interrupt, the temporary is removed and ``path`` left as it was.
    """
    import tempfile

    path = Path(path)
    folder = path.parent
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if temp is None:
        remove_stale_temps(folder)
    prefix, suffix = temp or (temp_prefix(path.name), TEMP_SUFFIX)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    try:
        try:
            if temp is None:
                lock(fd)
            _fill(fd, payload, _new_file_mode() if mode is None else mode, sync=sync)
            _put_in_place(tmp, path, overwrite=overwrite, only_regular=only_regular)
        finally:
            os.close(fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync:
        _sync_folder(folder)


def _fill(fd: int, data: bytes, mode: int, *, sync: bool) -> None:
    """Give the temporary ``fd`` its permissions and its whole content."""
    if hasattr(os, "fchmod"):  # mkstemp made it 0600
        os.fchmod(fd, mode)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if sync:
        os.fsync(fd)


def _put_in_place(tmp: str, path: Path, *, overwrite: bool, only_regular: bool) -> None:
    """Rename the complete temporary ``tmp`` to ``path`` under atomic_write's rules."""
    import stat

    if not overwrite and _link(tmp, path):
        Path(tmp).unlink()
        return
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        pass
    else:  # checked again: it may have changed since the command began
        if not overwrite:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
        if only_regular and not stat.S_ISREG(mode):
            raise OSError(f"it is {kind_of(mode)}, not a regular file")
    Path(tmp).replace(path)
