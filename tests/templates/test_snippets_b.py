"""Snippets B: containers, evaluation, modes, losses, LR, features, timm, transforms, profiler,
argparse. Each test renders the snippet, runs the generated code on tiny inputs and checks the
property its row in RECIPES.md names, from the test side where it can."""

from __future__ import annotations

import ast
import math
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import importable, load, load_module, pyflakes_messages, render_code, state_equal
from inspect_code import code_names
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
