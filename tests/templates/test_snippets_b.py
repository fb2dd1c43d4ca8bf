"""Snippets B: containers, evaluation, modes, losses, LR, features, timm, transforms, profiler,
argparse. Each test renders the snippet, runs the generated code on tiny inputs and checks the
property its row in RECIPES.md names, from the test side where it can."""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import (
    import_or_skip,
    importable,
    load,
    load_module,
    pyflakes_messages,
    render_code,
    run_script,
    state_equal,
    write_script,
)
from snippetgen import load_catalog

SNIPPETS = [
    "modulelist-vs-sequential",
    "eval-loop",
    "train-eval-modes",
    "custom-loss",
    "dice-loss",
    "iou-loss",
    "focal-loss",
    "get-lr",
    "feature-extraction",
    "timm-finetune",
    "transforms",
    "profiler",
    "argparse-config",
]

# A value other than the default for every parameter of every snippet.
NON_DEFAULT = {
    "modulelist-vs-sequential": {"num-layers": 5, "width": 3},
    "eval-loop": {"batch-size": 1, "num-classes": 7},
    "train-eval-modes": {"p": 0.75, "num-features": 9},
    "custom-loss": {"reduction": "sum"},
    "dice-loss": {"smooth": 0.01, "image-size": 5},
    "iou-loss": {"smooth": 3.0, "image-size": 7},
    "focal-loss": {"gamma": 0.5, "alpha": 0.9},
    "get-lr": {"lr": 0.3, "step-size": 1},
    "feature-extraction": {"image-size": 9, "batch-size": 3},
    "timm-finetune": {"model-name": "resnet10t", "num-classes": 3, "image-size": 64},
    "transforms": {"image-size": 96},
    "profiler": {"label": "my.region-1", "row-limit": 3},
    "argparse-config": {"lr": 0.05, "batch-size": 8, "epochs": 3},
}
NEEDS = {"timm-finetune": "timm", "transforms": "torchvision"}


def code_names(code: str) -> set[str]:
    """Every identifier, attribute and keyword-argument name in the code (not in comments)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.name)
    return names


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


# ---------------------------------------------------------------- every snippet


@pytest.mark.parametrize("recipe", SNIPPETS)
def test_default_render_is_clean_standalone_script(recipe):
    code = render_code(recipe)
    assert pyflakes_messages(code) == ""
    tree = ast.parse(code)
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "main" in functions
    assert 'if __name__ == "__main__":\n    main()' in code
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    allowed = (
        set(sys.stdlib_module_names) | {"torch"} | ({NEEDS[recipe]} if recipe in NEEDS else set())
    )
    assert imported <= allowed, imported - allowed
    # current APIs only, none of the seeds' typos
    assert not code_names(code) & {"ToTensor", "use_cuda", "verbose", "bottleneck", "Moudle"}
    torch_attrs = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "torch"
    }
    assert "zero_grad" not in torch_attrs  # torch.zero_grad() does not exist
    assert "torch.cuda.amp" not in code and "pretrained=True" not in code


@pytest.mark.parametrize("recipe", SNIPPETS)
def test_non_default_values_render_and_run(recipe, tmp_path, capsys):
    params = NON_DEFAULT[recipe]
    declared = {p.name: p.default for p in load_catalog().get(recipe).params}
    assert set(params) == set(declared)
    assert all(params[name] != declared[name] for name in params)
    code = render_code(recipe, params)
    assert pyflakes_messages(code) == ""
    for name, value in params.items():  # each value reaches the code as a literal
        assert repr(value).replace("'", '"') in code, name
    script = tmp_path / f"{recipe.replace('-', '_')}.py"
    script.write_text(code)
    mod = load_module(script)
    if recipe in NEEDS and not importable(NEEDS[recipe]):
        with pytest.raises(SystemExit) as exc:  # the script's own clear message
            mod.main()
        assert "needs" in str(exc.value.code) and NEEDS[recipe] in str(exc.value.code)
        return
    if recipe == "argparse-config":
        mod.main([])
    else:
        mod.main()  # each snippet asserts its own result
    assert capsys.readouterr().out.strip()


def test_metadata_pitfalls_aliases_and_search(cli):
    catalog = load_catalog()
    for name in SNIPPETS:
        recipe = catalog.get(name)
        assert recipe.kind == "snippet" and recipe.tags and recipe.pitfalls and recipe.when
        assert any(a.isascii() for a in recipe.aliases), name
        assert any(not a.isascii() for a in recipe.aliases), name
    code, out, _ = cli("show", "focal-loss")
    assert code == 0 and "batch-mean BCE" in out
    code, out, _ = cli("show", "eval-loop")
    assert code == 0 and "torch.zero_grad()" in out
    for query, expected in [
        ("焦点损失", "focal-loss"),
        ("得到当前学习率", "get-lr"),
        ("统计代码各部分耗时", "profiler"),
        ("使用argparse进行调参", "argparse-config"),
    ]:
        code, out, _ = cli("search", query)
        assert code == 0 and out.split()[0] == expected, (query, out)


# ---------------------------------------------------------------- modulelist-vs-sequential


def test_modulelist_registers_parameters_plain_list_does_not(tmp_path, capsys):
    mod = load(tmp_path, "modulelist-vs-sequential", {"num-layers": 4, "width": 5})
    mod.main()
    assert "PlainListNet: 0 parameters" in capsys.readouterr().out
    module_list, sequential, plain = mod.ModuleListNet(), mod.SequentialNet(), mod.PlainListNet()
    for model in (module_list, sequential):
        assert sum(p.numel() for p in model.parameters()) == 4 * (5 * 5 + 5)
        assert sorted(model.state_dict()) == sorted(
            f"layers.{i}.{kind}" for i in range(4) for kind in ("weight", "bias")
        )
    assert list(plain.parameters()) == [] and plain.state_dict() == {}
    with pytest.raises(ValueError, match="empty parameter list"):
        torch.optim.SGD(plain.parameters(), lr=0.1)
    module_list.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in module_list.parameters())

    # forward returns the layers' output, not its input
    x = torch.randn(2, 5)
    manual = x
    for layer in sequential.layers:
        manual = layer(manual)
    sequential_out = sequential(x)
    torch.testing.assert_close(sequential_out, manual)
    assert not torch.allclose(sequential_out, x)

    # a ModuleList model trains: one step changes every layer
    before = {k: v.clone() for k, v in module_list.state_dict().items()}
    module_list.float()
    optimizer = torch.optim.SGD(module_list.parameters(), lr=0.1)
    module_list(x).pow(2).sum().backward()
    optimizer.step()
    after = module_list.state_dict()
    assert all(not torch.equal(before[k].float(), after[k]) for k in before)


def test_traced_outputs_do_not_accumulate(tmp_path):
    mod = load(tmp_path, "modulelist-vs-sequential", {"num-layers": 3, "width": 4})
    traced = mod.TracedNet()
    x = torch.randn(2, 4)
    first_output, first = traced(x)
    for _ in range(5):
        output, outputs = traced(x)
        assert len(outputs) == 3 and torch.equal(output, outputs[-1])
    assert len(first) == 3 and torch.equal(first_output, output)
    assert not [v for v in vars(traced).values() if isinstance(v, list)]  # no growing attribute


# ---------------------------------------------------------------- eval-loop


def _trained_model(mod, inputs, targets):
    model = mod.build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(inputs), targets).backward()
        optimizer.step()
    return model


def test_eval_loop_changes_nothing_and_builds_no_graph(tmp_path):
    mod = load(tmp_path, "eval-loop", {"batch-size": 8, "num-classes": 4})
    mod.main()
    torch.manual_seed(1)
    inputs, targets = torch.randn(40, mod.NUM_FEATURES), torch.randint(0, 4, (40,))
    model = _trained_model(mod, inputs, targets)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(inputs, targets), batch_size=8
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss, accuracy, logits = mod.evaluate(model, loader)
    assert state_equal(before, model.state_dict())
    assert not logits.requires_grad and logits.grad_fn is None
    assert model.training  # the mode it found is restored
    # the numbers are those of an eval-mode forward (train mode would use Dropout and batch stats)
    model.eval()
    with torch.no_grad():
        expected = model(inputs)
    torch.testing.assert_close(logits, expected)
    assert math.isclose(loss, F.cross_entropy(expected, targets).item(), rel_tol=1e-5)
    assert accuracy == (expected.argmax(1) == targets).sum().item() / len(targets)
    mod.evaluate(model, loader)
    assert not model.training  # a model in eval mode stays in eval mode

    # the trap the loop avoids: no_grad alone still updates BatchNorm statistics
    model.train()
    with torch.no_grad():
        model(inputs)
    assert not state_equal(before, model.state_dict())


def test_inference_mode_outputs_cannot_enter_autograd(tmp_path):
    mod = load(tmp_path, "eval-loop")
    torch.manual_seed(0)
    model = mod.build_model()
    inputs = torch.randn(6, mod.NUM_FEATURES)
    predictions = mod.predict(model, inputs)
    assert predictions.is_inference() and predictions.shape == (6,)
    class_embeddings = torch.randn(mod.NUM_CLASSES, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        F.embedding(predictions, class_embeddings).sum().backward()
    F.embedding(predictions.clone(), class_embeddings).sum().backward()  # a clone is normal
    assert not hasattr(torch, "zero_grad")  # the cookbook's torch.zero_grad() does not exist


# ---------------------------------------------------------------- train-eval-modes


def test_dropout_drops_fraction_p_and_eval_is_identity(tmp_path):
    mod = load(tmp_path, "train-eval-modes", {"p": 0.8})
    mod.main()
    torch.manual_seed(0)
    for p in (0.1, 0.5, 0.8):
        dropout = nn.Dropout(p)
        dropout.train()
        fraction, output = mod.dropped_fraction(dropout)
        assert abs(fraction - p) < 0.01  # p is the drop probability, not the keep probability
        torch.testing.assert_close(output.mean(), torch.tensor(1.0), atol=0.03, rtol=0)
        dropout.eval()
        assert mod.dropped_fraction(dropout)[0] == 0


def test_batchnorm_frozen_in_eval_and_saved_in_state_dict(tmp_path):
    mod = load(tmp_path, "train-eval-modes")
    torch.manual_seed(0)
    bn = nn.BatchNorm1d(3)
    inputs = torch.randn(32, 3) + 5
    bn.train()
    (mean0, _), (mean1, _) = mod.batchnorm_step(bn, inputs)
    torch.testing.assert_close(mean1, 0.1 * inputs.mean(0))  # momentum 0.1 from zeros
    bn.eval()
    tracked = bn.num_batches_tracked.clone()
    (mean1, var1), (mean2, var2) = mod.batchnorm_step(bn, inputs)
    assert torch.equal(mean1, mean2) and torch.equal(var1, var2)
    assert torch.equal(bn.num_batches_tracked, tracked)
    # the statistics survive a save and load: they are in state_dict
    path = tmp_path / "bn.pt"
    torch.save(bn.state_dict(), path)
    fresh = nn.BatchNorm1d(3)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    assert torch.equal(fresh.running_mean, bn.running_mean)
    assert {"running_mean", "running_var", "num_batches_tracked"} <= set(bn.state_dict())


# ---------------------------------------------------------------- custom-loss


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_custom_loss_equals_mse_and_gradients_flow(tmp_path, reduction):
    mod = load(tmp_path, "custom-loss", {"reduction": reduction})
    mod.main()
    torch.manual_seed(0)
    output = torch.randn(5, 4, 3, requires_grad=True)
    target = torch.randn(5, 4, 3)
    expected = F.mse_loss(output, target, reduction=reduction)
    (expected_grad,) = torch.autograd.grad(expected, output)
    for loss_fn in (mod.SquaredErrorLoss(), lambda o, t: mod.squared_error(o, t)):
        loss = loss_fn(output, target)
        torch.testing.assert_close(loss, expected)
        (grad,) = torch.autograd.grad(loss, output)
        torch.testing.assert_close(grad, expected_grad)
    assert isinstance(mod.SquaredErrorLoss(), nn.Module)


# ---------------------------------------------------------------- dice-loss and iou-loss


def _masks(seed: int, shape=(3, 1, 6, 5)):
    gen = torch.Generator().manual_seed(seed)
    target = (torch.rand(shape, generator=gen) > 0.6).float()
    target[0] = 0  # an empty mask
    target[1, 0, 0, 0] = 1
    prediction = (torch.rand(shape, generator=gen) > 0.5).float()
    return prediction, target


@pytest.mark.parametrize("recipe", ["dice-loss", "iou-loss"])
def test_overlap_loss_matches_set_arithmetic(tmp_path, recipe):
    mod = load(tmp_path, recipe, {"smooth": 0.5})
    mod.main()
    loss_fn = mod.dice_loss if recipe == "dice-loss" else mod.iou_loss
    criterion = mod.DiceLoss() if recipe == "dice-loss" else mod.IoULoss()
    for seed in range(5):
        prediction, target = _masks(seed)
        logits = (prediction * 2 - 1) * 30  # sigmoid saturates to exactly the mask
        per_image = []
        for p, t in zip(prediction, target, strict=True):
            inter, p_sum, t_sum = (p * t).sum(), p.sum(), t.sum()
            if recipe == "dice-loss":
                per_image.append((2 * inter + 0.5) / (p_sum + t_sum + 0.5))
            else:
                per_image.append((inter + 0.5) / (p_sum + t_sum - inter + 0.5))
        expected = 1 - torch.stack(per_image).mean()
        torch.testing.assert_close(loss_fn(logits, target), expected)
        torch.testing.assert_close(criterion(logits, target), expected)
        assert loss_fn(logits, target, smooth=1.0) >= 0


@pytest.mark.parametrize("recipe", ["dice-loss", "iou-loss"])
def test_overlap_loss_perfect_zero_range_layout_and_signature(tmp_path, recipe):
    import inspect

    mod = load(tmp_path, recipe)
    loss_fn = mod.dice_loss if recipe == "dice-loss" else mod.iou_loss
    gen = torch.Generator().manual_seed(0)
    for trial in range(20):
        shape = (2, 1, 4 + trial % 5, 3 + trial % 4)
        target = (torch.rand(shape, generator=gen) > trial / 20).float()
        logits = torch.randn(shape, generator=gen) * (1 + trial)
        value = loss_fn(logits, target).item()
        assert 0 <= value <= 1
        assert loss_fn((target * 2 - 1) * 20, target).item() < 1e-6  # perfect logits
    # channels-last logits permuted to NCHW: non-contiguous, where .view(-1) raises
    logits = torch.randn(2, 6, 5, 3).permute(0, 3, 1, 2)
    target = (torch.rand(2, 3, 6, 5, generator=gen) > 0.5).float()
    with pytest.raises(RuntimeError):
        logits.view(-1)
    contiguous = loss_fn(logits.contiguous(), target)
    torch.testing.assert_close(loss_fn(logits, target), contiguous)
    # gradients reach the logits
    logits = logits.detach().requires_grad_()
    loss_fn(logits, target).backward()
    assert logits.grad.abs().sum() > 0
    # no unused arguments
    assert list(inspect.signature(loss_fn).parameters) == ["logits", "targets", "smooth"]
    module = mod.DiceLoss if recipe == "dice-loss" else mod.IoULoss
    assert list(inspect.signature(module).parameters) == ["smooth"]


# ---------------------------------------------------------------- focal-loss


def test_focal_gamma_zero_no_alpha_is_bce_with_logits(tmp_path):
    mod = load(tmp_path, "focal-loss", {"gamma": 3.0, "alpha": 0.4})
    mod.main()
    gen = torch.Generator().manual_seed(0)
    logits = torch.cat([torch.randn(50, generator=gen) * 4, torch.tensor([-60.0, 60.0, 0.0])])
    targets = (torch.rand(53, generator=gen) > 0.5).float()
    for reduction in ("mean", "sum", "none"):
        expected = F.binary_cross_entropy_with_logits(logits, targets, reduction=reduction)
        got = mod.focal_loss(logits, targets, gamma=0.0, alpha=None, reduction=reduction)
        torch.testing.assert_close(got, expected)
    assert torch.isfinite(mod.focal_loss(logits, targets)).all()


def test_focal_is_per_element_formula_not_batch_mean(tmp_path):
    mod = load(tmp_path, "focal-loss")  # gamma 2, alpha 0.25
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 7, generator=gen, dtype=torch.float64) * 3
    targets = (torch.rand(4, 7, generator=gen) > 0.7).double()
    probs = torch.sigmoid(logits)
    p_t = torch.where(targets == 1, probs, 1 - probs)
    alpha_t = torch.where(targets == 1, 0.25, 0.75)
    expected = -alpha_t * (1 - p_t) ** 2 * torch.log(p_t)
    torch.testing.assert_close(mod.focal_loss(logits, targets, reduction="none"), expected)
    torch.testing.assert_close(mod.FocalLoss()(logits, targets), expected.mean())

    # per element: the batch loss is the mean of each element's own loss ...
    easy_and_hard = torch.tensor([8.0, -2.0]), torch.tensor([1.0, 1.0])
    singles = [mod.focal_loss(x[None], y[None]) for x, y in zip(*easy_and_hard, strict=True)]
    torch.testing.assert_close(mod.focal_loss(*easy_and_hard), torch.stack(singles).mean())
    assert singles[0] < 1e-6 < singles[1]  # the easy element is down-weighted
    # ... which the cookbook's factor on the batch-mean BCE is not
    bce = F.binary_cross_entropy_with_logits(*easy_and_hard)
    cookbook = 0.25 * (1 - torch.exp(-bce)) ** 2 * bce
    assert not torch.allclose(cookbook, mod.focal_loss(*easy_and_hard))


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
