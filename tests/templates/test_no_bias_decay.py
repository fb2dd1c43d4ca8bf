"""no-bias-decay: weight decay on weight matrices and kernels only, via optimizer parameter groups."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import load_module, read_metrics, write_script
from snippetgen import load_catalog
from snippetgen.codegen.rendering import RenderRequest, render
from snippetgen.errors import ConflictError


class Mixed(nn.Module):
    """Every kind of parameter: conv kernel, BatchNorm, LayerNorm, tied and frozen weights."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 6)
        self.conv = nn.Conv1d(6, 6, 3, padding=1)
        self.bn = nn.BatchNorm1d(6)
        self.norm = nn.LayerNorm(6)
        self.frozen = nn.Linear(6, 6)
        self.frozen.requires_grad_(False)
        self.head = nn.Linear(6, 10)
        self.head.weight = self.embed.weight  # tied: one parameter, two modules
        self.scale = nn.Parameter(torch.ones(()))  # a 0-d parameter


def check_groups(optimizer, model, weight_decay):
    """Every trainable parameter in exactly one group, with the right weight decay."""
    seen = {}
    for group in optimizer.param_groups:
        assert isinstance(group["params"], list)
        for param in group["params"]:
            assert id(param) not in seen, "a parameter sits in two groups"
            seen[id(param)] = group["weight_decay"]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert set(seen) == {id(p) for p in trainable}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            assert id(param) not in seen, name
        else:
            assert seen[id(param)] == (0.0 if param.ndim <= 1 else weight_decay), name


def test_weight_decay_default_is_raised_and_still_a_flag(tmp_path):
    assert load_module(write_script(tmp_path, "train", {})).parse_args([]).weight_decay == 1e-4
    mod = load_module(write_script(tmp_path, "no-bias-decay", {}))
    assert mod.parse_args([]).weight_decay == 5e-4  # the recipe's [defaults]
    assert mod.parse_args(["--weight-decay", "0.05"]).weight_decay == 0.05
    mod = load_module(write_script(tmp_path, "no-bias-decay", {"weight-decay": 0.01}))
    assert mod.parse_args([]).weight_decay == 0.01


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_optimizer_groups_cover_each_trainable_parameter_once(tmp_path, optimizer):
    mod = load_module(write_script(tmp_path, "no-bias-decay", {"optimizer": optimizer}))
    args = mod.parse_args([])
    for model in (mod.build_model(args), Mixed()):
        opt = mod.build_optimizer(model, args)
        assert isinstance(opt, torch.optim.AdamW if optimizer == "adamw" else torch.optim.SGD)
        check_groups(opt, model, 5e-4)
        assert [g["weight_decay"] for g in opt.param_groups] == [5e-4, 0.0]
    # SmallCNN: conv kernels and the fc matrix decay; BN weights and biases and fc.bias do not
    model = mod.build_model(args)
    groups = mod.weight_decay_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in groups[0]["params"]) == [
        "fc.weight",
        "features.0.weight",
        "features.3.weight",
    ]
    assert sorted(names[id(p)] for p in groups[1]["params"]) == [
        "fc.bias",
        "features.1.bias",
        "features.1.weight",
        "features.4.bias",
        "features.4.weight",
    ]


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_one_step_with_zero_gradients_shrinks_only_the_decayed_weights(tmp_path, optimizer):
    """With zero gradients an optimizer step is pure weight decay: decayed weights are multiplied
    by (1 - lr * wd), parameters with ndim <= 1 stay exactly as they were."""
    mod = load_module(write_script(tmp_path, "no-bias-decay", {"optimizer": optimizer}))
    args = mod.parse_args(["--lr", "0.1", "--weight-decay", "0.2", "--momentum", "0"])
    torch.manual_seed(0)
    model = Mixed()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.rand_like(param))  # norm weights 1 -> not 1, biases 0 -> not 0
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    opt = mod.build_optimizer(model, args)
    for param in model.parameters():
        param.grad = torch.zeros_like(param)
    opt.step()
    for name, param in model.named_parameters():
        if param.requires_grad and param.ndim > 1:
            torch.testing.assert_close(param.detach(), before[name] * (1 - 0.1 * 0.2))
        else:
            assert torch.equal(param.detach(), before[name]), name


def test_training_runs_with_two_groups(tmp_path):
    mod = load_module(write_script(tmp_path, "no-bias-decay", {"epochs": 2}))
    out = tmp_path / "run"
    history = mod.main(
        ["--output-dir", str(out), "--train-size", "64", "--val-size", "32", "--max-batches", "2"]
    )
    assert read_metrics(out) == history and [r["epoch"] for r in history] == [1, 2]
    assert all(r["lr"] == 0.05 for r in history)


def test_generators_would_leave_the_optimizer_empty_lists_do_not(tmp_path):
    """The seed's trap, shown on torch itself; the generated groups survive a second pass."""
    mod = load_module(write_script(tmp_path, "no-bias-decay", {}))
    model = Mixed()
    generator = (p for p in model.parameters() if p.ndim <= 1)
    list(generator)  # a first pass (e.g. counting) exhausts it
    assert torch.optim.SGD([{"params": generator}], lr=0.1).param_groups[0]["params"] == []
    with pytest.raises(KeyError, match="params"):
        torch.optim.SGD([{"parameters": list(model.parameters())}], lr=0.1)
    groups = mod.weight_decay_groups(model, 0.1)
    # tied embed/head weight once, conv kernel; conv/head biases, BN, LayerNorm, the 0-d scale
    expected = [2, 7]
    for _ in range(2):  # the same groups build a second optimizer just as well
        opt = torch.optim.SGD(groups, lr=0.1)
        assert [len(g["params"]) for g in opt.param_groups] == expected


def test_conflicts_with_finetune():
    recipe = load_catalog().get("no-bias-decay")
    assert [(c.recipe, c.why) for c in recipe.conflicts] == [
        ("finetune", "both build the optimizer's parameter groups")
    ]
    if "finetune" not in load_catalog().recipes:
        pytest.skip("the finetune recipe is not in this checkout")
    with pytest.raises(ConflictError, match="cannot be combined"):
        render(RenderRequest("train", with_=["no-bias-decay", "finetune"]))


def test_show_names_the_pitfalls_and_search_finds_it(cli):
    code, out, _ = cli("show", "no-bias-decay")
    assert code == 0
    for phrase in ("'parameters'", "KeyError", "generator", "BatchNorm", "ndim <= 1"):
        assert phrase in out, phrase
    for query in ("不对偏置进行权重衰减", "no bias decay"):
        code, out, _ = cli("search", query)
        assert code == 0 and out.split()[0] == "no-bias-decay", (query, out)
