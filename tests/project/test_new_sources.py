"""`snippetgen new --data ... --model ...`: the project for that data source and model passes
its own tests (run as a user would, in a subprocess), also after its data.py is replaced by the
user's own, as the project's README says."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from processes import project_tests_pass
from snippetgen.cli import app

# A user's own data: another input shape (one-channel 10x10 images, or 7 features) and
# another class count (3) than the project was generated for; .classes names the classes.
USER_DATA = '''\
"""My own data."""

import torch
from torch.utils.data import TensorDataset


def build_datasets(args):
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(40, *SHAPE, generator=generator)
    labels = torch.arange(40) % 3
    train_dataset = TensorDataset(inputs[:30], labels[:30])
    train_dataset.classes = ["ant", "bee", "cat"]
    return train_dataset, TensorDataset(inputs[30:], labels[30:])
'''


def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *options: str) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # not the user's ~/.cache
    root = tmp_path / "my-project"
    result = CliRunner().invoke(app, ["new", str(root), *options], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return root


@pytest.mark.parametrize(
    "options",
    [
        ("--data", "csv", "--model", "mlp"),
        ("--data", "image-folder", "--model", "resnet18"),
        ("--data", "tensors"),
    ],
    ids=["csv-mlp", "image-folder-resnet18", "tensors"],
)
def test_the_project_for_a_data_source_passes_its_own_tests(tmp_path, monkeypatch, options):
    root = make_project(tmp_path, monkeypatch, *options)
    data = (root / "my_project" / "data.py").read_text()
    assert "def build_datasets(args)" in data
    for other in {"csv", "image-folder", "tensors"} - {options[1]}:
        # only the chosen source's loader: no other source's reader
        marker = {"csv": "read_csv_rows", "image-folder": "scan_class_folders"}.get(other)
        assert marker is None or marker not in data
    if "--model" in options:
        assert (root / ".snippetgen.toml").read_text().count(options[3]) == 1
    project_tests_pass(root, PYTHONPATH=str(root))  # as it is, not installed


@pytest.mark.parametrize(
    ("options", "shape"),
    [((), "(1, 10, 10)"), (("--data", "csv", "--model", "mlp"), "(7,)")],
    ids=["synthetic-small-cnn", "csv-mlp"],
)
def test_the_project_tests_pass_with_the_users_own_data_py(tmp_path, monkeypatch, options, shape):
    root = make_project(tmp_path, monkeypatch, *options)
    user_data = USER_DATA.replace("*SHAPE", "*" + shape)
    (root / "my_project" / "data.py").write_text(textwrap.dedent(user_data))
    project_tests_pass(root, PYTHONPATH=str(root))  # as it is, not installed


def test_the_project_templates_are_not_a_recipe():
    """templates/_project (no recipe.toml, a leading "_") is not listed, shown or broken."""
    from snippetgen.recipes.catalog import load_catalog

    catalog = load_catalog()
    assert "_project" not in catalog.recipes
    assert not any("_project" in str(problem) for problem in catalog.broken)
    runner = CliRunner()
    listed = runner.invoke(app, ["list", "--json"])
    assert listed.exit_code == 0 and "_project" not in listed.stdout
    found = runner.invoke(app, ["search", "project"])
    assert "_project" not in found.stdout
    shown = runner.invoke(app, ["show", "_project"])
    assert shown.exit_code == 2 and shown.stderr.count("\n") == 1
