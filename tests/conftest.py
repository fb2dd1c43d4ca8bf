"""Shared helpers: render recipes, load or run the generated scripts, read their outputs."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from snippetgen import RenderRequest, render

ROOT = Path(__file__).resolve().parent.parent
_counter = itertools.count()

# Keep each test process to one thread: the suite runs workers in parallel on small machines.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def render_code(recipe: str, params: dict[str, Any] | None = None, with_: tuple[str, ...] = ()) -> str:
    return render(RenderRequest(recipe, params or {}, with_))


def write_script(directory: Path, recipe: str, params: dict[str, Any] | None = None,
                 with_: tuple[str, ...] = (), name: str | None = None) -> Path:
    path = directory / (name or f"{recipe.replace('-', '_')}_{next(_counter)}.py")
    path.write_text(render_code(recipe, params, with_))
    return path


def load_module(path: Path) -> ModuleType:
    """Import a generated script as a module (its main() does not run)."""
    name = f"generated_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so DataLoader workers and pickling can find it
    spec.loader.exec_module(module)
    return module


def run_script(path: Path, *args: str, cwd: Path | None = None, check: bool = True,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a generated script in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, str(path), *args], cwd=cwd or path.parent, capture_output=True,
        text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{path.name} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def read_metrics(output_dir: Path) -> list[dict[str, Any]]:
    lines = (output_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def state_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Bit-identical state_dicts."""
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Renders never touch the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture()
def cli():
    """Invoke the CLI in-process; returns (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from snippetgen.cli import app

    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return invoke
