"""Your own recipes on SNIPPETGEN_PATH: overrides, `which`, `copy`, and broken recipes.

Everything runs on real temporary folders. A broken user recipe is reported with its
path and left out of list/search; rendering it is one sentence and exit 2, never a
silent fall back to the built-in recipe it was meant to replace.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

BUILT_IN = ROOT / "templates"

FEATURE = textwrap.dedent("""\
    name = "{name}"
    kind = "feature"
    title = "Scale the loss"
    summary = "Multiply the reported loss by a constant."
    tags = ["demo"]
    aliases = ["loss scaling demo", "损失缩放示例"]
    essential = ["loss"]

    [[params]]
    name = "loss-scale"
    type = "float"
    default = 1.0
    min = 0
    min_exclusive = true
    max = 10
    help = "factor applied to the loss"
""")
MACRO = "{% macro loss() %}\nloss = loss * args.loss_scale\n{% endmacro %}\n"


def make_recipe(root: Path, name: str, toml: str | None = None, template: str = MACRO) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "recipe.toml").write_text(toml if toml is not None else FEATURE.format(name=name))
    (folder / "feature.py.j2").write_text(template)
    return folder


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def user_path(tmp_path, monkeypatch):
    """Two recipe folders on SNIPPETGEN_PATH, in order."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.setenv("SNIPPETGEN_PATH", os.pathsep.join([str(first), str(second)]))
    monkeypatch.chdir(tmp_path)
    return first, second


def one_error(result, *fragments: str, code: int = 2) -> str:
    exit_code, out, err = result
    assert exit_code == code, (exit_code, out, err)
    assert out == "" and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert len(err.splitlines()) == 1, err  # one sentence, no separate warning
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


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
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "snippetgen", "render", "mixup", "-o", str(tmp_path / "x.py")],
        stderr=follower, stdout=subprocess.DEVNULL, env=dict(os.environ), cwd=tmp_path,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    text = b"".join(chunks).decode()
    assert f"note: mixup comes from {first / 'mixup'}, overriding the built-in recipe" in text


# --- broken user recipes ----------------------------------------------------------------------

BROKEN = {  # case: (recipe name, recipe.toml or None for a good one, template, reason)
    "toml-syntax": ("bad-toml", 'name = "bad-toml"\nkind = "feature\n', MACRO, "recipe.toml does not parse"),
    "unknown-key": ("bad-key", 'colour = "red"\n' + FEATURE.format(name="bad-key"), MACRO,
                    "unknown key(s) colour"),
    "bad-default": (
        "bad-default", FEATURE.format(name="bad-default").replace("default = 1.0", "default = 50.0"),
        MACRO, "default of parameter 'loss-scale' is invalid",
    ),
    "unclosed-if": ("bad-if", None, "{% macro loss() %}\n{% if p.loss_scale %}\nx = 1\n{% endmacro %}\n",
                    "never closed"),
    "not-a-slot": ("bad-slot", None, "{% macro lossy() %}\nx = 1\n{% endmacro %}\n",
                   "macro 'lossy' is not a slot"),
    "essential-missing": ("bad-essential", None, "{% macro batch() %}\nx = 1\n{% endmacro %}\n",
                          "'essential' lists 'loss'"),
    "not-utf8": ("bad-bytes", None, b"\xff\xfe{% macro loss() %}", "not UTF-8"),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_broken_recipe_is_reported_skipped_and_refused(cli, user_path, case):
    first, _ = user_path
    name, toml, template, reason = BROKEN[case]
    folder = first / name
    folder.mkdir()
    (folder / "recipe.toml").write_text(toml if toml is not None else FEATURE.format(name=name))
    if isinstance(template, bytes):
        (folder / "feature.py.j2").write_bytes(template)
    else:
        (folder / "feature.py.j2").write_text(template)
    code, out, err = cli("list")
    assert code == 0 and name not in out
    assert f"warning: skipped: Broken recipe at {folder}" in err and reason in err
    code, out, err = cli("search", "scale", "the", "loss")
    assert name not in out
    line = one_error(cli("render", name), f"Broken recipe at {folder}", reason)
    assert line.endswith(".")
    code, out, _ = cli("which", name)
    assert code == 0 and out.splitlines()[-1] == str(folder)
    one_error(cli("render", "train", "--with", name), str(folder))


def test_a_jinja_syntax_error_is_caught_before_rendering(cli, user_path):
    """Only Jinja itself sees this one: render refuses it as broken (exit 2), not a bug (3)."""
    first, _ = user_path
    folder = make_recipe(first, "odd-expr", template="{% macro loss() %}\nx = {{ p.loss_scale + }}\n{% endmacro %}\n")
    one_error(cli("render", "odd-expr"), f"Broken recipe at {folder / 'feature.py.j2'}", "line 2")


def test_a_broken_override_hides_the_built_in_instead_of_falling_back(cli, user_path):
    first, _ = user_path
    shutil.copytree(BUILT_IN / "mixup", first / "mixup")
    with (first / "mixup" / "feature.py.j2").open("a") as handle:
        handle.write("{% if oops %}\n")
    code, out, err = cli("list")
    assert not any(line.startswith("mixup ") for line in out.splitlines())
    assert str(first / "mixup") in err
    one_error(cli("render", "mixup", "-o", "out.py"), str(first / "mixup"), "never closed")
    assert not Path("out.py").exists()
    one_error(cli("render", "train", "--with", "mixup"), str(first / "mixup"))


# --- copy -------------------------------------------------------------------------------------


def test_copy_makes_a_renamed_recipe_that_loads_and_renders(cli, user_path, tmp_path):
    first, _ = user_path
    code, out, err = cli("copy", "mixup", str(first), "--name", "my-mixup")
    assert code == 0 and out.strip() == str(first / "my-mixup")
    copied = first / "my-mixup"
    assert sorted(p.name for p in copied.iterdir()) == ["feature.py.j2", "recipe.toml"]
    assert 'name = "my-mixup"' in (copied / "recipe.toml").read_text()
    assert (copied / "feature.py.j2").read_bytes() == (BUILT_IN / "mixup" / "feature.py.j2").read_bytes()
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
    assert f"export SNIPPETGEN_PATH=\"$SNIPPETGEN_PATH{os.pathsep}{elsewhere}\"" in err


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
