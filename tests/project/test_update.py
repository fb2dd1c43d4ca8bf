"""`snippetgen update`: a scaffolded project the user has edited takes new features, new
parameter values and newer recipes through a three-way merge (git merge-file) without losing
an edit; conflicts are marked and exit 1; refusals and failures leave every byte as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers import TINY
from processes import project_tests_pass

PKG = "demo"
PRINT = "            print(fields, flush=True)\n"
MY_PRINT = '            print("[mine]", fields, flush=True)\n'


def tree(root: Path) -> dict[str, bytes]:
    """Every file below root (bytecode aside), with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A project as `new` writes it: checkpoint, 3 epochs."""
    from typer.testing import CliRunner

    from snippetgen.cli import app

    root = tmp_path_factory.mktemp("made") / PKG
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        result = CliRunner().invoke(
            app, ["new", str(root), "--with", "checkpoint", "--epochs", "3"], catch_exceptions=False
        )
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture()
def project(generated, tmp_path) -> Path:
    """A fresh copy of the generated project, with two edits of the user's own: a larger
    dropout in model.py and a tag on the epoch line in train.py."""
    root = tmp_path / PKG
    shutil.copytree(generated, root)
    edit(root / PKG / "model.py", "nn.Dropout(0.1)", "nn.Dropout(0.2)")
    edit(root / PKG / "train.py", PRINT, MY_PRINT)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def answers(root: Path) -> dict:
    return tomllib.loads((root / ".snippetgen.toml").read_text())


def squeezed(path: Path) -> str:
    return "".join(path.read_text().split())


def test_new_keeps_a_pristine_copy_and_records_recipe_hashes(generated):
    from snippetgen import __version__
    from snippetgen.project.pristine import recipe_hash
    from snippetgen.recipes.catalog import load_catalog

    copy = generated / ".snippetgen" / "pristine"
    files = {p for p in tree(generated) if not p.startswith(".snippetgen")} - {".snippetgen.toml"}
    assert {str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file()} == files
    for path in files:
        assert (copy / path).read_bytes() == (generated / path).read_bytes()
    recorded = answers(generated)
    assert recorded["snippetgen_version"] == __version__
    catalog = load_catalog()
    assert recorded["recipe_hashes"] == {
        name: recipe_hash(catalog.get(name).path) for name in ("train", "checkpoint")
    }
    assert recorded["defaults"]["epochs"] == 5 and recorded["params"]["epochs"] == 3


def test_adding_ema_keeps_the_edits_and_ema_works(project, cli, tmp_path):
    code, out, err = cli("update", str(project), "--with", "ema")
    assert code == 0, err
    assert f"merged      {PKG}/train.py" in out and f"merged      {PKG}/model.py" in out
    assert "note: feature ema: added" in err
    train = (project / PKG / "train.py").read_text()
    assert MY_PRINT in train and "AveragedModel(" in train and "<<<<<<<" not in train
    assert "nn.Dropout(0.2)" in (project / PKG / "model.py").read_text()
    assert answers(project)["recipes"] == ["checkpoint", "ema"]
    assert "decay" in answers(project)["params"]
    project_tests_pass(project)
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", PKG, "--epochs", "2", *TINY, "--output-dir", str(run)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "[mine] epoch 1" in proc.stdout  # the user's edit runs
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    assert all(0.0 <= row["ema_val_acc"] <= 1.0 and row["ema_val_loss"] > 0 for row in rows)
    assert (run / "ema_model.pt").is_file()
    # the pristine copy is now the new render: a second update has nothing to do
    code, out, err = cli("update", str(project))
    assert code == 0 and out == "" and "nothing changed" in err


def test_a_new_parameter_value_becomes_the_projects_default(project, cli):
    code, _, err = cli("update", str(project), "--epochs", "7")
    assert code == 0, err
    train = squeezed(project / PKG / "train.py")
    assert '"--epochs",type=int,default=7,' in train
    assert MY_PRINT.strip() in (project / PKG / "train.py").read_text()
    assert answers(project)["params"]["epochs"] == 7
    assert "| `--epochs` | `7` |" in (project / "README.md").read_text()


def test_removing_a_feature_keeps_the_edits(project, cli):
    assert '"--resume",' in (project / PKG / "train.py").read_text()
    code, out, err = cli("update", str(project), "--without", "checkpoint")
    assert code == 0, err
    assert "note: feature checkpoint: removed" in err
    train = (project / PKG / "train.py").read_text()
    assert '"--resume",' not in train and '"--every",' not in train and MY_PRINT in train
    assert "nn.Dropout(0.2)" in (project / PKG / "model.py").read_text()
    recorded = answers(project)
    assert recorded["recipes"] == [] and "every" not in recorded["params"]
    project_tests_pass(project)


def test_an_overlapping_edit_is_a_conflict_with_markers_and_exit_1(project, cli):
    edit(project / PKG / "train.py", "default=3,", "default=4,")  # the user's own default
    before = tree(project)
    code, out, _ = cli("update", str(project), "--epochs", "7", "--dry-run")
    assert code == 1 and f"conflicted  {PKG}/train.py" in out and tree(project) == before
    code, out, err = cli("update", str(project), "--epochs", "7")
    assert code == 1
    assert f"conflicted  {PKG}/train.py" in out
    assert f"conflict: {project / PKG / 'train.py'}" in err
    assert err.strip().splitlines()[-1].startswith("error: 1 files have conflicts")
    train = (project / PKG / "train.py").read_text()
    assert "<<<<<<< yours\n" in train and ">>>>>>> as generated now\n" in train
    assert "default=4," in train and "default=7," in train and MY_PRINT in train
    # the rest went through, the answers too
    assert "| `--epochs` | `7` |" in (project / "README.md").read_text()
    assert answers(project)["params"]["epochs"] == 7


def test_a_deleted_file_stays_deleted(project, cli):
    (project / "tests" / "test_project.py").unlink()
    code, out, err = cli("update", str(project), "--with", "ema")
    assert code == 0, err
    assert "deleted     tests/test_project.py  (you deleted it; it stays deleted)" in out
    assert not (project / "tests" / "test_project.py").exists()
    pristine = project / ".snippetgen" / "pristine" / "tests" / "test_project.py"
    assert pristine.is_file()  # the base of later updates


def test_dry_run_and_diff_write_nothing(project, cli):
    before = tree(project)
    code, out, err = cli("update", str(project), "--with", "ema", "--dry-run", "--diff")
    assert code == 0, err
    assert tree(project) == before
    assert "nothing was written" in err
    assert f"--- a/{PKG}/train.py\n+++ b/{PKG}/train.py\n" in out
    assert "+from torch.optim.swa_utils import get_ema_multi_avg_fn\n" in out
    assert f"merged      {PKG}/train.py" in out


def test_a_failure_midway_leaves_every_byte_as_it_was(project, cli, monkeypatch):
    before = tree(project)
    modes = {p: (project / p).stat().st_mode for p in before}
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst, **kwargs):
        if Path(dst).is_relative_to(project):  # not the render cache's
            calls.append(dst)
        if len(calls) == 3 and calls[-1] == dst:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", failing_replace)
    code, _, err = cli("update", str(project), "--with", "ema")
    assert code == 2 and len(calls) > 3  # two files replaced, then put back
    assert err.strip().splitlines()[-1] == (
        f"error: Cannot update {project}: No space left on device; the project is as it was."
    )
    assert tree(project) == before  # no temporary left either
    assert {p: (project / p).stat().st_mode for p in before} == modes


def test_an_update_from_an_older_release_brings_the_fix(project, cli):
    """An older release put the model in train mode for evaluation; its pristine copy and the
    user's file have that line; the user's own edit elsewhere in the file stays."""
    pristine = project / ".snippetgen" / "pristine"
    fixed = (project / PKG / "train.py").read_text()
    for root in (project, pristine):
        edit(root / PKG / "train.py", "    model.eval()\n", "    model.train()\n")
        (root / PKG / "legacy.py").write_text("OLD = 1\n")  # no longer generated
        (root / PKG / "helpers.py").write_text("HELP = 1\n")
    (project / PKG / "helpers.py").write_text("HELP = 2  # mine\n")
    text = (project / ".snippetgen.toml").read_text()
    text = text.replace('snippetgen_version = "', 'snippetgen_version = "0.0.1-')
    (project / ".snippetgen.toml").write_text(text.split("\n[recipe_hashes]")[0] + "\n")
    code, out, err = cli("update", str(project))
    assert code == 0, err
    assert f"merged      {PKG}/train.py" in out
    assert (project / PKG / "train.py").read_text() == fixed  # the fix, and the user's edit
    assert f"removed     {PKG}/legacy.py" in out and not (project / PKG / "legacy.py").exists()
    assert f"kept        {PKG}/helpers.py" in out
    assert (project / PKG / "helpers.py").read_text() == "HELP = 2  # mine\n"
    assert not (pristine / PKG / "legacy.py").exists()
    assert "the project was generated by snippetgen 0.0.1-" in err
    assert "records no recipe hashes" in err
    assert answers(project)["recipe_hashes"].keys() == {"train", "checkpoint"}


def test_a_project_without_a_pristine_copy_leaves_changed_files_as_conflicts(project, cli):
    shutil.rmtree(project / ".snippetgen")
    readme = (project / "README.md").read_bytes()
    code, out, err = cli("update", str(project))
    assert code == 1
    assert "warning:" in err and "no pristine copy" in err
    model = (project / PKG / "model.py").read_text()
    assert "<<<<<<< yours\n        self.dropout = nn.Dropout(0.2)\n=======\n" in model
    assert "nn.Dropout(0.1)" in model
    assert (project / "README.md").read_bytes() == readme  # unchanged files stay untouched
    assert (project / ".snippetgen" / "pristine" / PKG / "model.py").is_file()


def test_refusals_are_one_sentence_and_touch_nothing(project, cli, tmp_path, monkeypatch):
    before = tree(project)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=project, check=True)
    edit(project / PKG / "data.py", "The data", "My data")
    code, out, err = cli("update", str(project), "--epochs", "7")
    assert code == 2 and out == ""
    assert err == (
        f"error: {project} has uncommitted changes (1 files); commit or stash them first so "
        "that the update can be inspected and reverted, or pass --allow-dirty.\n"
    )
    for args, fragment in [
        (["--without", "mixup"], "The project has no feature 'mixup' to remove"),
        (["--epochs", "0"], "--epochs"),
    ]:
        code, out, err = cli("update", str(project), "--allow-dirty", *args)
        assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err
    shutil.rmtree(project / ".git")
    edit(project / PKG / "data.py", "My data", "The data")
    assert tree(project) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("update", str(empty))
    assert code == 2 and "holds no .snippetgen.toml" in err
    monkeypatch.setenv("PATH", str(empty))
    code, _, err = cli("update", str(project))
    assert code == 2 and "git is not on PATH" in err
    assert tree(project) == before


def test_a_second_update_of_the_same_folder_is_refused(project, cli):
    from snippetgen.project.update_writing import lock_project

    before = tree(project)
    held = lock_project(project)  # as an update that is running holds it
    try:
        code, _, err = cli("update", str(project), "--epochs", "7")
    finally:
        os.close(held)
    assert code == 2 and "Another snippetgen update is running" in err
    assert tree(project) == before


def test_notes_say_which_recipes_and_defaults_changed(project, cli):
    """As if the release that generated the project had another checkpoint recipe and another
    default for --epochs and --lr (and this project chose --lr itself)."""
    text = (project / ".snippetgen.toml").read_text()
    text = text.replace('"checkpoint" = "', '"checkpoint" = "0')
    text = text.replace('"epochs" = 5\n', '"epochs" = 4\n').replace('"lr" = 0.05', '"lr" = 0.07')
    text = text.replace("\nlr = 0.05\n", "\nlr = 0.07\n")
    (project / ".snippetgen.toml").write_text(text)
    code, _, err = cli("update", str(project), "--dry-run")
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: recipe checkpoint: changed since the project was generated",
        "note: --epochs: default now 5 (was 4); this project keeps 3 (pass --epochs 5 to take it)",
        "note: --lr: default now 0.05 (was 0.07); this project keeps 0.07 (pass --lr 0.05 to "
        "take it)",
    ]
