"""Fixtures of the recipe tests."""

from __future__ import annotations

import pytest

from hostile import probe_recipes


@pytest.fixture(scope="module")
def probe_catalog(tmp_path_factory):
    """A folder with the two probe recipes of hostile.py, and the catalog that includes it."""
    root = tmp_path_factory.mktemp("user-recipes")
    return root, probe_recipes(root)
