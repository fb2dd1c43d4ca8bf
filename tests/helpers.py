"""Helpers the tests share: render recipes, load or run the generated scripts, read their
outputs, import optional packages, check generated code with pyflakes, run the web server."""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import io
import itertools
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase

from snippetgen import RenderRequest, render

ROOT = Path(__file__).resolve().parent.parent
_counter = itertools.count()


def render_code(
    recipe: str, params: dict[str, Any] | None = None, with_: tuple[str, ...] = ()
) -> str:
    return render(RenderRequest(recipe, params or {}, with_))


def write_script(
    directory: Path,
    recipe: str,
    params: dict[str, Any] | None = None,
    with_: tuple[str, ...] = (),
    name: str | None = None,
) -> Path:
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


def run_script(
    path: Path, *args: str, cwd: Path | None = None, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a generated script in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, str(path), *args],
        cwd=cwd or path.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
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


def load(tmp_path: Path, recipe: str, params: dict[str, Any] | None = None) -> ModuleType:
    """Render `recipe` into `tmp_path` and import it."""
    return load_module(write_script(tmp_path, recipe, params))


def import_or_skip(name: str) -> ModuleType:
    """importorskip that also skips on a broken install (torchvision raises RuntimeError)."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - any failure means the package is unusable here
        pytest.skip(f"{name} cannot be imported here ({type(exc).__name__}: {exc})")


def importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001
        return False
    return True


def pyflakes_messages(code: str) -> str:
    """pyflakes' findings on generated code ('' when clean)."""
    pyflakes_api = import_or_skip("pyflakes.api")
    reporter_mod = import_or_skip("pyflakes.reporter")
    out, err = io.StringIO(), io.StringIO()
    pyflakes_api.check(code, "generated.py", reporter_mod.Reporter(out, err))
    return out.getvalue() + err.getvalue()


def save_image(path: Path, mode: str, size=(10, 12), seed=0, fmt=None) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    pixels = (rng.random((size[1], size[0], 3)) * 255).astype("uint8")
    from PIL import Image

    image = Image.fromarray(pixels)
    if mode == "P":
        image = image.convert("P")
        image.info["transparency"] = 0
    elif mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)


def image_folder(root: Path, classes=("cat", "dog"), per_class=6) -> Path:
    """PATH/<class>/* with every format and mode the loader reads."""
    kinds = [
        ("png", "RGB"),
        ("jpg", "L"),
        ("gif", "P"),
        ("png", "RGBA"),
        ("bmp", "RGB"),
        ("jpeg", "RGB"),
        ("webp", "RGB"),
    ]
    for c, name in enumerate(classes):
        for i in range(per_class):
            ext, mode = kinds[i % len(kinds)]
            save_image(root / name / f"{i}.{ext}", mode, seed=10 * c + i)
    return root


def write_csv(path: Path, rows: int = 40, seed: int = 0) -> Path:
    import numpy as np

    rng = np.random.default_rng(seed)
    lines = ["height,weight,kind"]
    for i in range(rows):
        kind = ("small", "large", "medium")[i % 3]
        lines.append(f"{rng.normal(10 * (i % 3), 1):.4f},{rng.normal(50, 5):.4f},{kind}")
    path.write_text("\n".join(lines) + "\n")
    return path


# Tiny synthetic data, one batch per epoch: seconds for a project's or a script's run.
TINY = [
    "--train-size",
    "32",
    "--val-size",
    "16",
    "--batch-size",
    "8",
    "--max-batches",
    "1",
    "--device",
    "cpu",
]


@contextlib.contextmanager
def serving(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run `snippetgen serve ARGS` in a real process; yield (its URL, the process); stop it.

    The URL is the first line the server prints once it listens, read with a deadline."""
    import selectors

    proc = subprocess.Popen(
        [sys.executable, "-m", "snippetgen", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=60):
                raise AssertionError("snippetgen serve printed no URL within 60 s")
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), (
            url,
            proc.stderr.read() if proc.poll() is not None else "",
        )
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def readme_section(title: str) -> str:
    """The text of the README section `## title`, up to the next `## ` heading."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"\n## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def readme_commands(text: str) -> list[str]:
    """The command lines of the ```sh and ```console blocks of `text`."""
    found = []
    for block in re.findall(r"```(?:sh|console)\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.removeprefix("$ ").strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def refused(capsys: Any, call: Any, *needles: str) -> str:
    """`call()` exits 2 with one line on stderr holding every needle; returns that line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        call()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
    return str(err)


# Hypothesis settings for tests that render or run code: the same examples every run.
DERANDOMIZED = {
    "derandomize": True,  # the same examples on every run
    "database": None,  # write no .hypothesis folder
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    # no shrinking: a failure is reported as found (shrinking re-renders for minutes)
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
}


def assert_one_sentence_exit(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    """A non-zero exit with one clear line on stderr and no traceback."""
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


def broken_package(directory: Path, name: str) -> dict[str, str]:
    """An environment in which `import name` raises RuntimeError, as a mismatched build does."""
    package = directory / "broken_site" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        f"raise RuntimeError('{name} was built for another torch\\nsecond line of detail')\n"
    )
    path = os.pathsep.join(filter(None, [str(package.parent), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def assert_one_clear_sentence(proc: subprocess.CompletedProcess[str], package: str) -> None:
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"needs {package}" in lines[0] or f"needs a working {package}" in lines[0]


# --- a training script for one data source and model ---------------------------------------


@functools.cache
def source(data: str, model: str = "small-cnn", with_: tuple[str, ...] = ()) -> str:
    return render(RenderRequest("train", {}, with_, data, model))


def source_script(directory: Path, data: str, model: str = "small-cnn", with_=()) -> Path:
    path = directory / f"train_{data.replace('-', '_')}_{model.replace('-', '_')}.py"
    path.write_text(source(data, model, tuple(with_)))
    return path


def source_module(directory: Path, data: str, model: str = "small-cnn", with_=()):
    """The rendered script, imported (its main() not run)."""
    return load_module(source_script(directory, data, model, with_))


def refused_args(capsys, mod, argv, *needles: str) -> str:
    """main(argv) exits 2 with one line on stderr holding every needle."""
    return refused(capsys, lambda: mod.main(argv), *needles)


def refused_run(path: Path, *args: str, needles=()) -> str:
    """The script, run in a fresh interpreter, exits 2 with one line and no traceback."""
    proc = run_script(path, *args, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, proc.stderr)
    return lines[0]


def run_main(mod, out: Path, *argv: str):
    return mod.main([*argv, "--output-dir", str(out), "--device", "cpu"])


def cache_entries(folder: Path) -> list[Path]:
    """The render-cache entries in `folder`, in name order."""
    return sorted(folder.glob("*.py")) if folder.is_dir() else []


# One epoch of a few tiny images: enough to build and train any built-in model once.
MODEL_TINY = ["--epochs", "1", "--train-size", "32", "--val-size", "16", "--batch-size", "16"]
MODEL_TINY += ["--image-size", "8"]
RESNETS = ("resnet18", "resnet34", "resnet50")


def model_request(model: str, recipe: str = "train") -> RenderRequest:
    """A render of `recipe` on synthetic data with `model`."""
    return RenderRequest(recipe, {}, (), "synthetic", model)


def model_script(
    tmp_path: Path, model: str, recipe: str = "train", name: str | None = None
) -> Path:
    """That render written to a file in `tmp_path`."""
    path = tmp_path / (name or f"{recipe}_{model.replace(':', '_')}.py")
    path.write_text(render(model_request(model, recipe)))
    return path
