"""Snippets A: environment, device, cuDNN flags, tensor basics and ops, one-hot, distances,
numpy interop, parameter counts, initialisation, layer extraction, partial and map_location
loading. Each test renders the snippet, runs the generated code on tiny inputs and checks the
property its row in RECIPES.md names, from the test side where it can."""

from __future__ import annotations

import json
import os
import platform

import pytest
import torch
from torch import nn

from helpers import (
    assert_one_sentence_exit,
    import_or_skip,
    load,
    pyflakes_messages,
    render_code,
    run_script,
    write_script,
)
from inspect_code import code_only
from snippetgen import load_catalog
from snippetgen.errors import ParamValueError
from snippetgen.lookup.cheatsheet import cheatsheet

SNIPPETS = [
    "env-info",
    "device",
    "cudnn-flags",
    "tensor-basics",
    "tensor-ops",
    "one-hot",
    "pairwise-distance",
    "numpy-interop",
    "param-count",
    "weight-init",
    "layer-extraction",
    "partial-load",
    "map-location-load",
]

# A value other than the default for every parameter of every snippet.
NON_DEFAULT = {
    "env-info": {"output-format": "json"},
    "device": {"device": "cpu", "visible-devices": "0"},
    "cudnn-flags": {"mode": "benchmark", "warn-only": True},
    "tensor-basics": {"batch-size": 1, "image-size": 5},
    "tensor-ops": {"num-tensors": 7, "batch-size": 2},
    "one-hot": {"num-classes": 11},
    "pairwise-distance": {"p-norm": 1.5, "num-features": 7},
    "numpy-interop": {"length": 3, "dtype": "int64"},
    "param-count": {"hidden-size": 5, "freeze-first": False},
    "weight-init": {"conv-mode": "fan_in", "linear-init": "xavier-uniform"},
    "layer-extraction": {"keep": 4},
    "partial-load": {"num-classes": 10},
    "map-location-load": {"map-location": "auto"},
}


@pytest.fixture()
def restore_determinism(monkeypatch):
    """Put back every flag the cudnn-flags snippet changes (they are process-wide)."""
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "unset")  # recorded, so it is restored
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    saved = (
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    yield
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[:2]
    torch.use_deterministic_algorithms(saved[2], warn_only=saved[3])


# --- env-info ------------------------------------------------------------------------------


def test_env_info_reports_versions_and_runs_without_gpu(tmp_path, capsys):
    code = code_only(render_code("env-info"))
    assert "get_device_name(0)" not in code and "get_device_name(i)" in code
    if not torch.cuda.is_available():  # the trap is real here: the seed's call would raise
        with pytest.raises((AssertionError, RuntimeError)):
            torch.cuda.get_device_name(0)
    info = load(tmp_path, "env-info").main()
    printed = capsys.readouterr().out
    assert info["torch"] == torch.__version__ and info["torch"] in printed
    assert info["python"] == platform.python_version()
    assert info["cuda_build"] == torch.version.cuda
    assert info["cuda_available"] == torch.cuda.is_available()
    assert info["gpu_count"] == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    assert len(info["gpus"]) == info["gpu_count"]
    for name in info:
        assert any(line.startswith(name) for line in printed.splitlines()), name


def test_env_info_json_in_a_subprocess(tmp_path):
    script = write_script(tmp_path, "env-info", {"output-format": "json"})
    proc = run_script(script, timeout=120)
    info = json.loads(proc.stdout)
    assert info["torch"] == torch.__version__
    assert info["cudnn"] == torch.backends.cudnn.version()
    assert isinstance(info["gpus"], list) and len(info["gpus"]) == info["gpu_count"]


# --- device --------------------------------------------------------------------------------


def _expected_auto_device() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def test_device_auto_puts_model_and_batch_on_one_device(tmp_path, capsys):
    mod = load(tmp_path, "device")
    assert mod.main().type == _expected_auto_device()
    assert "model, batch and outputs all on" in capsys.readouterr().out
    assert mod.select_device("cpu") == torch.device("cpu")
    assert mod.select_device("auto").type == _expected_auto_device()
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            mod.select_device("cuda")
    # the test side: a model moved by the snippet's rule and a batch agree on the device
    device = mod.select_device("auto")
    model = nn.Linear(3, 1).to(device)
    batch = torch.ones(2, 3).to(device)
    assert {p.device for p in model.parameters()} == {batch.device} == {model(batch).device}


def test_device_cpu_choice_runs_in_process(tmp_path):
    assert load(tmp_path, "device", {"device": "cpu"}).main() == torch.device("cpu")


def test_device_missing_accelerator_exits_with_one_sentence(tmp_path):
    missing = [
        name
        for name, ok in (
            ("cuda", torch.cuda.is_available()),
            ("mps", torch.backends.mps.is_available()),
        )
        if not ok
    ]
    if not missing:
        pytest.skip("both CUDA and MPS are available here")
    script = write_script(tmp_path, "device", {"device": missing[0]})
    proc = run_script(script, check=False, timeout=120)
    assert_one_sentence_exit(proc, missing[0], "not available")


def test_device_visible_devices_spelled_right_and_set_before_torch(tmp_path):
    default = render_code("device")
    assert "VIDIBLE" not in default and "\uff0c" not in default  # no typo, no full-width comma
    script = write_script(tmp_path, "device", {"visible-devices": "0"})
    code = script.read_text()
    assignment = code.index('os.environ["CUDA_VISIBLE_DEVICES"] = "0"')
    assert assignment < code.index("import torch")
    assert "CUDA_VISIBLE_DEVICES=0,1 python" in code
    proc = run_script(script, timeout=120)
    assert "CUDA_VISIBLE_DEVICES: 0" in proc.stdout
    for bad in ("0\uff0c1", "0, 1", "cuda:0", "0;rm"):  # the seed's full-width comma among them
        with pytest.raises(ParamValueError):
            render_code("device", {"visible-devices": bad})


# --- cudnn-flags ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode,warn_only", [("deterministic", False), ("deterministic", True), ("benchmark", False)]
)
def test_cudnn_flags_are_consistent(tmp_path, restore_determinism, mode, warn_only):
    mod = load(tmp_path, "cudnn-flags", {"mode": mode, "warn-only": warn_only})
    torch.backends.cudnn.benchmark = True  # the seed's state: benchmark on, then deterministic
    flags = mod.main()
    deterministic = mode == "deterministic"
    assert torch.backends.cudnn.deterministic is deterministic
    assert torch.backends.cudnn.benchmark is (not deterministic)
    assert not (torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic)
    assert torch.are_deterministic_algorithms_enabled() is deterministic
    assert flags["cudnn.benchmark"] is torch.backends.cudnn.benchmark
    # the test side: an op without a deterministic kernel now raises, warns or runs
    index, values = torch.tensor([1, 1]), torch.tensor([1.0, 2.0])
    if deterministic and not warn_only:
        with pytest.raises(RuntimeError, match="deterministic"):
            torch.zeros(3).put_(index, values)
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    elif deterministic:
        with pytest.warns(UserWarning, match="deterministic"):
            torch.zeros(3).put_(index, values)
    else:
        torch.zeros(3).put_(index, values)
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


# --- all of them ---------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", SNIPPETS)
def test_renders_clean_with_non_default_values_and_runs(
    tmp_path, recipe, monkeypatch, restore_determinism
):
    if recipe == "numpy-interop":
        import_or_skip("numpy")
    params = NON_DEFAULT[recipe]
    code = render_code(recipe, params)
    assert pyflakes_messages(code) == ""
    assert pyflakes_messages(render_code(recipe)) == ""
    catalog_recipe = load_catalog().get(recipe)
    assert set(params) == {p.name for p in catalog_recipe.params}  # every parameter changed
    assert all(params[p.name] != p.default for p in catalog_recipe.params)
    # device sets CUDA_VISIBLE_DEVICES at import: let monkeypatch put the old value back
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "unset")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    mod = load(tmp_path, recipe, params)
    mod.main()
    if recipe == "device":
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"


BAD_VALUES = [
    ("env-info", {"output-format": "yaml"}),
    ("device", {"device": "tpu"}),
    ("cudnn-flags", {"mode": "fast"}),
    ("tensor-basics", {"image-size": 3}),
    ("tensor-ops", {"num-tensors": 1}),
    ("one-hot", {"num-classes": 1}),
    ("pairwise-distance", {"p-norm": 0.5}),
    ("numpy-interop", {"dtype": "float16"}),
    ("param-count", {"hidden-size": 0}),
    ("weight-init", {"conv-mode": "fan_avg"}),
    ("layer-extraction", {"keep": 6}),
    ("partial-load", {"num-classes": 0}),
    ("map-location-load", {"map-location": "cuda:1"}),
]


@pytest.mark.parametrize("recipe,params", BAD_VALUES)
def test_schema_refuses_bad_values(recipe, params):
    with pytest.raises(ParamValueError):
        render_code(recipe, params)


# Words each recipe's pitfalls must contain: the traps of its row in RECIPES.md.
TRAPS = {
    "env-info": ["get_device_name(0)"],
    "device": ["CUDA_VIDIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "\uff0c"],
    "cudnn-flags": ["benchmark", "deterministic", "use_deterministic_algorithms"],
    "tensor-basics": ["torch.Tensor(1, 2, 3)", "dtype", "device", "a[:2, 1:]"],
    "tensor-ops": ["detach.clone()()", ".storage()", "set_default_tensor_type", "Named tensors"],
    "one-hot": ["src", "F.one_hot"],
    "pairwise-distance": ["torch.cdist", "NaN"],
    "numpy-interop": ["negative strides", ".copy()"],
    "param-count": ["params[28]", "requires_grad"],
    "weight-init": ["isinstace", "SyntaxError", "fan_out"],
    "layer-extraction": ["')'", "conv_model", "add_module"],
    "partial-load": ["strict=False", "'module.'", "size mismatch"],
    "map-location-load": ["weights_only", "map_location"],
}


@pytest.mark.parametrize("recipe", SNIPPETS)
def test_metadata_pitfalls_aliases_and_lookup(recipe, cli):
    catalog = load_catalog()
    found = catalog.get(recipe)
    assert found.kind == "snippet" and found.tags and found.params
    assert any(alias.isascii() for alias in found.aliases)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in alias) for alias in found.aliases)
    text = " ".join(found.pitfalls)
    for trap in TRAPS[recipe]:
        assert trap in text, trap
    shown = cheatsheet(found, catalog)
    flat = "".join(shown.split())  # `show` wraps lines
    assert all("".join(pitfall.split()) in flat for pitfall in found.pitfalls)
    chinese = next(a for a in found.aliases if any("\u4e00" <= ch <= "\u9fff" for ch in a))
    code, out, _ = cli("search", chinese)
    assert code == 0 and recipe in out.split("\n")[0]
