"""Snippets A: environment, device, cuDNN flags, tensor basics and ops, one-hot, distances,
numpy interop, parameter counts, initialisation, layer extraction, partial and map_location
loading. Each test renders the snippet, runs the generated code on tiny inputs and checks the
property its row in RECIPES.md names, from the test side where it can."""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import pickle
import platform
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import import_or_skip, load, pyflakes_messages, render_code, run_script, write_script
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


def called_names(code: str) -> set[str]:
    """Names of every function or method the code calls (x.storage() gives 'storage')."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def code_only(code: str) -> str:
    """The source without comments and docstrings (which may quote a seed's bad line)."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            first.value.value = ""
    return ast.unparse(tree)


def keyword_names(code: str) -> set[str]:
    return {
        kw.arg
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call)
        for kw in node.keywords
    }


def assert_one_sentence_exit(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    """A non-zero exit with one clear line on stderr and no traceback."""
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


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


# --- tensor-basics -------------------------------------------------------------------------


def test_tensor_basics_shapes_and_dtypes_as_printed(tmp_path, capsys):
    batch, size = 3, 7
    mod = load(tmp_path, "tensor-basics", {"batch-size": batch, "image-size": size})
    shapes = mod.main()
    printed = capsys.readouterr().out.splitlines()
    for name, (shape, dtype) in shapes.items():
        line = next(line for line in printed if line.startswith(name + " "))
        assert f"shape {shape}" in line and str(dtype) in line, line
    expected = {
        "torch.tensor(floats)": ((3, 2), torch.float32),
        "torch.tensor(ints)": ((4,), torch.int64),
        "torch.empty(1, 2, 3)": ((1, 2, 3), torch.float32),
        "points.double()": ((3, 2), torch.float64),
        "points.to(torch.int16)": ((3, 2), torch.int16),
        "points.to(device, dtype)": ((3, 2), torch.float16),
        "a[0]": ((3, size, size), torch.float32),
        "a[0, 0]": ((size, size), torch.float32),
        "a[:2]": ((2, 3, size, size), torch.float32),
        "a[:2, 1:]": ((2, 2, size, size), torch.float32),
        "a[:2, -1:]": ((2, 1, size, size), torch.float32),
        "a[:, 0]": ((batch, size, size), torch.float32),
        "a[:, :, ::2, ::2]": ((batch, 3, 4, 4), torch.float32),
    }
    for name, value in expected.items():
        assert shapes[name] == value, name
    # slices are views of the batch; conversions are new tensors
    images = torch.rand(2, 3, 4, 4)
    for name, view in mod.slicing(images).items():
        assert view.untyped_storage().data_ptr() == images.untyped_storage().data_ptr(), name
    points = torch.ones(2, 2)
    assert all(t is not points for t in mod.conversion(points, torch.device("cpu")).values())


# --- tensor-ops ----------------------------------------------------------------------------


def test_tensor_ops_memory_sharing_and_shapes(tmp_path, capsys):
    mod = load(tmp_path, "tensor-ops", {"num-tensors": 5, "batch-size": 3})
    mod.main()
    out = capsys.readouterr().out
    assert "cat of 5 x (2, 5): (10, 5)" in out and "stack of 5 x (2, 5): (5, 2, 5)" in out
    assert "bmm: (3, 3, 5)" in out
    x = torch.arange(12.0).reshape(3, 4)
    assert mod.same_memory(x, x[1:]) and mod.same_memory(x, x.t())
    assert mod.same_memory(x, x.view(-1))
    assert not mod.same_memory(x, x.clone())
    assert not mod.same_memory(x, x.t().contiguous())
    assert not mod.same_memory(x, x.t().reshape(-1))  # reshape had to copy
    code = render_code("tensor-ops")
    calls = called_names(code)
    assert "detach.clone()()" not in code_only(code) and "detach().clone()" in code
    assert "storage" not in calls and "set_default_tensor_type" not in calls
    assert "untyped_storage" in calls and "names" not in keyword_names(code)
    with pytest.raises((TypeError, RuntimeError)):  # named tensors are gone in this torch
        torch.randn(2, 3, names=("N", "C"))


# --- one-hot -------------------------------------------------------------------------------


def test_one_hot_equals_functional_one_hot(tmp_path):
    mod = load(tmp_path, "one-hot", {"num-classes": 7})
    labels, targets = mod.main()
    assert torch.equal(targets, F.one_hot(labels, 7).float())
    generator = torch.Generator().manual_seed(1)
    for num_classes in (2, 3, 10, 100):
        for shape in ((1,), (17,), (4, 5), (2, 3, 4)):
            labels = torch.randint(0, num_classes, shape, generator=generator)
            encoded = mod.one_hot(labels, num_classes)
            assert encoded.dtype == torch.long
            assert torch.equal(encoded, F.one_hot(labels, num_classes)), (num_classes, shape)
    empty = torch.zeros(0, dtype=torch.long)
    assert torch.equal(mod.one_hot(empty, 4), F.one_hot(empty, 4))
    with pytest.raises(ValueError):
        mod.one_hot(torch.tensor([0, 4]), 4)
    with pytest.raises(ValueError):
        mod.one_hot(torch.tensor([-1, 2]), 4)
    with pytest.raises(TypeError):
        mod.one_hot(torch.tensor([0.0, 1.0]), 4)


# --- pairwise-distance ---------------------------------------------------------------------


def test_pairwise_distance_equals_cdist(tmp_path):
    mod = load(tmp_path, "pairwise-distance", {"p-norm": 3.0})
    assert torch.allclose(mod.main(), torch.cdist(*_points(5, 4, 3), p=3.0), atol=1e-6)
    generator = torch.Generator().manual_seed(2)
    for p in (1.0, 1.5, 2.0, 3.0, 10.0):
        for n, m, d in ((5, 4, 3), (1, 1, 1), (40, 30, 16)):  # 40 rows: cdist's mm path for p=2
            x1 = torch.randn(n, d, generator=generator)
            x2 = torch.randn(m, d, generator=generator)
            ours = mod.pairwise_distance(x1, x2, p)
            assert ours.shape == (n, m)
            assert torch.allclose(ours, torch.cdist(x1, x2, p=p), rtol=1e-4, atol=1e-4), (p, n)
        batch_a = torch.randn(3, 6, 4, generator=generator)
        batch_b = torch.randn(3, 2, 4, generator=generator)
        assert torch.allclose(
            mod.pairwise_distance(batch_a, batch_b, p),
            torch.cdist(batch_a, batch_b, p=p),
            rtol=1e-5,
            atol=1e-5,
        )


def _points(n, m, d):
    generator = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=generator), torch.randn(m, d, generator=generator)


def test_pairwise_distance_gradient_is_finite_where_sqrt_is_not(tmp_path):
    mod = load(tmp_path, "pairwise-distance")
    points = torch.randn(4, 3).requires_grad_()
    mod.pairwise_distance(points, points).sum().backward()
    assert torch.isfinite(points.grad).all()
    naive = torch.randn(4, 3).requires_grad_()  # the notes' sqrt form: NaN at zero distance
    torch.sqrt(((naive[:, None, :] - naive) ** 2).sum(dim=2)).sum().backward()
    assert torch.isnan(naive.grad).any()


# --- numpy-interop -------------------------------------------------------------------------


def test_numpy_interop_shares_and_copies_as_stated(tmp_path, capsys):
    np = import_or_skip("numpy")
    mod = load(tmp_path, "numpy-interop", {"dtype": "float64", "length": 5})
    shared, copied = mod.main()
    assert shared.dtype == copied.dtype == torch.float64
    assert "from_numpy raises ValueError" in capsys.readouterr().out
    array = np.arange(6, dtype=np.float32)
    tensor = mod.array_to_tensor(array)
    array[2] = -5  # a shared tensor sees writes to the array
    assert tensor[2].item() == -5 and mod.shares_memory(tensor, array)
    assert not mod.shares_memory(torch.tensor(array), array)
    flipped = array[::-1]
    with pytest.raises(ValueError):
        torch.from_numpy(flipped)
    copy = mod.array_to_tensor(flipped)
    assert copy.tolist() == flipped.tolist() and not mod.shares_memory(copy, array)
    weights = torch.ones(2, requires_grad=True)
    assert mod.tensor_to_array(weights * 3).tolist() == [3.0, 3.0]


def test_numpy_interop_without_numpy_exits_with_one_sentence(tmp_path):
    script = write_script(tmp_path, "numpy-interop")
    assert "# Requires: numpy" in script.read_text()
    runner = (
        "import runpy, sys, torch; sys.modules['numpy'] = None; "
        f"runpy.run_path({str(script)!r}, run_name='__main__')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert_one_sentence_exit(proc, "needs numpy", "pip install numpy")


# --- param-count ---------------------------------------------------------------------------


def test_param_count_totals_and_trainable(tmp_path):
    mod = load(tmp_path, "param-count", {"hidden-size": 16, "freeze-first": True})
    assert mod.main() == (130, 66)  # 8*16+2 in all; the frozen first Linear holds 64
    wider = load(tmp_path, "param-count", {"hidden-size": 5, "freeze-first": False})
    assert wider.main() == (42, 42)
    linear = nn.Linear(3, 2)
    assert mod.count_parameters(linear) == (8, 8)
    linear.weight.requires_grad_(False)
    assert mod.count_parameters(linear) == (8, 2)
    shared = nn.Linear(4, 4)
    assert mod.count_parameters(nn.Sequential(shared, nn.ReLU(), shared)) == (20, 20)
    norm = nn.BatchNorm1d(4)  # buffers (running stats) are not parameters
    assert mod.count_parameters(norm) == (8, 8) and len(norm.state_dict()) == 5
    assert "params[" not in code_only(render_code("param-count"))  # by name, not by index


# --- weight-init ---------------------------------------------------------------------------


def _init_test_model():
    return nn.Sequential(
        nn.Conv2d(32, 128, 3, bias=True),
        nn.BatchNorm2d(128),
        nn.ReLU(),
        nn.Sequential(nn.Linear(256, 512), nn.BatchNorm1d(512)),  # nested: needs modules()
        nn.LayerNorm(512, bias=False),
    )


@pytest.mark.parametrize("mode", ["fan_out", "fan_in"])
def test_weight_init_kaiming_std_and_norm_and_bias_values(tmp_path, mode):
    mod = load(tmp_path, "weight-init", {"conv-mode": mode})
    mod.main()
    torch.manual_seed(3)
    model = _init_test_model()
    model[1].running_mean.fill_(5.0)  # init touches parameters, never the running stats
    norms = (model[1], model[3][1], model[4])
    with torch.no_grad():
        for norm in norms:  # move them off their defaults (weight 1, bias 0) first
            norm.weight.fill_(2.0)
            if norm.bias is not None:
                norm.bias.fill_(0.5)
    mod.init_weights(model)
    conv, linear = model[0], model[3][0]
    fan = (128 if mode == "fan_out" else 32) * 9
    count = conv.weight.numel()
    std, target = conv.weight.std().item(), math.sqrt(2.0 / fan)
    assert abs(std / target - 1) < 6 / math.sqrt(2 * count)  # six standard errors (~2%)
    assert abs(conv.weight.mean().item()) < 6 * target / math.sqrt(count)
    assert torch.equal(conv.bias, torch.zeros(128))
    for norm in norms:
        assert torch.equal(norm.weight, torch.ones_like(norm.weight))
        assert norm.bias is None or torch.equal(norm.bias, torch.zeros_like(norm.bias))
    assert torch.equal(model[1].running_mean, torch.full((128,), 5.0))
    assert torch.equal(linear.bias, torch.zeros(512))
    xavier_std = math.sqrt(2.0 / (256 + 512))
    tolerance = 6 / math.sqrt(2 * linear.weight.numel())
    assert abs(linear.weight.std().item() / xavier_std - 1) < tolerance


def test_weight_init_xavier_uniform_and_no_seed_typos(tmp_path):
    mod = load(tmp_path, "weight-init", {"linear-init": "xavier-uniform"})
    linear = nn.Linear(256, 512)
    mod.init_weights(linear)
    bound = math.sqrt(6.0 / (256 + 512))
    assert linear.weight.abs().max().item() <= bound
    assert abs(linear.weight.std().item() / (bound / math.sqrt(3)) - 1) < 0.02
    layer = nn.Linear(2, 2)
    before = layer.weight
    mod.set_weight(layer, torch.eye(2))
    assert layer.weight is before and torch.equal(layer.weight, torch.eye(2))
    code = code_only(render_code("weight-init"))
    assert "isinstace" not in code and "layer.nn.init" not in code


# --- layer-extraction ----------------------------------------------------------------------


def test_layer_extraction_sub_sequential_equals_manual_forward(tmp_path):
    mod = load(tmp_path, "layer-extraction", {"keep": 3})
    assert mod.main().shape == (2, 16, 1, 1)
    torch.manual_seed(4)
    model = mod.SmallNet(num_classes=3).eval()
    images = torch.randn(3, 3, 12, 12)
    with torch.no_grad():
        for count in range(1, 6):
            extractor = mod.first_layers(model, count)
            out = images
            for layer in [model.stem, model.block, model.pool, model.flatten, model.fc][:count]:
                out = layer(out)
            assert torch.equal(extractor(images), out), count
        assert torch.equal(mod.first_layers(model, 5)(images), model(images))
    assert mod.first_layers(model, 2)[1] is model.block  # shared, not copied
    convs = mod.layers_of_type(model, nn.Conv2d)
    assert list(convs.keys()) == ["stem_0", "block_0"]
    assert convs["stem_0"] is model.stem[0] and convs["block_0"] is model.block[0]
    assert list(mod.layers_of_type(model, nn.BatchNorm2d).keys()) == ["stem_1", "block_1"]
    with pytest.raises(KeyError):  # why the names need the dots replaced
        nn.Sequential().add_module("stem.0", model.stem[0])
    assert "conv_model" not in code_only(render_code("layer-extraction"))


# --- partial-load --------------------------------------------------------------------------


def test_partial_load_loads_only_name_and_shape_matches(tmp_path, capsys):
    mod = load(tmp_path, "partial-load")
    report = mod.main()
    assert "strict=False still raises" in capsys.readouterr().out
    assert report["shape_mismatch"] == ["fc.bias", "fc.weight"]
    torch.manual_seed(5)
    donor = mod.SmallNet(num_classes=10)
    state = {f"_orig_mod.module.{k}": v for k, v in donor.state_dict().items()}
    state["module.extra.weight"] = torch.zeros(2)
    path = tmp_path / "donor.pt"
    torch.save(state, path)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model = mod.SmallNet(num_classes=4)
    head = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("fc.")}
    with pytest.raises(RuntimeError, match="size mismatch"):  # strict=False does not help
        model.load_state_dict(mod.strip_prefixes(checkpoint), strict=False)
    report = mod.load_matching(model, checkpoint)
    own = model.state_dict()
    backbone = sorted(k for k in own if not k.startswith("fc."))
    assert report["loaded"] == backbone
    assert report["shape_mismatch"] == ["fc.bias", "fc.weight"]
    assert report["unexpected"] == ["extra.weight"]
    assert report["missing"] == ["fc.bias", "fc.weight"]
    for key in backbone:
        assert torch.equal(own[key], donor.state_dict()[key]), key
    for key, value in head.items():
        assert torch.equal(own[key], value), key
    assert "weights_only=True" in render_code("partial-load")


def test_partial_load_same_head_loads_everything(tmp_path):
    report = load(tmp_path, "partial-load", {"num-classes": 10}).main()
    assert report["shape_mismatch"] == [] and report["missing"] == []
    assert report["unexpected"] == ["aux_head.weight"]


# --- map-location-load ---------------------------------------------------------------------


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for value in obj.values() for t in _tensors(value)]
    if isinstance(obj, (list, tuple)):
        return [t for value in obj for t in _tensors(value)]
    return []


def test_map_location_round_trip_on_cpu_with_weights_only(tmp_path):
    mod = load(tmp_path, "map-location-load")
    loaded = mod.main()
    tensors = _tensors(loaded)
    assert len(tensors) > len(loaded["model"])  # optimizer state came along
    assert all(t.device.type == "cpu" for t in tensors)
    source = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    state = {"w": torch.randn(3, 3, device=source), "step": torch.tensor(4, device=source)}
    path = tmp_path / "state.pt"
    torch.save({"model": state, "epoch": 2}, path)
    back = mod.load_checkpoint(path, map_location="cpu")
    assert back["epoch"] == 2
    for key, value in state.items():
        assert back["model"][key].device.type == "cpu"
        assert torch.equal(back["model"][key], value.cpu())
    torch.save({"args": argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(pickle.UnpicklingError):  # weights_only refuses arbitrary objects
        mod.load_checkpoint(path)
    code = render_code("map-location-load")
    assert "weights_only=True" in code and "weights_only=False" not in code


def test_map_location_unavailable_device_exits_with_one_sentence(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    script = write_script(tmp_path, "map-location-load", {"map-location": "cuda"})
    proc = run_script(script, check=False, timeout=120)
    assert_one_sentence_exit(proc, "'cuda'", "not available")


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
