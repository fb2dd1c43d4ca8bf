"""Writing a project: all of it into a staging folder, then renamed into place at once."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from snippetgen.errors import ScaffoldError

if TYPE_CHECKING:
    from snippetgen.project.scaffold import Project


def check_target(directory: Path) -> None:
    """Refuse a target that is not a new or an empty folder: a file, a symbolic link (even
    one to a folder), a FIFO, socket or device, or a folder with anything in it (a dangling
    link too). Only a temporary left there by a killed `new` does not count (see write_project)."""
    import stat

    from snippetgen.output import is_abandoned_temp, kind_of

    mode = _target_mode(directory)
    if mode is None:
        return
    if not stat.S_ISDIR(mode):
        raise ScaffoldError(
            f"{directory} exists and is not a folder (it is {kind_of(mode)}); nothing was written."
        )
    try:
        entries = [e for e in directory.iterdir() if not is_abandoned_temp(e)]
    except OSError as exc:
        raise ScaffoldError(f"Cannot read {directory}: {exc.strerror or exc}.") from None
    if entries:
        raise ScaffoldError(f"{directory} is not empty; choose a new folder (nothing was written).")


def _target_mode(directory: Path) -> int | None:
    """The target's file mode (not following a link), None when it does not exist; a path
    that cannot be made (through a file, too long, not allowed) is refused."""
    try:
        return directory.lstat().st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        blocker = next(
            (f for f in reversed(directory.parents) if f.exists() and not f.is_dir()), None
        )
        raise ScaffoldError(
            f"Cannot create {directory}: {blocker or 'a folder on its path'} is not a folder; "
            "nothing was written."
        ) from None
    except OSError as exc:  # a name too long, no permission
        raise ScaffoldError(f"Cannot create {directory}: {exc.strerror or exc}.") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_project(project: Project) -> Path:
    """Write into a temporary folder, then rename it into place (or, when the target is an
    existing empty folder such as ".", move its entries in); on any failure remove it all.

    The staging folder (".NAME.XXXXXXXX.snippetgen.tmp") is locked while in use; one that a
    killed process left behind is removed by the next `new` into the same folder."""
    from snippetgen.output import TEMP_SUFFIX, lock, remove_stale_temps, temp_prefix

    target = project.directory.absolute()
    check_target(target)
    missing = _missing_parents(target)
    fill = target.is_dir()
    staging: Path | None = None
    held: int | None = None
    moved: list[Path] = []
    done = False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        home = target if fill else target.parent
        remove_stale_temps(home)  # what a killed `new` left here
        staging = Path(
            tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=TEMP_SUFFIX, dir=home)
        )
        held = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        lock(held)  # in use: another `new` in this folder leaves it alone
        for relative, text in project.files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if fill:
            for entry in sorted(staging.iterdir()):
                entry.rename(target / entry.name)
                moved.append(target / entry.name)
        else:
            staging.chmod(0o777 & ~_umask())  # mkdtemp made it private
            staging.rename(target)
            staging = None
        done = True
    except OSError as exc:
        raise ScaffoldError(f"Cannot create {target}: {exc.strerror or exc}.") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if held is not None:
            os.close(held)
        if not done:
            _undo(moved, missing)
    return target


def _missing_parents(target: Path) -> list[Path]:
    """The folders above `target` that do not exist yet, innermost first; refuses a path
    through something that is not a folder."""
    missing = []
    parent = target.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise ScaffoldError(f"Cannot create {target}: {parent} is not a folder.")
    return missing


def _undo(moved: list[Path], missing: list[Path]) -> None:
    """Remove what a failed write moved into place, and the folders made for it."""
    for path in moved:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for folder in missing:  # folders made for it, innermost first
        try:
            folder.rmdir()
        except OSError:
            break
