"""Every CLI test runs in an empty folder with frozen copies of the train and mixup recipes
first on SNIPPETGEN_PATH."""

from __future__ import annotations

import shutil

import pytest

from helpers import ROOT


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Run every command in an empty folder, so 'nothing written' can be checked."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def recipes_root(tmp_path, monkeypatch):
    """Frozen copies of train and mixup first on SNIPPETGEN_PATH: tests compare two renders,
    and other work may edit the built-in templates while the suite runs."""
    root = tmp_path.parent / f"{tmp_path.name}-recipes"
    for name in ("train", "mixup"):
        shutil.copytree(ROOT / "templates" / name, root / name)
    monkeypatch.setenv("SNIPPETGEN_PATH", str(root))
    return root
