"""The snippets about a model's weights: param-count, weight-init, layer-extraction,
partial-load and map-location-load, each rendered, run and checked on real modules."""

from __future__ import annotations

import argparse
import math
import pickle

import pytest
import torch
from torch import nn

from helpers import (
    assert_one_sentence_exit,
    load,
    render_code,
    run_script,
    write_script,
)
from inspect_code import code_only

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
