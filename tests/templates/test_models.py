"""--model: built-in ResNets with torchvision's state_dict layout, timm:/torchvision: models,
and --head (the classifier head every feature and load_matching_weights use)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from helpers import (
    MODEL_TINY,
    RESNETS,
    load_module,
    model_script,
    read_metrics,
    refused,
    run_script,
)


def args_for(mod, argv):
    """The script's parse_args(argv), with the input shape main() sets from the data."""
    args = mod.parse_args(argv)
    args.input_shape = (3, args.image_size, args.image_size)
    return args


# torchvision's ResNet, written out from its published architecture (torchvision/models/
# resnet.py): per stage (planes, blocks); BasicBlock for 18/34, Bottleneck (expansion 4,
# stride on the 3x3 conv2) for 50; downsample = 1x1 conv + BN on a block's first unit when
# the stride or the width changes.
STAGES = {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3], "resnet50": [3, 4, 6, 3]}


def torchvision_resnet_table(arch, num_classes=1000, in_channels=3):
    """{state_dict key: shape} of torchvision's `arch`, in torchvision's key order."""
    table = {}

    def conv(name, out_c, in_c, k):
        table[f"{name}.weight"] = (out_c, in_c, k, k)

    def bn(name, c):
        for suffix in ("weight", "bias", "running_mean", "running_var"):
            table[f"{name}.{suffix}"] = (c,)
        table[f"{name}.num_batches_tracked"] = ()

    bottleneck = arch == "resnet50"
    expansion = 4 if bottleneck else 1
    conv("conv1", 64, in_channels, 7)
    bn("bn1", 64)
    inplanes = 64
    for stage, (planes, blocks) in enumerate(
        zip((64, 128, 256, 512), STAGES[arch], strict=True), 1
    ):
        for index in range(blocks):
            prefix = f"layer{stage}.{index}"
            if bottleneck:
                conv(f"{prefix}.conv1", planes, inplanes, 1)
                bn(f"{prefix}.bn1", planes)
                conv(f"{prefix}.conv2", planes, planes, 3)
                bn(f"{prefix}.bn2", planes)
                conv(f"{prefix}.conv3", planes * 4, planes, 1)
                bn(f"{prefix}.bn3", planes * 4)
            else:
                conv(f"{prefix}.conv1", planes, inplanes, 3)
                bn(f"{prefix}.bn1", planes)
                conv(f"{prefix}.conv2", planes, planes, 3)
                bn(f"{prefix}.bn2", planes)
            if index == 0 and (stage > 1 or inplanes != planes * expansion):
                conv(f"{prefix}.downsample.0", planes * expansion, inplanes, 1)
                bn(f"{prefix}.downsample.1", planes * expansion)
            inplanes = planes * expansion
    table["fc.weight"] = (num_classes, 512 * expansion)
    table["fc.bias"] = (num_classes,)
    return table


# Spot checks written out by hand from torchvision's resnet18/resnet50 state_dicts, so the
# table generator above is itself checked.
HAND_WRITTEN = {
    "resnet18": {
        "conv1.weight": (64, 3, 7, 7),
        "layer1.0.conv1.weight": (64, 64, 3, 3),
        "layer1.1.bn2.num_batches_tracked": (),
        "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        "layer2.0.downsample.1.running_var": (128,),
        "layer3.1.conv2.weight": (256, 256, 3, 3),
        "layer4.1.bn2.bias": (512,),
        "fc.weight": (1000, 512),
        "fc.bias": (1000,),
    },
    "resnet50": {
        "conv1.weight": (64, 3, 7, 7),
        "layer1.0.conv1.weight": (64, 64, 1, 1),
        "layer1.0.conv3.weight": (256, 64, 1, 1),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer1.1.conv1.weight": (64, 256, 1, 1),
        "layer2.0.conv2.weight": (128, 128, 3, 3),
        "layer2.0.downsample.0.weight": (512, 256, 1, 1),
        "layer3.5.bn3.running_mean": (1024,),
        "layer4.2.conv3.weight": (2048, 512, 1, 1),
        "fc.weight": (1000, 2048),
    },
}
# key counts (parameters + BatchNorm buffers) and torchvision's published parameter counts
KEYS = {"resnet18": 122, "resnet34": 218, "resnet50": 320}
PARAMETERS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032}


@pytest.fixture(scope="module")
def resnet_modules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resnets")
    return {arch: load_module(model_script(folder, arch)) for arch in RESNETS}


@pytest.mark.parametrize("arch", RESNETS)
def test_resnet_state_dict_is_torchvisions_key_for_key(resnet_modules, arch):
    table = torchvision_resnet_table(arch)
    for key, shape in HAND_WRITTEN.get(arch, {}).items():
        assert table[key] == shape, key
    assert len(table) == KEYS[arch]
    model = getattr(resnet_modules[arch], arch)(1000)
    state = model.state_dict()
    assert list(state) == list(table)  # the same names, in torchvision's order
    assert {key: tuple(value.shape) for key, value in state.items()} == table
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS[arch]
    assert (
        sum(math.prod(table[k]) for k in table if "running" not in k and "num_b" not in k)
        == (PARAMETERS[arch])
    )
    # other input channels change conv1 only
    gray = getattr(resnet_modules[arch], arch)(10, in_channels=1).state_dict()
    assert {k: tuple(v.shape) for k, v in gray.items()} == torchvision_resnet_table(arch, 10, 1)
    assert model.fc is dict(model.named_children())["fc"]


@pytest.mark.parametrize("arch", RESNETS)
def test_resnet_takes_small_images_and_trains(tmp_path, arch):
    script = model_script(tmp_path, arch)
    out = tmp_path / "run"
    run_script(script, *MODEL_TINY, "--max-batches", "2", "--output-dir", str(out))
    (record,) = read_metrics(out)
    assert math.isfinite(record["train_loss"]) and record["epoch"] == 1
    saved = torch.load(out / "model.pt", weights_only=True)
    assert tuple(saved["fc.weight"].shape) == (4, 512 if arch != "resnet50" else 2048)


def test_resnet_with_channels_last_runs(tmp_path):
    out = tmp_path / "run"
    script = model_script(tmp_path, "resnet18")
    run_script(
        script, *MODEL_TINY, "--max-batches", "2", "--channels-last", "--output-dir", str(out)
    )
    assert len(read_metrics(out)) == 1


def random_state(table, seed=0):
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in table.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.01
    return state


@pytest.mark.parametrize("arch", RESNETS)
def test_torchvision_layout_file_loads_completely(tmp_path, arch):
    """A state_dict with torchvision's names and shapes (as a downloaded .pth holds) loads
    every tensor: the built model holds exactly those values."""
    table = torchvision_resnet_table(arch, num_classes=4)
    state = random_state(table)
    torch.save(state, tmp_path / f"{arch}.pth")
    script = model_script(tmp_path, arch)
    mod = load_module(script)
    model = mod.build_model(args_for(mod, ["--pretrained", str(tmp_path / f"{arch}.pth")]))
    loaded = model.state_dict()
    assert all(torch.equal(loaded[key], state[key]) for key in table)
    proc = run_script(
        script,
        *MODEL_TINY,
        "--max-batches",
        "1",
        "--pretrained",
        str(tmp_path / f"{arch}.pth"),
        "--output-dir",
        str(tmp_path / "run"),
    )
    assert f"loaded {len(table)}/{len(table)} tensors" in proc.stderr
    assert "not in the file" not in proc.stderr and "skipped" not in proc.stderr
    assert "re-initialised" not in proc.stderr


def test_a_1000_class_file_loads_all_but_the_head_and_says_so(tmp_path):
    table = torchvision_resnet_table("resnet18")  # ImageNet's 1000 classes
    torch.save(random_state(table), tmp_path / "resnet18.pth")
    script = model_script(tmp_path, "resnet18")
    proc = run_script(
        script,
        *MODEL_TINY,
        "--max-batches",
        "1",
        "--pretrained",
        str(tmp_path / "resnet18.pth"),
        "--output-dir",
        str(tmp_path / "run"),
    )
    assert f"loaded {len(table) - 2}/{len(table)} tensors" in proc.stderr
    assert "shape mismatch, skipped: fc.bias, fc.weight" in proc.stderr
    head_lines = [line for line in proc.stderr.splitlines() if "re-initialised" in line]
    assert head_lines == [
        f"the head fc is re-initialised: fc.weight has shape (1000, 512) in "
        f"{tmp_path / 'resnet18.pth'} and (4, 512) in the model (another class count)"
    ]


# --head: detection and naming


class WithClassifier(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(1)
        )
        self.classifier = nn.Sequential(nn.Dropout(0.1), nn.Linear(8 * 8 * 8, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class WithHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)


class OnlyLinears(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return load_module(model_script(tmp_path_factory.mktemp("base"), "small-cnn"))


def test_head_detection_order(base, resnet_modules):
    assert base.find_head(base.SmallCNN(4))[0] == "fc"
    assert base.find_head(resnet_modules["resnet18"].resnet18(4))[0] == "fc"
    assert base.find_head(WithClassifier())[0] == "classifier"
    assert base.find_head(WithHead())[0] == "head"
    name, module = base.find_head(OnlyLinears())
    assert name == "net.2" and module.out_features == 3
    named, module = base.find_head(WithClassifier(), "classifier.1")
    assert named == "classifier.1" and isinstance(module, nn.Linear)
    assert base.find_head(nn.Sequential(nn.ReLU()), required=False) == (None, None)


def test_a_head_that_names_nothing_or_cannot_be_found_is_one_sentence(base, capsys):
    refused(
        capsys,
        lambda: base.find_head(WithClassifier(), "classifier.7"),
        "--head classifier.7 names no submodule of the model",
        "features, classifier",
    )
    refused(capsys, lambda: base.find_head(nn.Sequential(nn.ReLU())), "name it with --head")


@pytest.mark.parametrize("bad", ["fc..weight", "fc-1", "1+1", "fc.", "ｆｃ"])
def test_a_head_that_is_no_module_path_is_refused_by_the_script(tmp_path, bad):
    script = model_script(tmp_path, "small-cnn")
    proc = run_script(script, "--head", bad, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("is not a submodule name such as fc or classifier.1")
    assert "Traceback" not in proc.stderr


def test_a_missing_head_stops_the_run_before_training(tmp_path):
    script = model_script(tmp_path, "resnet18")
    proc = run_script(
        script,
        *MODEL_TINY,
        "--head",
        "classifier",
        "--output-dir",
        str(tmp_path / "r"),
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--head classifier names no submodule of the model" in proc.stderr
    assert not (tmp_path / "r" / "metrics.jsonl").exists()


# finetune with a head other than fc

FAST = ["--train-size", "32", "--val-size", "16", "--batch-size", "16", "--max-batches", "2"]


def test_finetune_resnet18_freezes_all_but_fc(tmp_path):
    mod = load_module(model_script(tmp_path, "resnet18", recipe="finetune"))
    args = args_for(mod, ["--image-size", "8"])
    model = mod.build_model(args)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias"}
    out = tmp_path / "run"
    mod.main([*FAST, "--image-size", "8", "--epochs", "1", "--output-dir", str(out)])
    assert len(read_metrics(out)) == 1


@pytest.mark.parametrize("mode", ["fc", "differential"])
@pytest.mark.parametrize("head", [None, "classifier", "classifier.1"])
def test_finetune_a_model_whose_head_is_classifier(tmp_path, mode, head, capsys):
    """The user's model (SmallCNN replaced) has a `classifier` head with 10 outputs: it is
    refitted to 4 classes, frozen or given --head-lr, and the run trains."""
    mod = load_module(model_script(tmp_path, "small-cnn", recipe="finetune"))
    mod.SmallCNN = lambda num_classes, in_channels=3: WithClassifier(10)
    seen = {}
    build_optimizer = mod.build_optimizer

    def keep(model, args):
        seen["model"], seen["optimizer"] = model, build_optimizer(model, args)
        seen["running_mean"] = model.features[1].running_mean.clone()
        return seen["optimizer"]

    mod.build_optimizer = keep
    extra = ["--head", head] if head else []
    argv = [*FAST, "--image-size", "8", "--epochs", "1", "--mode", mode, *extra]
    mod.main([*argv, "--output-dir", str(tmp_path / "run")])
    model = seen["model"]
    assert model.classifier[1].out_features == 4
    head_ids = {id(p) for p in model.classifier.parameters()}
    groups = seen["optimizer"].param_groups
    if mode == "fc":
        trainable = {id(p) for p in model.parameters() if p.requires_grad}
        assert trainable == head_ids and [g["lr"] for g in groups] == [0.01]
        # the frozen backbone's BatchNorm stayed in eval mode: its statistics as built
        assert torch.equal(model.features[1].running_mean, seen["running_mean"])
    else:
        assert {id(p) for p in groups[1]["params"]} == head_ids
        assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(model.parameters()))
    assert len(read_metrics(tmp_path / "run")) == 1


def test_finetune_with_a_user_replaced_build_model(tmp_path):
    """build_model replaced outright (no finetune code runs in it): the optimizer's groups
    and the BatchNorm handling still find the `classifier` head, with no AttributeError."""
    mod = load_module(model_script(tmp_path, "small-cnn", recipe="finetune"))
    mod.build_model = lambda args: WithClassifier(args.num_classes)
    for mode in ("fc", "differential"):
        out = tmp_path / mode
        mod.main(
            [*FAST, "--image-size", "8", "--epochs", "1", "--mode", mode, "--output-dir", str(out)]
        )
        assert len(read_metrics(out)) == 1
