"""Folder digests: what the render cache keys and a project's recipe hashes are made of, and
the memo a long-running server keeps, which must see every edit a fresh digest would."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from helpers import ROOT
from snippetgen.codegen import digests
from snippetgen.codegen.digests import FolderDigests, folder_digest, folder_files

HOUR_AGO = time.time() - 3600


def recipe_copy(tmp_path: Path, name: str = "mixup") -> Path:
    folder = tmp_path / name
    shutil.copytree(ROOT / "templates" / name, folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "part.j2").write_text("{# a nested file counts #}\n")
    return folder


def age(folder: Path) -> None:
    """Every file's modification time an hour ago (its status-change time stays now)."""
    for path in folder.rglob("*"):
        os.utime(path, (HOUR_AGO, HOUR_AGO))


@pytest.fixture()
def later(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo hashes as if an hour from now: it trusts the times of files written by the test."""
    hour = 3600 * 10**9
    monkeypatch.setattr(digests, "_clock", lambda: NOW + hour)


NOW = time.time_ns()


def test_the_digest_covers_every_file_by_name_and_contents(tmp_path: Path) -> None:
    folder = recipe_copy(tmp_path)
    before = folder_digest(folder)
    assert before == folder_digest(recipe_copy(tmp_path / "again"))  # contents, not place
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert folder_digest(folder) == before  # bytecode is not a recipe's
    (folder / "sub" / "part.j2").rename(folder / "sub" / "other.j2")
    assert folder_digest(folder) != before
    names = ["/".join(parts) for parts, _ in folder_files(folder)]
    assert names == sorted(names) and "sub/other.j2" in names


@pytest.mark.parametrize("change", ["same size, old times", "new file", "removed", "renamed"])
def test_the_memo_sees_every_edit(tmp_path: Path, change: str, later: None) -> None:
    folder = recipe_copy(tmp_path)
    age(folder)
    memo = FolderDigests()
    assert memo(folder) == folder_digest(folder)
    assert memo(folder) == folder_digest(folder)  # now from memory
    time.sleep(0.05)  # past a tick of the file system's clock (at most 10 ms)
    template = folder / "feature.py.j2"
    if change == "same size, old times":
        # the same size and modification time as before: only the status-change time moves
        text = template.read_text()
        template.write_text(text.replace("blend every", "blend EVERY"))
        age(folder)
    elif change == "new file":
        (folder / "sub" / "new.j2").write_text("")
    elif change == "removed":
        (folder / "sub" / "part.j2").unlink()
    else:
        (folder / "sub" / "part.j2").rename(folder / "sub" / "part2.j2")
    assert memo(folder) == folder_digest(folder)
    assert memo(folder) != FolderDigests()(recipe_copy(tmp_path / "original"))


def test_a_file_modified_just_before_hashing_is_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File systems stamp times from a coarse clock: an edit right after hashing may keep a
    file's times, so a folder modified that recently is not remembered."""
    folder = recipe_copy(tmp_path)  # written now
    memo = FolderDigests()
    hashed = []
    real = digests.folder_digest
    monkeypatch.setattr(digests, "folder_digest", lambda *a: hashed.append(1) or real(*a))
    memo(folder)
    memo(folder)
    assert len(hashed) == 2
    monkeypatch.setattr(digests, "_clock", lambda: NOW + 3600 * 10**9)  # an hour later
    memo(folder)
    memo(folder)
    assert len(hashed) == 3


def test_render_keys_are_the_same_with_the_memo(tmp_path: Path) -> None:
    from snippetgen.codegen.rendering import RenderRequest, plan, render_key
    from snippetgen.recipes.catalog import load_catalog

    resolved = plan(RenderRequest("mixup", with_=["warmup"]), load_catalog())
    memo = FolderDigests()
    assert render_key(resolved, digests=memo) == render_key(resolved)
    assert render_key(resolved, digests=memo) == render_key(resolved)
