"""A render reads only the recipes it names; anything else gives exactly the full catalog."""

from __future__ import annotations

import pytest

from snippetgen.errors import UnknownRecipeError
from snippetgen.recipes.catalog import builtin_dir, load_catalog

FULL = load_catalog()


def test_every_built_in_folder_is_named_for_its_recipe():
    folders = {
        p.name for p in builtin_dir().iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    }
    assert folders == {r.name for r in FULL}
    assert all(r.path.name == r.name for r in FULL)


def test_naming_recipes_reads_only_those_and_the_base(monkeypatch):
    monkeypatch.delenv("SNIPPETGEN_PATH", raising=False)
    partial = load_catalog(names=["mixup", "warmup"])
    assert set(partial.recipes) == {"train", "mixup", "warmup"}
    for name in partial.recipes:
        assert partial.get(name) == FULL.get(name)


@pytest.mark.parametrize("name", ["标签平滑", "mixp", "../../tmp", "Mixup"])
def test_aliases_typos_and_non_names_read_everything(name, monkeypatch):
    monkeypatch.delenv("SNIPPETGEN_PATH", raising=False)
    partial = load_catalog(names=[name])
    assert set(partial.recipes) == set(FULL.recipes)
    try:
        expected = FULL.get(name)
    except UnknownRecipeError as exc:
        with pytest.raises(UnknownRecipeError) as caught:
            partial.get(name)
        assert str(caught.value) == str(exc)  # the same closest names
    else:
        assert partial.get(name) == expected


def test_a_name_is_never_followed_as_a_path(tmp_path, monkeypatch):
    monkeypatch.delenv("SNIPPETGEN_PATH", raising=False)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "recipe.toml").write_text("this is not toml =\n")
    relative = "../" * len(builtin_dir().parts) + str(outside).lstrip("/")
    catalog = load_catalog(names=[relative])
    assert not any(str(outside) in str(problem) for problem in catalog.broken)
    assert set(catalog.recipes) == set(FULL.recipes)


def test_user_recipes_are_read_whole_and_still_override(tmp_path, monkeypatch):
    import shutil

    mine = tmp_path / "mine"
    shutil.copytree(builtin_dir() / "mixup", mine / "mixup")
    monkeypatch.setenv("SNIPPETGEN_PATH", str(mine))
    partial = load_catalog(names=["mixup"])
    assert partial.get("mixup").path == mine / "mixup"
    assert partial.overridden["mixup"][0].path == builtin_dir() / "mixup"
