"""l1-regularization: the penalty's gradient is lambda * sign(w) on weight matrices only; it
enters the update but not the logged loss, its norm is logged per epoch, and lambda must
be positive."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import load_module, read_metrics, write_script

TINY = ["--train-size", "64", "--val-size", "32", "--batch-size", "16", "--max-batches", "2"]


# -------------------------------------------------------------------------- l1-regularization


def test_penalty_gradient_is_lambda_sign_w_on_weight_matrices_only(tmp_path):
    mod = load_module(write_script(tmp_path, "l1-regularization", {"l1-lambda": 0.01}))
    args = mod.parse_args([])
    torch.manual_seed(0)
    for model in (
        mod.build_model(args),
        nn.Sequential(nn.Linear(6, 5), nn.LayerNorm(5), nn.ReLU(), nn.Linear(5, 3)),
    ):
        frozen = [p for p in model.parameters() if p.ndim > 1][0]
        frozen.requires_grad_(False)
        penalty = args.l1_lambda * mod.l1_penalty(model)
        penalised_weights = [p for p in model.parameters() if p.ndim > 1 and p is not frozen]
        expected = 0.01 * sum(p.abs().sum() for p in penalised_weights)
        torch.testing.assert_close(penalty, expected)
        penalty.backward()
        penalised = 0
        for name, param in model.named_parameters():
            if param.ndim > 1 and param.requires_grad:
                torch.testing.assert_close(param.grad, 0.01 * torch.sign(param.detach()))
                penalised += 1
            else:  # biases, BatchNorm / LayerNorm weights, the frozen weight
                assert param.grad is None or not param.grad.any(), name
        assert penalised == sum(p.ndim > 1 for p in model.parameters()) - 1 >= 1


def test_penalty_enters_the_update_but_not_the_logged_loss(tmp_path):
    """Two one-step runs that differ only in lambda: the weight matrices differ by
    lr * (lambda_b - lambda_a) * sign(w0); everything else is identical, and so is train_loss."""
    script = write_script(tmp_path, "l1-regularization", {"epochs": 1})
    args = ["--lr", "0.1", "--max-batches", "1", "--train-size", "32", "--val-size", "16"]
    runs = {}
    for lam in (1e-5, 0.5):
        mod = load_module(script)
        initial = {}
        build_model = mod.build_model

        def capturing_build_model(parsed, initial=initial, build_model=build_model):
            model = build_model(parsed)
            initial.update({k: v.clone() for k, v in model.state_dict().items()})
            return model

        mod.build_model = capturing_build_model
        out = tmp_path / f"run-{lam}"
        row = mod.main(["--output-dir", str(out), "--l1-lambda", str(lam), *args])[-1]
        runs[lam] = (row, initial, torch.load(out / "model.pt", weights_only=True))
    (row_a, start, state_a), (row_b, start_b, state_b) = runs[1e-5], runs[0.5]
    assert all(torch.equal(start[k], start_b[k]) for k in start)
    assert row_a["train_loss"] == row_b["train_loss"]  # the penalty is not reported
    mod = load_module(script)
    shapes = dict(mod.build_model(mod.parse_args([])).named_parameters())
    changed = 0
    for key in state_a:
        if key in shapes and shapes[key].ndim > 1:
            expected = 0.1 * (0.5 - 1e-5) * torch.sign(start[key])
            torch.testing.assert_close(state_a[key] - state_b[key], expected, atol=1e-6, rtol=1e-4)
            changed += 1
        else:  # biases, BatchNorm weights and buffers
            assert torch.equal(state_a[key], state_b[key]), key
    assert changed >= 3


def test_l1_norm_is_logged_per_epoch(tmp_path):
    mod = load_module(write_script(tmp_path, "l1-regularization", {"epochs": 2}))
    out = tmp_path / "run"
    history = mod.main(["--output-dir", str(out), *TINY])
    state = torch.load(out / "model.pt", weights_only=True)
    model = mod.build_model(mod.parse_args([]))
    matrices = [name for name, p in model.named_parameters() if p.ndim > 1]
    expected = sum(state[name].abs().sum().item() for name in matrices)
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2]
    assert history[-1]["l1_norm"] == pytest.approx(expected, rel=1e-6)


def test_l1_lambda_must_be_positive(cli):
    code, out, err = cli("render", "l1-regularization", "--l1-lambda", "0")
    assert code == 2 and out == "" and "--l1-lambda" in err and "0 < x <= 1" in err
