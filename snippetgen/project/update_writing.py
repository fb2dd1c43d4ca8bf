"""Writing an update (``snippetgen update``): the plan's files one by one, all or none.

Each file goes through a temporary file and ``os.replace``, in the plan's order (the pristine
copy and the answers file last); when any write fails, every file already written is put
back as it was, and the folders made for them removed. A lock on the project folder keeps a
second update out meanwhile.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from snippetgen.codegen.quoting import escape
from snippetgen.errors import UpdateError

if TYPE_CHECKING:  # the plan's module imports this one
    from snippetgen.project.update import UpdatePlan


def apply_update(update: UpdatePlan) -> None:
    """Write the plan: each file through a temporary and os.replace, in order; on any
    failure put back every file already written (and remove folders made) and raise."""
    directory = update.directory
    done: list[str] = []
    made: list[Path] = []
    try:
        _write_all(update, done, made)
    except BaseException as exc:
        problems = _rollback(update, done, made)
        if isinstance(exc, OSError):
            left = f"; could not restore {', '.join(problems)}" if problems else ""
            raise UpdateError(
                f"Cannot update {escape(str(directory))}: {exc.strerror or exc}; "
                f"the project is as it was{left}."
            ) from None
        raise
    _remove_emptied_folders(update)


def _write_all(update: UpdatePlan, done: list[str], made: list[Path]) -> None:
    """Write (or remove) each file of the plan in order, noting in ``done`` each path
    touched and in ``made`` each folder created, for a rollback."""
    from snippetgen.output import atomic_write

    for relative, text in update.writes.items():
        path = update.directory / relative
        done.append(relative)
        if text is None:
            path.unlink(missing_ok=True)
            continue
        missing = [p for p in path.parents if not p.exists()]
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)
        original, mode = update.originals[relative]
        atomic_write(path, text, mode=mode if original is not None else None)


def _remove_emptied_folders(update: UpdatePlan) -> None:
    """Remove the folders inside the project that the plan's removals left empty."""
    directory = update.directory
    for relative, text in update.writes.items():
        if text is None:
            for folder in (directory / relative).parents:
                if folder == directory or directory not in folder.parents:
                    break
                try:
                    folder.rmdir()
                except OSError:
                    break


def _rollback(update: UpdatePlan, done: Sequence[str], made: Sequence[Path]) -> list[str]:
    """Put back the files in `done` as they were; the paths that could not be."""
    from snippetgen.output import atomic_write

    problems = []
    for relative in reversed(done):
        path = update.directory / relative
        original, mode = update.originals[relative]
        try:
            if original is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, original, mode=mode)
        except OSError:
            problems.append(escape(relative))
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            pass
    return problems


def lock_project(directory: Path) -> int:
    """An exclusive lock on the project folder while it is updated (refuses a second update)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        import fcntl
    except ImportError:  # no flock (Windows)
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UpdateError(
            f"Another snippetgen update is running in {escape(str(directory))}; wait for it."
        ) from None
    return fd
