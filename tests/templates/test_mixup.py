"""mixup: Beta(alpha, alpha) mixing of inputs and of the loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from helpers import load_module, read_metrics, write_script


def test_alpha_must_be_positive(cli):
    code, out, err = cli("render", "mixup", "--alpha", "0")
    assert code == 2 and out == ""
    assert "--alpha" in err and "0 < x" in err


def test_mixed_loss_equals_cross_entropy_on_mixed_soft_targets(tmp_path):
    mod = load_module(write_script(tmp_path, "mixup", {"alpha": 0.4}))
    torch.manual_seed(0)
    inputs, targets = torch.randn(8, 3, 4, 4), torch.randint(5, (8,))
    logits = torch.randn(8, 5)
    mixed, targets_b, lam = mod.mix_batch(inputs, targets, 0.4)
    assert 0.0 <= lam <= 1.0
    partner = [int((targets == t).nonzero()[0]) for t in targets_b]  # sanity: partners exist
    assert len(partner) == 8
    criterion = mod.build_criterion(mod.parse_args([]))
    loss = lam * criterion(logits, targets) + (1 - lam) * criterion(logits, targets_b)
    soft = lam * F.one_hot(targets, 5).float() + (1 - lam) * F.one_hot(targets_b, 5).float()
    torch.testing.assert_close(loss, F.cross_entropy(logits, soft))


def test_inputs_are_the_same_convex_blend(tmp_path):
    mod = load_module(write_script(tmp_path, "mixup", {}))
    torch.manual_seed(3)
    inputs = torch.arange(6.0).reshape(6, 1)
    targets = torch.arange(6)
    mixed, targets_b, lam = mod.mix_batch(inputs, targets, 1.0)
    # the partner of each sample is identified by its target; the blend uses the same permutation
    torch.testing.assert_close(mixed, lam * inputs + (1 - lam) * inputs[targets_b])


def test_lambda_follows_beta(tmp_path):
    mod = load_module(write_script(tmp_path, "mixup", {}))
    torch.manual_seed(0)
    x, y = torch.zeros(4, 1), torch.arange(4)
    lams = torch.tensor([mod.mix_batch(x, y, 0.5)[2] for _ in range(4000)])
    # Beta(0.5, 0.5): mean 1/2, variance 1/8
    assert abs(lams.mean().item() - 0.5) < 0.02
    assert abs(lams.var().item() - 0.125) < 0.01


def test_training_with_mixup_runs_and_learns(tmp_path):
    script = write_script(tmp_path, "mixup", {"alpha": 0.2, "epochs": 3})
    out = tmp_path / "run"
    module = load_module(script)
    assert module.parse_args([]).alpha == 0.2  # the render value is the script's default
    module.main(["--output-dir", str(out)])
    rows = read_metrics(out)
    assert len(rows) == 3 and rows[-1]["val_acc"] > 0.5
