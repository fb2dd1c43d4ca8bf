"""`--model timm:NAME` and `torchvision:NAME`: the script declares and imports its library
lazily, says in one sentence when it is missing or broken, and builds the model through it;
and every model's render is already black."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import black
import pytest

from helpers import (
    MODEL_TINY,
    RESNETS,
    importable,
    load_module,
    model_request,
    model_script,
    read_metrics,
    run_script,
)
from snippetgen import load_catalog, render
from snippetgen.codegen.rendering import make_header, plan
from snippetgen.codegen.templating import render_source

# timm: and torchvision: models


@pytest.mark.parametrize(
    ("model", "package"), [("timm:resnet18", "timm"), ("torchvision:resnet18", "torchvision")]
)
def test_library_model_declares_its_requirement_and_imports_it_lazily(tmp_path, model, package):
    code = render(model_request(model))
    assert f"# Requires: {package} (beyond the standard library and torch)" in code
    assert not re.search(rf"^(import|from) {package}\b", code, re.MULTILINE)
    assert "'resnet18'" in code or '"resnet18"' in code


@pytest.mark.parametrize(
    ("model", "package"), [("timm:resnet18", "timm"), ("torchvision:resnet18", "torchvision")]
)
def test_library_model_without_its_library_is_one_sentence(tmp_path, model, package):
    if importable(package):
        pytest.skip(f"{package} imports here: the missing-library message cannot show")
    script = model_script(tmp_path, model)
    proc = run_script(script, *MODEL_TINY, "--output-dir", str(tmp_path / "run"), check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"error: --model {model} needs the {package} package")
    assert lines[0].endswith(f"install it with: pip install {package}")


def test_library_model_with_a_broken_library_is_one_sentence(tmp_path):
    """A library that raises on import (as a torchvision built for another torch does)."""
    fake = tmp_path / "site"
    (fake / "timm").mkdir(parents=True)
    (fake / "timm" / "__init__.py").write_text("raise RuntimeError('operator does not exist')\n")
    script = model_script(tmp_path, "timm:convnext_tiny")
    proc = subprocess.run(
        [sys.executable, str(script), *MODEL_TINY, "--output-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(fake)},
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: --model timm:convnext_tiny needs the timm package, which cannot be "
        "imported here (RuntimeError); install it with: pip install timm"
    )


def test_library_models_build_through_the_library(tmp_path):
    """With stand-in timm and torchvision packages, the script calls create_model/get_model
    with the data's class count and channels, and trains the result."""
    fake = tmp_path / "site"
    (fake / "timm").mkdir(parents=True)
    (fake / "torchvision" / "models").mkdir(parents=True)
    (fake / "torchvision" / "__init__.py").write_text("")
    tiny = (
        "import torch.nn as nn\n"
        "def build(num_classes, in_chans=3):  # for 8x8 images\n"
        "    layers = [nn.Conv2d(in_chans, 4, 3), nn.Flatten(), nn.Linear(144, num_classes)]\n"
        "    return nn.Sequential(*layers)\n"
    )
    (fake / "timm" / "__init__.py").write_text(
        tiny
        + "def is_model(name):\n    return name == 'tiny_net'\n"
        + "def create_model(name, num_classes, in_chans):\n"
        + "    print('create_model', name, num_classes, in_chans)\n"
        + "    return build(num_classes, in_chans)\n"
    )
    (fake / "torchvision" / "models" / "__init__.py").write_text(
        tiny
        + "def list_models():\n    return ['tiny_net']\n"
        + "def get_model(name, num_classes):\n"
        + "    print('get_model', name, num_classes)\n"
        + "    return build(num_classes)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(fake)}
    for model, call in (
        ("timm:tiny_net", "create_model tiny_net 4 3"),
        ("torchvision:tiny_net", "get_model tiny_net 4"),
        ("timm:other_net", None),
    ):
        script = model_script(tmp_path, model)
        out = tmp_path / model.replace(":", "_")
        proc = subprocess.run(
            [
                sys.executable,
                str(script),
                *MODEL_TINY,
                "--max-batches",
                "2",
                "--output-dir",
                str(out),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        if call is None:
            assert proc.returncode == 2
            assert proc.stderr.startswith("error: timm has no model named 'other_net'")
            continue
        assert proc.returncode == 0, proc.stderr
        assert call in proc.stdout
        assert len(read_metrics(out)) == 1


# rendering


@pytest.mark.parametrize(
    "model", [*RESNETS, "timm:vit_tiny_patch16_224.augreg_in21k", "torchvision:resnet18"]
)
@pytest.mark.parametrize("recipe", ["train", "finetune"])
def test_model_renders_are_already_black(model, recipe):
    catalog = load_catalog()
    plan_ = plan(model_request(model, recipe), catalog)
    source = render_source(plan_, make_header(plan_, "snippetgen render test"))
    mode = black.Mode(target_versions={black.TargetVersion.PY310}, line_length=88)
    assert black.format_str(source, mode=mode) == source


def test_resnet_on_flat_features_is_one_sentence(tmp_path):
    mod = load_module(model_script(tmp_path, "resnet18"))
    args = mod.parse_args([])
    args.input_shape = (30,)
    with pytest.raises(SystemExit) as exc:
        mod.build_model(args)
    assert exc.value.code == 2
