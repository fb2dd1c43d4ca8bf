"""The snippets of tools around training: get-lr, feature-extraction, timm-finetune,
transforms, profiler and argparse-config, each rendered, run and checked (timm and
torchvision ones exit with one sentence where those packages cannot be imported)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import (
    assert_one_clear_sentence,
    broken_package,
    import_or_skip,
    load,
    load_module,
    run_script,
    state_equal,
    write_script,
)
from inspect_code import code_names

# ---------------------------------------------------------------- get-lr


def test_get_lr_equals_param_groups_and_get_last_lr(tmp_path):
    mod = load(tmp_path, "get-lr", {"lr": 0.2, "step-size": 3})
    mod.main()
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    schedulers = [
        lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.1),
        lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5),
        lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0),
    ]
    for make in schedulers:
        optimizer = torch.optim.SGD(
            [{"params": model[0].parameters(), "lr": 0.01}, {"params": model[1].parameters()}],
            lr=0.1,
        )
        scheduler = make(optimizer)
        seen = []
        for _ in range(6):
            lrs = mod.get_lr(optimizer)
            assert lrs == [g["lr"] for g in optimizer.param_groups] == scheduler.get_last_lr()
            assert len(lrs) == 2
            seen.append(lrs)
            optimizer.step()
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(1.0)  # never improves: the LR drops
            else:
                scheduler.step()
        assert seen[0] == [0.01, 0.1] and seen[-1] != seen[0]


# ---------------------------------------------------------------- feature-extraction


class TwoBranch(nn.Module):
    """A non-sequential model: two branches on the same input, concatenated."""

    def __init__(self):
        super().__init__()
        self.left = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
        self.right = nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.5))
        self.head = nn.Linear(5, 1)

    def forward(self, x):
        return self.head(torch.cat([self.left(x), self.right(x)], dim=1))


def test_hooks_return_named_outputs_of_non_sequential_models(tmp_path):
    mod = load(tmp_path, "feature-extraction", {"image-size": 12, "batch-size": 3})
    mod.main()
    torch.manual_seed(0)
    model = mod.TinyResNet(num_classes=4)
    model.train()  # after construction, as a training loop leaves it
    images = torch.randn(3, 3, 12, 12)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = ["stem", "block1.body.3", "block2", "fc"]
    features = mod.extract_features(model, names, images)
    assert list(features) == names
    assert model.training and state_equal(before, model.state_dict())  # eval at call time
    assert not any(m._forward_hooks for m in model.modules())  # hooks removed
    model.eval()
    with torch.no_grad():
        stem = model.stem(images)
        block1 = model.block1(stem)
        expected = {
            "stem": stem,
            "block1.body.3": model.block1.body[:4](stem),
            "block2": model.block2(block1),
            "fc": model(images),
        }
    for name in names:
        assert features[name].shape == expected[name].shape
        torch.testing.assert_close(features[name], expected[name])
        assert not features[name].requires_grad
    # walking named_children() in order is not this model's forward: it fails
    x = images
    with pytest.raises(RuntimeError):
        for child in model.children():
            x = child(x)
    with pytest.raises(KeyError, match="block9"):
        mod.extract_features(model, ["block9"], images)

    branchy = TwoBranch()
    branchy.train()
    inputs = torch.randn(8, 4)
    got = mod.extract_features(branchy, ["left", "right", "head"], inputs)
    branchy.eval()
    with torch.no_grad():
        torch.testing.assert_close(got["left"], branchy.left(inputs))
        torch.testing.assert_close(got["right"], branchy.right(inputs))
        torch.testing.assert_close(got["head"], branchy(inputs))


# ---------------------------------------------------------------- timm-finetune


def test_timm_render_clean_and_clear_exit_without_timm(tmp_path, monkeypatch):
    script = write_script(tmp_path, "timm-finetune")
    code = script.read_text()
    assert "pretrained=False" in code and "num_classes=num_classes" in code
    assert "# Requires: timm" in code
    mod = load_module(script)
    monkeypatch.setitem(sys.modules, "timm", None)  # `import timm` now fails: not installed
    with pytest.raises(SystemExit) as exc:
        mod.main()
    assert str(exc.value.code).startswith("This snippet needs timm")
    monkeypatch.undo()
    broken = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=broken_package(tmp_path, "timm"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_clear_sentence(broken, "timm")
    assert "built for another torch" in broken.stderr


def test_timm_freeze_backbone_trains_only_the_head(tmp_path):
    """freeze_backbone works on any model with timm's get_classifier(); plain torch here."""
    mod = load(tmp_path, "timm-finetune")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
            self.fc = nn.Linear(6, 3)

        def get_classifier(self):
            return self.fc

        def forward(self, x):
            return self.fc(self.body(x))

    torch.manual_seed(0)
    model = Net()
    params = mod.freeze_backbone(model)
    assert {id(p) for p in params} == {id(p) for p in model.fc.parameters()}
    assert not model.body.training and model.fc.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(params, lr=0.5)
    F.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,))).backward()
    optimizer.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"fc.weight", "fc.bias"}  # backbone weights and BN statistics unchanged


def test_timm_real_model_output_shape(tmp_path):
    timm = import_or_skip("timm")
    mod = load(
        tmp_path, "timm-finetune", {"model-name": "resnet18", "num-classes": 5, "image-size": 64}
    )
    mod.main()
    model = mod.build_model(timm, "resnet18", 5)
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 5)


# ---------------------------------------------------------------- transforms


def test_transforms_render_clean_and_clear_exit_without_torchvision(tmp_path, monkeypatch):
    script = write_script(tmp_path, "transforms")
    code = script.read_text()
    names = code_names(code)
    assert {"ToImage", "ToDtype", "Normalize"} <= names and "ToTensor" not in names
    assert "v2.ToDtype(torch.float32, scale=True)" in code
    mod = load_module(script)
    monkeypatch.setitem(sys.modules, "torchvision", None)  # not installed
    with pytest.raises(SystemExit) as exc:
        mod.main()
    assert str(exc.value.code).startswith("This snippet needs a working torchvision")
    monkeypatch.undo()
    broken = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=broken_package(tmp_path, "torchvision"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_clear_sentence(broken, "torchvision")


def test_transforms_real_pipeline_output(tmp_path):
    import_or_skip("torchvision")
    v2 = import_or_skip("torchvision.transforms.v2")
    mod = load(tmp_path, "transforms")
    mod.main()
    train, val = mod.build_transforms(v2)
    image = torch.full((3, 250, 320), 128, dtype=torch.uint8)
    for transform in (train, val):
        out = transform(image)
        assert out.shape == (3, 224, 224) and out.dtype == torch.float32
        mean = torch.tensor(mod.IMAGENET_MEAN)[:, None, None]
        std = torch.tensor(mod.IMAGENET_STD)[:, None, None]
        torch.testing.assert_close(out, ((128 / 255 - mean) / std).expand(3, 224, 224))


# ---------------------------------------------------------------- profiler


def test_profiler_label_in_key_averages(tmp_path):
    mod = load(tmp_path, "profiler", {"label": "train.forward", "row-limit": 2})
    model = nn.Linear(6, 3)
    prof = mod.profile_step(model, torch.randn(4, 6), torch.randint(0, 3, (4,)))
    events = {e.key: e for e in prof.key_averages()}
    assert events["train.forward"].count == 1
    assert events["train.forward_backward"].count == 1
    assert any(key.startswith("aten::") for key in events)
    prof = mod.profile_step(model, torch.randn(4, 6), torch.randint(0, 3, (4,)), label="other")
    assert "other" in {e.key for e in prof.key_averages()}
    names = code_names(write_script(tmp_path, "profiler").read_text())
    assert "use_cuda" not in names and "bottleneck" not in names
    assert {"profile", "record_function", "ProfilerActivity"} <= names


def test_profiler_script_runs_as_a_program(tmp_path):
    script = write_script(tmp_path, "profiler", {"label": "demo_region", "row-limit": 4})
    proc = run_script(script, timeout=120)
    assert "demo_region" in proc.stdout and "found in key_averages()" in proc.stdout
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- argparse-config


def test_argparse_flags_parse_and_cuda_turns_off(tmp_path, capsys):
    mod = load(tmp_path, "argparse-config", {"lr": 0.02, "batch-size": 16, "epochs": 7})
    defaults = mod.parse_args([])
    assert (defaults.lr, defaults.batch_size, defaults.epochs, defaults.cuda) == (0.02, 16, 7, True)
    assert mod.parse_args(["--lr", "0.1"]).lr == 0.1
    assert mod.parse_args(["--no-cuda"]).cuda is False
    assert mod.parse_args(["--no-cuda", "--cuda"]).cuda is True
    args = mod.parse_args(["--niter", "3"])
    assert args.epochs == 3 and not hasattr(args, "niter") and not hasattr(args, "niters")
    assert mod.parse_args(["--epochs", "4"]).epochs == 4
    assert mod.build_parser() is not mod.build_parser()  # no shared parser
    with pytest.raises(SystemExit) as exc:
        mod.parse_args(["--lr", "-1"])
    assert exc.value.code == 2
    capsys.readouterr()
    returned = mod.main(["--no-cuda", "--lr", "0.5"])
    out = capsys.readouterr().out
    assert returned.cuda is False and returned.lr == 0.5
    assert "cuda: False" in out and "device: cpu" in out and "lr: 0.5" in out

    # the cookbook's store_true with default=True: the value is True with or without the flag
    import argparse

    cookbook = argparse.ArgumentParser()
    cookbook.add_argument("--cuda", action="store_true", default=True)
    assert cookbook.parse_args([]).cuda is True and cookbook.parse_args(["--cuda"]).cuda is True


def test_argparse_script_runs_as_a_program(tmp_path):
    script = write_script(tmp_path, "argparse-config")
    proc = run_script(script, "--no-cuda", "--lr", "0.1", "--niter", "2", timeout=120)
    lines = proc.stdout.splitlines()
    assert "lr: 0.1" in lines and "cuda: False" in lines and "epochs: 2" in lines
    refused = run_script(script, "--lr", "0", check=False, timeout=120)
    assert refused.returncode == 2 and "--lr must be > 0" in refused.stderr
    assert "Traceback" not in refused.stderr
