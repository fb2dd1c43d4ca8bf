"""A built wheel carries the recipes and works from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from helpers import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("snippetgen-*.whl")
    return path


def test_wheel_contains_every_recipe(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for folder in (ROOT / "templates").iterdir():
        if (folder / "recipe.toml").exists():
            assert f"snippetgen/templates/{folder.name}/recipe.toml" in names
    assert "snippetgen/templates/train/feature.py.j2" in names


def test_wheel_renders_from_another_directory(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import snippetgen, sys; from snippetgen.cli import main; sys.argv=['snippetgen', "
            "'render', 'mixup', '--alpha', '0.3', '-o', 'train.py']; main()",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    check = subprocess.run(
        [sys.executable, "-c", "import snippetgen.recipes.catalog as c; print(c.builtin_dir())"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert str(site) in check.stdout
    assert "default=0.3" in (elsewhere / "train.py").read_text().replace(" ", "")


def test_console_script_starts_where_ctrl_c_is_caught(wheel):
    """The script pip makes imports snippetgen.launch, which imports nothing Python has not
    loaded (tests/cli/test_interrupts.py sends it SIGINT mid-import)."""
    archive = zipfile.ZipFile(wheel)
    (entry_points,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "snippetgen = snippetgen.launch:main" in archive.read(entry_points).decode()
