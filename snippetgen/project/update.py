"""``snippetgen update``: bring a project the user has edited up to date.

The project is rendered again (:func:`snippetgen.project.scaffold.build_project`, as ``new --from``
does) from its answers file, changed by the options (``--with``, ``--without``, ``--data``,
``--model``, ``--PARAM VALUE``). Each file is then merged three ways with ``git merge-file``:
the base is the pristine copy of the project as last generated (``.snippetgen/pristine/``),
"ours" the user's file, "theirs" the new render. Overlapping edits leave the standard
conflict markers. Everything is computed in memory first (:func:`plan_update`); then
:func:`snippetgen.project.update_writing.apply_update` writes file by file through temporary files
and ``os.replace``, the pristine copy and the answers file last, and puts every file back as
it was when any write fails.
"""

from __future__ import annotations

import difflib
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from snippetgen.codegen.quoting import escape
from snippetgen.errors import UpdateError, UserError
from snippetgen.project.pristine import OWN_PREFIX, PRISTINE_DIR, generated
from snippetgen.recipes.catalog import BASE_RECIPE, Catalog

# what happens to a file, in the order the plan lists them
ACTIONS = ("added", "updated", "merged", "conflicted", "removed", "kept", "deleted")
LABELS = ("yours", "as generated before", "as generated now")  # conflict marker labels


@dataclass
class Change:
    """One file of the project: what the update does with it."""

    path: str
    action: str  # one of ACTIONS, or "unchanged"
    before: str | None  # the user's file now (None: absent)
    after: str | None  # the file after the update (None: absent)
    note: str = ""


@dataclass
class UpdatePlan:
    directory: Path
    changes: list[Change]
    # relative path -> new text (None: remove), in the order they are written
    writes: dict[str, str | None]
    originals: dict[str, tuple[bytes | None, int]]  # path -> (bytes now, mode) for a rollback
    notes: list[str] = field(default_factory=list)  # what changed between the two renders
    warnings: list[str] = field(default_factory=list)

    @property
    def conflicts(self) -> list[str]:
        return [c.path for c in self.changes if c.action == "conflicted"]

    def listed(self) -> list[Change]:
        return [c for c in self.changes if c.action != "unchanged"]


# --- git ---------------------------------------------------------------------------------------


def _git() -> str:
    git = shutil.which("git")
    if git is None:
        raise UpdateError(
            "snippetgen update merges with 'git merge-file' and git is not on PATH; "
            "install git and run it again."
        )
    return git


def check_clean(directory: Path) -> None:
    """Refuse a folder inside a git work tree with uncommitted changes (untracked files too)."""
    git = _git()
    inside = subprocess.run(
        [git, "rev-parse", "--is-inside-work-tree"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return
    status = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=all", "--", "."],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = [line for line in status.stdout.splitlines() if line.strip()]
    if status.returncode != 0 or dirty:
        raise UpdateError(
            f"{escape(str(directory))} has uncommitted changes ({len(dirty)} files); commit or "
            "stash them first so that the update can be inspected and reverted, or pass "
            "--allow-dirty."
        )


def merge3(ours: str, base: str, theirs: str) -> tuple[str, bool]:
    """``git merge-file -p`` of the three texts: (merged text, whether it has conflicts)."""
    git = _git()
    with tempfile.TemporaryDirectory(prefix="snippetgen-merge-") as folder:
        names = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(folder) / name
            path.write_bytes(text.encode("utf-8"))
            names.append(str(path))
        labels = [word for label in LABELS for word in ("-L", label)]
        proc = subprocess.run(
            [git, "merge-file", "-p", *labels, *names],
            cwd=folder,
            capture_output=True,
            check=False,
        )
    if not 0 <= proc.returncode <= 127:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UpdateError(f"git merge-file failed: {escape(reason[-1] if reason else '?')}.")
    return proc.stdout.decode("utf-8"), proc.returncode > 0


# --- reading the project -----------------------------------------------------------------------


def _read(path: Path, shown: str) -> tuple[bytes | None, int]:
    """(bytes, permission bits) of a regular file; (None, 0) when there is none."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None, 0
    except NotADirectoryError:
        raise UpdateError(f"Cannot update {shown}: a folder on its path is a file.") from None
    if not stat.S_ISREG(info.st_mode):
        raise UpdateError(f"{shown} is not a regular file; move it away and run the update again.")
    return path.read_bytes(), stat.S_IMODE(info.st_mode)


def _text(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UpdateError(f"{shown} is not UTF-8 text; snippetgen cannot merge it.") from None


def read_pristine(directory: Path) -> dict[str, str] | None:
    """The pristine copy {relative path: text}, or None for a project without one."""
    root = directory / PRISTINE_DIR
    if not root.is_dir() or root.is_symlink():
        return None
    copy: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        relative = path.relative_to(root).as_posix()
        shown = escape(f"{PRISTINE_DIR}/{relative}")
        data, _ = _read(path, shown)
        if data is not None:
            copy[relative] = _text(data, shown)
    return copy


# --- planning ----------------------------------------------------------------------------------


def _without(catalog: Catalog, recipes: Sequence[str], without: Sequence[str]) -> list[str]:
    kept = list(recipes)
    for name in without:
        if name not in kept:
            try:
                name = catalog.get(name).name
            except UserError:
                pass
        if name not in kept:
            has = ", ".join(kept) or "none"
            raise UpdateError(f"The project has no feature {name!r} to remove (it has: {has}).")
        kept.remove(name)
    return kept


def plan_update(
    catalog: Catalog,
    directory: Path,
    *,
    with_: Sequence[str] = (),
    without: Sequence[str] = (),
    cli_args: Sequence[str] = (),
    data: str | None = None,
    model: str | None = None,
) -> UpdatePlan:
    """Everything the update would do, computed in memory; raises UserError, writes nothing."""
    from snippetgen import __version__
    from snippetgen.project.scaffold import ANSWERS_FILE, build_project, read_answers

    _git()
    shown = escape(str(directory))
    _check_project(directory, shown, ANSWERS_FILE)
    old = read_answers(directory / ANSWERS_FILE)
    answers, dropped = _kept_answers(catalog, old, with_, without, data, model)
    project = build_project(
        catalog,
        directory,
        with_=with_,
        cli_args=cli_args,
        answers=answers,
        data=data,
        model=model,
    )
    base = read_pristine(directory)
    result = UpdatePlan(directory, [], {}, {})
    if base is None:
        result.warnings.append(
            f"{shown} has no pristine copy ({PRISTINE_DIR}; older releases wrote none): "
            "this is a full re-render, and every file that differs from it is left with "
            "conflict markers around the differences"
        )
    result.notes = _version_notes(old, project.answers, __version__, dropped, with_, without)
    _plan_files(result, base or {}, generated(project.files, ANSWERS_FILE), ANSWERS_FILE)
    result.writes[ANSWERS_FILE] = project.files[ANSWERS_FILE]
    for path in result.writes:
        result.originals[path] = _read(directory / path, escape(path))
    return result


def _check_project(directory: Path, shown: str, answers_file: str) -> None:
    """Refuse a folder that is not a project made by ``snippetgen new``."""
    if not directory.is_dir():
        raise UpdateError(f"{shown} is not a folder; update works on a project folder.")
    if not (directory / answers_file).exists():
        raise UpdateError(
            f"{shown} holds no {answers_file}; update works on a project made by 'snippetgen new'."
        )


def _kept_answers(
    catalog: Catalog,
    old: Any,
    with_: Sequence[str],
    without: Sequence[str],
    data: str | None,
    model: str | None,
) -> tuple[Any, list[str]]:
    """The old answers less the features removed and the values no recipe takes any longer;
    and the names of the values so dropped."""
    from snippetgen.codegen.rendering import RenderRequest, plan
    from snippetgen.recipes.datamodel import data_model

    recipes = _without(catalog, old.recipes, without)
    setup = data_model(data or old.data, model or old.model)
    wanted = [catalog.get(name).name for name in [*recipes, *with_]]
    # the parameters the new set of recipes has: answers of removed features are dropped
    fresh = plan(RenderRequest(BASE_RECIPE, {}, wanted, setup.data, setup.model), catalog)
    params = {n: v for n, v in old.params.items() if n in fresh.params}
    dropped = [n for n in old.params if n not in fresh.params and n not in fresh.inapplicable]
    return replace(old, recipes=tuple(recipes), params=params), dropped


def _plan_files(
    result: UpdatePlan, base: Mapping[str, str], theirs: Mapping[str, str], answers_file: str
) -> None:
    """Add each project file's change to the plan, and the writes it needs: the project's
    files first, then those of the pristine copy that differ from it."""
    pristine: dict[str, str | None] = {}
    for path in sorted(set(theirs) | set(base)):
        if path.startswith(OWN_PREFIX) or path == answers_file:
            continue
        change = _change(result.directory, path, base.get(path), theirs.get(path))
        result.changes.append(change)
        if change.action in ("added", "updated", "merged", "conflicted", "removed"):
            result.writes[path] = change.after
        pristine[f"{PRISTINE_DIR}/{path}"] = theirs.get(path)
    # the pristine copy and the answers file are written last
    for path, text in pristine.items():
        if base.get(path.removeprefix(PRISTINE_DIR + "/")) != text:
            result.writes[path] = text


def _change(directory: Path, path: str, base: str | None, theirs: str | None) -> Change:
    data, _ = _read(directory / path, escape(path))
    ours = None if data is None else _text(data, escape(path))
    if theirs is None:  # no longer generated
        if ours is None:
            return Change(path, "unchanged", None, None)
        if ours == base:
            return Change(path, "removed", ours, None)
        return Change(path, "kept", ours, ours, "no longer generated; you edited it")
    if ours is None:
        if base is None:
            return Change(path, "added", None, theirs)
        return Change(path, "deleted", None, None, "you deleted it; it stays deleted")
    if ours == theirs:
        return Change(path, "unchanged", ours, ours)
    if ours == base:
        return Change(path, "updated", ours, theirs)
    if base == theirs:
        return Change(path, "unchanged", ours, ours)  # only your edits
    merged, conflicted = merge3(ours, base or "", theirs)
    return Change(path, "conflicted" if conflicted else "merged", ours, merged)


def _version_notes(
    old: Any,
    new: Any,
    version: str,
    dropped: Sequence[str],
    with_: Sequence[str],
    without: Sequence[str],
) -> list[str]:
    """What changed between the render the project came from and this one."""
    notes = []
    if old.version != version:
        made = f"snippetgen {old.version}" if old.version else "an older snippetgen"
        notes.append(f"the project was generated by {made}; this is snippetgen {version}")
    added = [r for r in new.recipes if r not in old.recipes]
    removed = [r for r in old.recipes if r not in new.recipes]
    notes += [f"feature {r}: added" for r in added]
    notes += [f"feature {r}: removed" for r in removed]
    notes += _recipe_notes(old.hashes, new.hashes)
    notes += [
        f"--{name}: no longer a parameter of this project (value dropped)" for name in dropped
    ]
    if old.defaults:
        notes += _default_notes(old, new, bool(added))
    return notes


def _recipe_notes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Which recipes changed since the project was generated (by their recorded hashes)."""
    if not old:
        return [
            "the answers file records no recipe hashes (an older snippetgen): which recipes "
            "changed is unknown"
        ]
    return [
        f"recipe {name}: changed since the project was generated"
        for name, digest in new.items()
        if name in old and old[name] != digest
    ]


def _default_notes(old: Any, new: Any, features_added: bool) -> list[str]:
    """The parameters that are new, or whose default changed, since the project was generated."""
    notes = []
    for name, default in new.defaults.items():
        if name not in old.defaults:
            if name not in old.params and not features_added:
                notes.append(f"--{name}: new parameter (default {default!r})")
        elif old.defaults[name] != default:
            kept = new.params.get(name)
            hint = (
                f"; this project keeps {kept!r} (pass --{name} {default} to take it)"
                if kept != default
                else ""
            )
            notes.append(f"--{name}: default now {default!r} (was {old.defaults[name]!r}){hint}")
    return notes


# --- showing -----------------------------------------------------------------------------------


def diff_text(change: Change) -> str:
    """The unified diff of a change (the user's file -> the file after the update)."""
    before = [] if change.before is None else change.before.splitlines(keepends=True)
    after = [] if change.after is None else change.after.splitlines(keepends=True)
    lines = difflib.unified_diff(
        before,
        after,
        "/dev/null" if change.before is None else f"a/{change.path}",
        "/dev/null" if change.after is None else f"b/{change.path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def summary(update: UpdatePlan) -> Mapping[str, int]:
    counts = {action: 0 for action in ACTIONS}
    for change in update.changes:
        if change.action in counts:
            counts[change.action] += 1
    return counts
