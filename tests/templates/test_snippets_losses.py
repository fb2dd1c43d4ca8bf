"""The loss snippets: custom-loss, dice-loss, iou-loss and focal-loss, each rendered, run and
checked against the formula or torch's own loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import load

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
