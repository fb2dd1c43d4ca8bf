"""Fixtures of the recipe tests."""

from __future__ import annotations

import os

import pytest

from hostile import probe_recipes


@pytest.fixture(scope="module")
def probe_catalog(tmp_path_factory):
    """A folder with the two probe recipes of hostile.py, and the catalog that includes it."""
    root = tmp_path_factory.mktemp("user-recipes")
    return root, probe_recipes(root)


@pytest.fixture()
def user_path(tmp_path, monkeypatch):
    """Two recipe folders on SNIPPETGEN_PATH, in order."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv("SNIPPETGEN_PATH", os.pathsep.join([str(first), str(second)]))
    monkeypatch.chdir(tmp_path)
    return first, second
