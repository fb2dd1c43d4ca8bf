"""Your own recipes on SNIPPETGEN_PATH: listed, found, shown and rendered; overrides of
built-in ones, `which` and `copy`. Everything runs on real temporary folders; broken user
recipes are in test_broken_recipes.py.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from helpers import ROOT
from processes import on_a_terminal
from userkit import FEATURE, make_recipe, tree

BUILT_IN = ROOT / "templates"


# --- user recipes and overrides ---------------------------------------------------------------


def test_a_user_feature_is_listed_found_shown_and_rendered(cli, user_path):
    first, _ = user_path
    folder = make_recipe(first, "loss-scale")
    code, out, err = cli("list")
    assert code == 0 and err == ""
    line = next(line for line in out.splitlines() if line.startswith("loss-scale "))
    assert f"[yours: {folder}]" in line
    code, out, _ = cli("search", "损失缩放")
    assert out.split()[0] == "loss-scale"
    code, out, _ = cli("show", "loss-scale", "--color", "never")
    assert code == 0 and str(folder) in out and "loss = loss * args.loss_scale" in out
    code, out, err = cli("render", "train", "--with", "loss-scale", "--loss-scale", "2.5")
    assert code == 0 and err == ""
    assert "loss = loss * args.loss_scale" in out and "default=2.5" in out


def test_later_folders_override_earlier_ones_and_built_ins_visibly(cli, user_path):
    first, second = user_path
    shutil.copytree(BUILT_IN / "mixup", first / "mixup")
    text = (first / "mixup" / "recipe.toml").read_text().replace("default = 0.2", "default = 0.7")
    (first / "mixup" / "recipe.toml").write_text(text)
    code, out, _ = cli("render", "mixup")
    assert code == 0 and "default=0.7" in out
    code, out, _ = cli("list")
    line = next(line for line in out.splitlines() if line.startswith("mixup "))
    assert f"[yours: {first / 'mixup'} overriding the built-in]" in line
    code, out, _ = cli("list", "--json")
    row = next(r for r in json.loads(out) if r["name"] == "mixup")
    assert row["source"] == str(first) and row["overrides"] == [str(BUILT_IN / "mixup")]
    code, out, _ = cli("which", "mixup")
    assert code == 0 and out.splitlines()[-1] == str(first / "mixup")
    assert f"overrides the built-in recipe at {BUILT_IN / 'mixup'}" in out
    # a later folder wins over an earlier one
    shutil.copytree(first / "mixup", second / "mixup")
    text = (second / "mixup" / "recipe.toml").read_text().replace("default = 0.7", "default = 0.9")
    (second / "mixup" / "recipe.toml").write_text(text)
    code, out, _ = cli("render", "mixup")
    assert "default=0.9" in out
    code, out, _ = cli("which", "mixup")
    assert out.splitlines()[-1] == str(second / "mixup")


def test_which_a_built_in_recipe(cli, user_path):
    code, out, err = cli("which", "checkpoint")
    assert code == 0 and err == ""
    assert out.splitlines() == ["checkpoint: built-in recipe", str(BUILT_IN / "checkpoint")]
    code, out, err = cli("which", "chekpoint")
    assert code == 2 and out == "" and "'checkpoint'" in err


def test_an_override_is_noted_on_a_terminal(tmp_path, user_path):
    """On a terminal every command notes the override on stderr (scripts see it in list)."""
    first, _ = user_path
    shutil.copytree(BUILT_IN / "mixup", first / "mixup")
    args = ["render", "mixup", "-o", str(tmp_path / "x.py")]
    text = on_a_terminal(args, stream="stderr", cwd=tmp_path)
    assert f"note: mixup comes from {first / 'mixup'}, overriding the built-in recipe" in text


# --- copy -------------------------------------------------------------------------------------


def test_copy_makes_a_renamed_recipe_that_loads_and_renders(cli, user_path, tmp_path):
    first, _ = user_path
    code, out, err = cli("copy", "mixup", str(first), "--name", "my-mixup")
    assert code == 0 and out.strip() == str(first / "my-mixup")
    copied = first / "my-mixup"
    assert sorted(p.name for p in copied.iterdir()) == ["feature.py.j2", "recipe.toml"]
    assert 'name = "my-mixup"' in (copied / "recipe.toml").read_text()
    assert (copied / "feature.py.j2").read_bytes() == (
        BUILT_IN / "mixup" / "feature.py.j2"
    ).read_bytes()
    code, out, _ = cli("which", "my-mixup")
    assert out.splitlines()[-1] == str(copied)
    code, ours, _ = cli("render", "my-mixup")
    code, theirs, _ = cli("render", "mixup")
    # the same script; only the header and the docstring's feature list name it
    assert ours.splitlines()[2:] == theirs.splitlines()[2:]
    assert "(train, my-mixup)" in ours


def test_copy_with_the_same_name_overrides_and_explains(cli, user_path):
    first, _ = user_path
    code, out, err = cli("copy", "label-smoothing", str(first))
    assert code == 0 and "overrides the recipe 'label-smoothing'" in err
    code, out, _ = cli("which", "label-smoothing")
    assert out.splitlines()[-1] == str(first / "label-smoothing")


def test_copy_to_a_folder_off_the_path_says_how_to_use_it(cli, user_path, tmp_path):
    elsewhere = tmp_path / "new" / "recipes"
    code, out, err = cli("copy", "one-hot", str(elsewhere))
    assert code == 0 and (elsewhere / "one-hot" / "snippet.py.j2").is_file()
    assert f'export SNIPPETGEN_PATH="$SNIPPETGEN_PATH{os.pathsep}{elsewhere}"' in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["copy", "mixup", "{first}"], "already exists"),  # first/mixup exists already
        (["copy", "mixup", "{first}", "--name", "Bad_Name"], "kebab-case"),
        (["copy", "mixpu", "{first}"], "'mixup'"),
        (["copy", "mixup", "{file}"], "not a folder"),
    ],
    ids=["target-exists", "bad-name", "unknown-recipe", "onto-a-file"],
)
def test_refused_copies_touch_nothing(cli, user_path, tmp_path, args, fragment):
    first, _ = user_path
    make_recipe(first, "mixup", FEATURE.format(name="mixup"))
    (tmp_path / "plain-file").write_text("keep\n")
    before = tree(tmp_path)
    filled = [a.format(first=first, file=tmp_path / "plain-file") for a in args]
    exit_code, out, err = cli(*filled)
    assert exit_code == 2 and out == "" and fragment in err
    assert tree(tmp_path) == before
    assert not [p for p in tmp_path.rglob(".*") if p.is_dir()], "no staging folder left behind"
