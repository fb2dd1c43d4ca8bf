"""Every cache test has its own cache folder and frozen copies of the recipes it renders."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from helpers import ROOT
from snippetgen.codegen import toml_cache


@pytest.fixture(autouse=True)
def renders_dir(tmp_path, monkeypatch) -> Path:
    """This test's own cache: $XDG_CACHE_HOME/snippetgen/renders under tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SNIPPETGEN_NO_CACHE", raising=False)
    return tmp_path / "xdg" / "snippetgen" / "renders"


@pytest.fixture(autouse=True)
def recipes_root(tmp_path, monkeypatch) -> Path:
    """Frozen copies of the built-in recipes these tests render, first on SNIPPETGEN_PATH.

    Other work may edit the built-in templates while the suite runs; comparing two renders
    of a folder that changed in between would (rightly) give different code.
    """
    root = tmp_path / "recipes"
    for name in ("train", "mixup", "reproducible"):
        shutil.copytree(ROOT / "templates" / name, root / name)
    monkeypatch.setenv("SNIPPETGEN_PATH", str(root))
    return root


@pytest.fixture()
def user_recipe(recipes_root):
    """A snippet recipe in the SNIPPETGEN_PATH folder, to be edited by the test."""
    folder = recipes_root / "greet"
    folder.mkdir()
    (folder / "recipe.toml").write_text(
        textwrap.dedent("""\
        name = "greet"
        kind = "snippet"
        title = "Greet"
        summary = "Prints a greeting."

        [[params]]
        name = "times"
        type = "int"
        default = 1
        min = 1
        max = 10
        help = "how often"
    """)
    )
    (folder / "snippet.py.j2").write_text('for _ in range({{ p.times }}):\n    print("hello")\n')
    return folder


@pytest.fixture()
def fresh_toml_memo(monkeypatch):
    """As if in a new process: nothing parsed yet, nothing to save."""
    monkeypatch.setattr(toml_cache, "_toml_memo", None)
    monkeypatch.setattr(toml_cache, "_toml_used", set())
    monkeypatch.setattr(toml_cache, "_toml_dirty", False)
