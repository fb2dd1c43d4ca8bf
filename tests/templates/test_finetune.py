"""finetune: a frozen backbone really stays frozen; differential LRs cover every parameter once."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from helpers import load_module, read_metrics, run_script, write_script
from snippetgen.errors import ParamValueError

FAST = ["--train-size", "64", "--val-size", "32", "--batch-size", "16", "--max-batches", "4"]


def save_donor(mod, path):
    """A 'pretrained' SmallCNN with a 10-class head (so fc is skipped on loading) and BN stats
    that differ from a fresh model's (so a BatchNorm layer left in train mode would show)."""
    torch.manual_seed(123)
    donor = mod.SmallCNN(num_classes=10)
    donor.train()
    with torch.no_grad():
        for _ in range(3):
            donor(torch.randn(8, 3, 16, 16) * 3 + 1)
    state = donor.state_dict()
    torch.save(state, path)
    return {key: value.clone() for key, value in state.items()}


def instrument(mod, seen):
    """Wrap build_model and build_optimizer to keep the model, its freshly built state and the
    optimizer, and to record the train/eval mode of the dropout and of a BatchNorm layer."""
    build_model, build_optimizer = mod.build_model, mod.build_optimizer

    def model_hook(args):
        model = build_model(args)
        seen["model"] = model
        seen["initial"] = {k: v.clone() for k, v in model.state_dict().items()}
        for name, module in (("dropout", model.dropout), ("bn", model.features[1])):
            module.register_forward_pre_hook(record_mode(name))
        return model

    def record_mode(name):
        def hook(module, _inputs):
            if torch.is_grad_enabled():  # training steps only, not evaluation
                seen.setdefault(name, []).append(module.training)

        return hook

    def optimizer_hook(model, args):
        seen["optimizer"] = build_optimizer(model, args)
        return seen["optimizer"]

    mod.build_model, mod.build_optimizer = model_hook, optimizer_hook


def test_fc_mode_keeps_backbone_and_bn_stats_as_loaded_and_trains_only_the_head(tmp_path, capsys):
    mod = load_module(write_script(tmp_path, "finetune", {"epochs": 2}))
    donor = save_donor(mod, tmp_path / "donor.pt")
    seen = {}
    instrument(mod, seen)
    out = tmp_path / "run"
    mod.main(["--pretrained", str(tmp_path / "donor.pt"), "--output-dir", str(out), *FAST])

    assert "shape mismatch, skipped: fc.bias, fc.weight" in capsys.readouterr().err
    final = torch.load(out / "model.pt", weights_only=True)
    backbone_keys = [k for k in final if not k.startswith("fc.")]
    assert any("running_mean" in k for k in backbone_keys)
    for key in backbone_keys:  # parameters and BN buffers (running stats, batch counts)
        assert torch.equal(final[key], donor[key]), key
    for key in ("fc.weight", "fc.bias"):
        assert final[key].shape[0] == 4  # the new head, not the donor's
        assert not torch.equal(final[key], seen["initial"][key]), f"{key} did not train"

    model, optimizer = seen["model"], seen["optimizer"]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in model.fc.parameters()}
    assert [[id(p) for p in g["params"]] for g in optimizer.param_groups] == [
        [id(p) for p in trainable]
    ]
    assert optimizer.param_groups[0]["lr"] == 0.01  # --head-lr
    # trained in train mode (dropout active) with the backbone's BatchNorm held in eval mode
    assert seen["dropout"] == [True] * 8 and seen["bn"] == [False] * 8
    assert [r["lr"] for r in read_metrics(out)] == [0.01, 0.01]


def test_differential_mode_groups_have_backbone_and_head_lrs_and_cover_each_parameter_once(
    tmp_path,
):
    mod = load_module(
        write_script(tmp_path, "finetune", {"mode": "differential", "backbone-lr": 0.002})
    )
    seen = {}
    instrument(mod, seen)
    out = tmp_path / "run"
    history = mod.main(["--epochs", "1", "--head-lr", "0.03", "--output-dir", str(out), *FAST])

    model, optimizer = seen["model"], seen["optimizer"]
    assert [g["lr"] for g in optimizer.param_groups] == [0.002, 0.03]
    counts = Counter(id(p) for g in optimizer.param_groups for p in g["params"])
    assert set(counts) == {id(p) for p in model.parameters()}
    assert set(counts.values()) == {1}
    head_ids = {id(p) for p in model.fc.parameters()}
    assert {id(p) for p in optimizer.param_groups[1]["params"]} == head_ids
    assert not head_ids & {id(p) for p in optimizer.param_groups[0]["params"]}
    assert all(p.requires_grad for p in model.parameters())
    # the backbone trains too, BatchNorm in train mode; the logged lr is the first group's
    final = torch.load(out / "model.pt", weights_only=True)
    for key in ("features.0.weight", "features.1.running_mean"):
        assert not torch.equal(final[key], seen["initial"][key]), key
    assert seen["bn"] == [True] * 4
    assert history[0]["lr"] == 0.002


def test_new_head_is_sized_from_in_features(tmp_path, monkeypatch):
    """A model whose head has the wrong class count (e.g. torchvision's 1000) gets a new
    head sized from model.fc.in_features: no hard-coded 512."""
    mod = load_module(write_script(tmp_path, "finetune", {}))
    small_cnn = mod.SmallCNN
    monkeypatch.setattr(
        mod, "SmallCNN", lambda num_classes, **kwargs: small_cnn(1000, width=24, **kwargs)
    )
    model = mod.build_model(mod.parse_args(["--num-classes", "7"]))
    assert (model.fc.in_features, model.fc.out_features) == (48, 7)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 7)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]


def test_pretrained_run_reports_what_it_skipped(tmp_path):
    script = write_script(tmp_path, "finetune", {"epochs": 1})
    mod = load_module(script)
    donor = save_donor(mod, tmp_path / "donor.pt")
    state = {f"module.{k}": v for k, v in donor.items()}  # as saved from a DDP model
    state["extra.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "ddp.pt")
    proc = run_script(script, "--pretrained", "ddp.pt", "--output-dir", "out", *FAST)
    assert f"loaded {len(donor) - 2}/{len(donor)} tensors from ddp.pt" in proc.stderr
    assert "shape mismatch, skipped: fc.bias, fc.weight" in proc.stderr
    assert "not in the model, skipped: extra.weight" in proc.stderr
    assert "warning" not in proc.stderr
    final = torch.load(tmp_path / "out" / "model.pt", weights_only=True)
    assert torch.equal(final["features.3.weight"], donor["features.3.weight"])

    missing = run_script(script, "--pretrained", "nope.pt", "--output-dir", "out2", check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_learning_rates_must_be_positive(tmp_path):
    for name in ("backbone-lr", "head-lr"):
        with pytest.raises(ParamValueError):
            write_script(tmp_path, "finetune", {name: 0})
    mod = load_module(write_script(tmp_path, "finetune", {}))
    with pytest.raises(SystemExit) as info:
        mod.parse_args(["--head-lr", "-0.1"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        mod.parse_args(["--mode", "all"])
