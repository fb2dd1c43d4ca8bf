"""Loss recipes: label-smoothing and class-weights (l1-regularization: test_l1_regularization.py).

Each test renders the recipe, loads the generated script and checks the property on real
tensors or a short real training run (tiny data, CPU).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from helpers import load_module, read_metrics, write_script

TINY = ["--train-size", "64", "--val-size", "32", "--batch-size", "16", "--max-batches", "2"]


def smoothed_targets(targets, num_classes, smoothing):
    """PyTorch's convention, written out: (1 - S) * one_hot + S / C."""
    return (1 - smoothing) * F.one_hot(targets, num_classes).double() + smoothing / num_classes


def soft_cross_entropy(logits, soft_targets):
    return -(soft_targets * F.log_softmax(logits.double(), dim=1)).sum(dim=1).mean()


# ---------------------------------------------------------------------------- label-smoothing


def test_smoothing_range_is_refused_outside_0_to_1(cli):
    for bad in ("1", "1.5", "-0.1"):
        code, out, err = cli("render", "label-smoothing", "--smoothing", bad)
        assert code == 2 and out == "" and "--smoothing" in err and "0 <= x < 1" in err, bad
    code, out, _ = cli("render", "label-smoothing", "--smoothing", "0")
    assert code == 0 and "label_smoothing=args.smoothing" in out


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_criterion_equals_pytorch_label_smoothing_not_the_seed_lsr(tmp_path, smoothing):
    mod = load_module(write_script(tmp_path, "label-smoothing", {"smoothing": smoothing}))
    args = mod.parse_args(["--num-classes", "5"])
    assert args.smoothing == smoothing  # the render value is the script's default
    criterion = mod.build_criterion(args)
    torch.manual_seed(0)
    logits, targets = 3 * torch.randn(16, 5), torch.randint(5, (16,))
    loss = criterion(logits, targets)
    torch.testing.assert_close(loss, F.cross_entropy(logits, targets, label_smoothing=smoothing))

    soft = smoothed_targets(targets, 5, smoothing)
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(16, dtype=torch.float64))
    torch.testing.assert_close(loss.double(), soft_cross_entropy(logits, soft))
    if smoothing == 0.0:
        return
    # the seed's LSR class: (1 - e) + e / (C - 1) on the true class, e / (C - 1) elsewhere
    lsr = (1 - smoothing) * F.one_hot(targets, 5).double() + smoothing / 4
    torch.testing.assert_close(lsr.sum(dim=1), torch.full((16,), 1 + smoothing / 4).double())
    assert abs(loss.item() - soft_cross_entropy(logits, lsr).item()) > 1e-3
    # the seed's inline version: 1 - e on the true class, e / (C - 1) elsewhere
    inline = torch.full((16, 5), smoothing / 4, dtype=torch.float64)
    inline.scatter_(1, targets[:, None], 1 - smoothing)
    assert abs(loss.item() - soft_cross_entropy(logits, inline).item()) > 1e-4


def test_training_loop_uses_the_smoothed_criterion(tmp_path):
    mod = load_module(write_script(tmp_path, "label-smoothing", {"smoothing": 0.2, "epochs": 1}))
    out = tmp_path / "run"
    row = mod.main(["--output-dir", str(out), *TINY])[-1]
    args = mod.parse_args(TINY)
    model = mod.build_model(args)
    model.load_state_dict(torch.load(out / "model.pt", weights_only=True))
    model.eval()
    _, val = mod.build_datasets(args)
    images, labels = val.tensors
    with torch.no_grad():
        expected = F.cross_entropy(model(images), labels, label_smoothing=0.2).item()
        plain = F.cross_entropy(model(images), labels).item()
    assert row["val_loss"] == pytest.approx(expected, rel=1e-5)
    assert abs(row["val_loss"] - plain) > 1e-3


def test_composes_with_mixup_as_cross_entropy_on_mixed_smoothed_targets(tmp_path):
    script = write_script(
        tmp_path, "train", {"smoothing": 0.1, "alpha": 0.4}, with_=("mixup", "label-smoothing")
    )
    source = script.read_text()
    assert "label_smoothing=args.smoothing" in source and "mix_batch(" in source
    mod = load_module(script)
    criterion = mod.build_criterion(mod.parse_args(["--num-classes", "5"]))
    torch.manual_seed(1)
    inputs, targets, logits = torch.randn(8, 3, 4, 4), torch.randint(5, (8,)), torch.randn(8, 5)
    _, targets_b, lam = mod.mix_batch(inputs, targets, 0.4)
    mixed_loss = lam * criterion(logits, targets) + (1 - lam) * criterion(logits, targets_b)
    soft = lam * smoothed_targets(targets, 5, 0.1) + (1 - lam) * smoothed_targets(targets_b, 5, 0.1)
    torch.testing.assert_close(mixed_loss.double(), soft_cross_entropy(logits, soft))
    torch.testing.assert_close(mixed_loss, F.cross_entropy(logits, soft.float()))
    history = mod.main(["--output-dir", str(tmp_path / "run"), "--epochs", "1", *TINY])
    assert torch.isfinite(torch.tensor(history[-1]["train_loss"]))


# ------------------------------------------------------------------------------ class-weights


def imbalanced(counts, image_size=8, seed=0):
    """A TensorDataset with counts[c] samples of class c (the class pattern plus noise)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.cat([torch.full((n,), c, dtype=torch.long) for c, n in enumerate(counts)])
    patterns = torch.randn(len(counts), 3, image_size, image_size, generator=generator)
    images = patterns[labels] + torch.randn(
        len(labels), 3, image_size, image_size, generator=generator
    )
    return TensorDataset(images, labels)


def test_weights_follow_the_documented_formula_and_keep_absent_classes(tmp_path):
    mod = load_module(write_script(tmp_path, "class-weights", {}))
    labels = torch.tensor([0] * 6 + [1] * 3 + [2])  # class 3 never occurs
    weights = mod.inverse_frequency_weights(labels, 4)
    assert weights.dtype == torch.float32 and weights.shape == (4,)
    # counts 6, 3, 1, 0 -> clamped 6, 3, 1, 1 -> 1/n, scaled so the sample mean weight is 1
    torch.testing.assert_close(weights, torch.tensor([10 / 18, 10 / 9, 10 / 3, 10 / 3]))
    assert weights[labels].mean().item() == pytest.approx(1.0)
    # every class present, power 1: w_c = N / (C * n_c)
    full = torch.tensor([0] * 5 + [1] * 3 + [2] * 2)
    torch.testing.assert_close(
        mod.inverse_frequency_weights(full, 3), torch.tensor([10 / 15, 10 / 9, 10 / 6])
    )
    # power 0: no weighting; power 0.5: ratios are square roots
    torch.testing.assert_close(mod.inverse_frequency_weights(full, 3, 0.0), torch.ones(3))
    half = mod.inverse_frequency_weights(full, 3, 0.5)
    assert (half[2] / half[0]).item() == pytest.approx((5 / 2) ** 0.5)


def test_loss_equals_weighted_mean_of_per_sample_losses(tmp_path):
    mod = load_module(write_script(tmp_path, "class-weights", {"num-classes": 4}))
    args = mod.parse_args([])
    dataset = imbalanced([40, 12, 4, 0])
    criterion = mod.build_criterion(args, dataset)
    weights = criterion.weight
    assert weights.dtype == torch.float32 and weights.shape == (4,)
    assert torch.isfinite(weights).all() and weights[0] < weights[1] < weights[2]
    torch.manual_seed(0)
    logits = torch.randn(32, 4)
    targets = torch.tensor([0] * 20 + [1] * 6 + [2] * 3 + [3] * 3)  # includes the absent class
    per_sample = F.cross_entropy(logits, targets, reduction="none")
    expected = (weights[targets] * per_sample).sum() / weights[targets].sum()
    loss = criterion(logits, targets)
    torch.testing.assert_close(loss, expected)
    assert abs(loss.item() - per_sample.mean().item()) > 1e-3  # the weighting matters


class _Linear(nn.Module):
    """No BatchNorm, no dropout: each sample's loss is the same in any batch."""

    def __init__(self, num_classes):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc = nn.LazyLinear(num_classes)

    def forward(self, x):
        return self.fc(self.flat(x))


def _whole_set_weighted_loss(mod, args, model, dataset, criterion):
    inputs, targets = dataset.tensors
    model.eval()
    with torch.no_grad():
        per_sample = F.cross_entropy(
            model(inputs).double(), targets, weight=criterion.weight.double(), reduction="none"
        )
    return (per_sample.sum() / criterion.weight.double()[targets].sum()).item()


def test_logged_losses_are_the_whole_sets_weighted_mean_whatever_the_batch_size(tmp_path):
    """val_loss and train_loss are sum(w[y] * loss) / sum(w[y]) over the whole set: the same
    for batches of 8 or 32 (a mean of batch means weighted by batch size is not). With
    --lr 1e-9 and no BatchNorm the model barely moves, so each sample's loss is fixed."""
    mod = load_module(write_script(tmp_path, "class-weights", {"num-classes": 4}))
    torch.manual_seed(0)
    model = _Linear(4)
    model(torch.zeros(1, 3, 16, 16))  # materialise the lazy layer
    mod.build_model = lambda args: model
    records = {}
    for batch_size in (8, 32):
        argv = [
            "--epochs",
            "1",
            "--lr",
            "1e-9",
            "--train-size",
            "64",
            "--val-size",
            "48",
            "--batch-size",
            str(batch_size),
            "--output-dir",
            str(tmp_path / f"run{batch_size}"),
        ]
        records[batch_size] = mod.main(argv)[0]
    args = mod.parse_args(["--train-size", "64", "--val-size", "48"])
    train_set, val_set = mod.build_datasets(args)
    criterion = mod.build_criterion(args, train_set)
    for key, dataset in (("val_loss", val_set), ("train_loss", train_set)):
        expected = _whole_set_weighted_loss(mod, args, model, dataset, criterion)
        for batch_size, record in records.items():
            # float32 in the model, float64 here; the batch-size weighting is off by ~1e-2
            assert record[key] == pytest.approx(expected, rel=2e-5), (key, batch_size)


def test_label_smoothing_with_class_weights_follows_pytorch(tmp_path):
    """Composed, the criterion is F.cross_entropy(weight=w, label_smoothing=e): the smoothing
    term is weighted by each class's w too, and the mean divides by sum(w[y])."""
    mod = load_module(
        write_script(
            tmp_path,
            "class-weights",
            {"num-classes": 4, "smoothing": 0.1},
            with_=("label-smoothing",),
        )
    )
    args = mod.parse_args([])
    criterion = mod.build_criterion(args, imbalanced([40, 12, 4, 2]))
    w = criterion.weight.double()
    torch.manual_seed(1)
    logits, targets = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 4, (16,))
    logp = F.log_softmax(logits, dim=1)
    by_hand = (
        0.9 * -logp.gather(1, targets[:, None]).squeeze(1) * w[targets]
        + 0.1 / 4 * -(logp * w).sum(dim=1)
    ).sum() / w[targets].sum()
    torch.testing.assert_close(
        criterion(logits.float(), targets).double(), by_hand, rtol=1e-5, atol=1e-6
    )
    torch.testing.assert_close(
        F.cross_entropy(logits, targets, weight=w, label_smoothing=0.1), by_hand
    )


def test_training_on_imbalanced_data_with_an_absent_class(tmp_path):
    mod = load_module(write_script(tmp_path, "class-weights", {"num-classes": 4, "epochs": 2}))
    train_set, val_set = imbalanced([48, 12, 4, 0], seed=0), imbalanced([8, 8, 8, 8], seed=1)
    mod.build_datasets = lambda args: (train_set, val_set)
    built = []
    build_criterion = mod.build_criterion

    def recording_build_criterion(args, train_dataset=None):
        built.append(build_criterion(args, train_dataset))
        return built[-1]

    mod.build_criterion = recording_build_criterion
    out = tmp_path / "run"
    history = mod.main(["--output-dir", str(out), "--image-size", "8", *TINY])
    assert len(read_metrics(out)) == 2
    assert all(
        torch.isfinite(torch.tensor([r["train_loss"], r["val_loss"]])).all() for r in history
    )
    expected = mod.inverse_frequency_weights(train_set.tensors[1], 4)
    torch.testing.assert_close(built[0].weight, expected)  # from the patched, imbalanced labels
    counts = torch.tensor([48.0, 12.0, 4.0, 1.0])
    torch.testing.assert_close(built[0].weight / built[0].weight[0], counts[0] / counts)


def test_labels_are_read_from_any_dataset(tmp_path):
    mod = load_module(write_script(tmp_path, "class-weights", {}))

    class Plain(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, index):
            return torch.zeros(3, 4, 4), [2, 0, 1, 1, 3][index]

    class WithTargets(Plain):
        targets = [2, 0, 1, 1, 3]

        def __getitem__(self, index):
            raise AssertionError("the targets attribute is read without loading images")

    expected = torch.tensor([2, 0, 1, 1, 3])
    assert torch.equal(mod.dataset_labels(Plain()), expected)
    assert torch.equal(mod.dataset_labels(WithTargets()), expected)
    assert torch.equal(mod.dataset_labels(TensorDataset(torch.zeros(5, 2), expected)), expected)
    # without a dataset, build_criterion counts the script's own training set
    args = mod.parse_args([])
    torch.testing.assert_close(
        mod.build_criterion(args).weight,
        mod.build_criterion(args, mod.build_datasets(args)[0]).weight,
    )


def test_labels_outside_num_classes_stop_with_a_clear_message(tmp_path, capsys):
    mod = load_module(write_script(tmp_path, "class-weights", {}))
    with pytest.raises(SystemExit) as info:
        mod.inverse_frequency_weights(torch.tensor([0, 1, 5]), 4)
    assert info.value.code == 2
    assert "training labels must lie in 0..3" in capsys.readouterr().err


def test_class_weight_power_range(cli):
    code, out, err = cli("render", "class-weights", "--class-weight-power", "1.5")
    assert code == 2 and out == "" and "--class-weight-power" in err and "0 <= x <= 1" in err


# ------------------------------------------------------------------------------ documentation


@pytest.mark.parametrize(
    ("recipe", "phrases"),
    [
        ("label-smoothing", ["1 + e / (C - 1)", "e / C", "LSR"]),
        ("class-weights", ["t.nn", "np.unique", "float64", "bincount"]),
        ("l1-regularization", ["L1Loss", "lambda", "biases and BatchNorm"]),
    ],
)
def test_show_names_every_pitfall_and_search_finds_chinese_names(cli, recipe, phrases):
    code, out, _ = cli("show", recipe)
    assert code == 0
    for phrase in phrases:
        assert phrase in out, (recipe, phrase)
    chinese = {
        "label-smoothing": "标签平滑",
        "class-weights": "样本不平衡",
        "l1-regularization": "L1正则化",
    }
    code, out, _ = cli("search", chinese[recipe])
    assert code == 0 and out.split()[0] == recipe, out
