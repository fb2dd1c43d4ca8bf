"""metrics: validation precision, recall, F1 (macro) and the confusion matrix per epoch."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import load_module, read_metrics, write_script
from processes import torchrun

TINY = ["--train-size", "64", "--val-size", "32", "--batch-size", "16", "--max-batches", "2"]

# 3 classes; class 2 is never predicted. Rows = true class, columns = predicted class:
#   [[2, 1, 0],
#    [1, 1, 0],
#    [1, 1, 0]]
TARGETS = torch.tensor([0, 0, 0, 1, 1, 2, 2])
PREDICTIONS = torch.tensor([0, 0, 1, 1, 0, 0, 1])


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    return load_module(write_script(tmp_path_factory.mktemp("metrics"), "metrics", {}))


def test_confusion_matrix_rows_are_true_classes(mod):
    confusion = mod.confusion_matrix(TARGETS, PREDICTIONS, 3)
    assert confusion.dtype == torch.int64
    assert confusion.tolist() == [[2, 1, 0], [1, 1, 0], [1, 1, 0]]
    one = mod.confusion_matrix(torch.tensor([2]), torch.tensor([0]), 4)
    assert one[2, 0] == 1 and one.sum() == 1  # true 2, predicted 0


def test_exact_values_on_a_hand_made_example(mod):
    confusion = mod.confusion_matrix(TARGETS, PREDICTIONS, 3)
    precision, recall, f1 = mod.precision_recall_f1(confusion)
    # precision = diagonal / column sums (4, 3, 0); recall = diagonal / row sums (3, 2, 2)
    assert precision.tolist() == pytest.approx([2 / 4, 1 / 3, 0.0], abs=1e-12)
    assert recall.tolist() == pytest.approx([2 / 3, 1 / 2, 0.0], abs=1e-12)
    assert f1.tolist() == pytest.approx([4 / 7, 2 / 5, 0.0], abs=1e-12)
    for p, r, f in zip(precision[:2].tolist(), recall[:2].tolist(), f1[:2].tolist(), strict=True):
        assert f == pytest.approx(2 * p * r / (p + r))
    assert not any(torch.isnan(t).any() for t in (precision, recall, f1))  # class 2: 0, not NaN
    macro = mod.macro_metrics(confusion)
    assert macro == pytest.approx(
        {"precision": 5 / 18, "recall": 7 / 18, "f1": 34 / 105}, abs=1e-12
    )
    # the seed's convention (diagonal / row sums called precision) gives other numbers
    swapped = confusion.diagonal().double() / confusion.sum(dim=1)
    assert not torch.allclose(precision, swapped)


def test_classes_absent_from_targets_and_predictions_are_left_out_of_the_average(mod):
    confusion = torch.zeros(4, 4, dtype=torch.long)
    confusion[:3, :3] = mod.confusion_matrix(TARGETS, PREDICTIONS, 3)
    precision, recall, f1 = mod.precision_recall_f1(confusion)
    assert precision[3] == recall[3] == f1[3] == 0
    assert mod.macro_metrics(confusion) == pytest.approx(
        mod.macro_metrics(confusion[:3, :3]), abs=1e-12
    )
    perfect = torch.diag(torch.tensor([3, 0, 5]))
    assert mod.macro_metrics(perfect) == pytest.approx({"precision": 1, "recall": 1, "f1": 1})
    empty = mod.precision_recall_f1(torch.zeros(2, 2, dtype=torch.long))
    assert all(t.tolist() == [0.0, 0.0] for t in empty)


def test_evaluate_accumulates_across_batches(mod):
    args = mod.parse_args(["--num-classes", "3"])
    model = mod.build_model(args)
    images = torch.randn(20, 3, 8, 8)
    labels = torch.randint(3, (20,))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(images, labels), batch_size=6
    )
    criterion = mod.build_criterion(args)
    result = mod.evaluate(model, loader, criterion, torch.device("cpu"))
    with torch.no_grad():
        predictions = model(images).argmax(dim=1)
    expected = mod.confusion_matrix(labels, predictions, 3)
    assert result["val_confusion"] == expected.tolist()
    assert sum(map(sum, result["val_confusion"])) == 20
    assert result["val_f1"] == pytest.approx(mod.macro_metrics(expected)["f1"])


def reference_metrics(labels, predictions, num_classes):
    """Plain-Python recomputation (independent of the generated helpers)."""
    matrix = [[0] * num_classes for _ in range(num_classes)]
    for t, p in zip(labels, predictions, strict=True):
        matrix[t][p] += 1
    precisions, recalls, f1s = [], [], []
    for c in range(num_classes):
        tp = matrix[c][c]
        predicted = sum(row[c] for row in matrix)
        actual = sum(matrix[c])
        if predicted == 0 and actual == 0:
            continue
        p = tp / predicted if predicted else 0.0
        r = tp / actual if actual else 0.0
        precisions.append(p)
        recalls.append(r)
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    return matrix, mean(precisions), mean(recalls), mean(f1s)


def test_metrics_jsonl_matches_the_saved_models_predictions(tmp_path, capsys):
    script = write_script(tmp_path, "metrics", {"epochs": 2})
    mod = load_module(script)
    out = tmp_path / "run"
    history = mod.main(["--output-dir", str(out), *TINY])
    rows = read_metrics(out)
    assert rows == history and len(rows) == 2
    for row in rows:
        assert {"val_precision", "val_recall", "val_f1", "val_confusion"} <= row.keys()
    printed = capsys.readouterr().out
    assert "val_f1" in printed and "val_confusion" not in printed  # the matrix: file only

    args = mod.parse_args(TINY)
    model = mod.build_model(args)
    model.load_state_dict(torch.load(out / "model.pt", weights_only=True))
    model.eval()
    images, labels = mod.build_datasets(args)[1].tensors
    with torch.no_grad():
        predictions = model(images).argmax(dim=1)
    matrix, precision, recall, f1 = reference_metrics(labels.tolist(), predictions.tolist(), 4)
    last = rows[-1]
    assert last["val_confusion"] == matrix
    assert last["val_precision"] == pytest.approx(precision, abs=1e-12)
    assert last["val_recall"] == pytest.approx(recall, abs=1e-12)
    assert last["val_f1"] == pytest.approx(f1, abs=1e-12)
    assert last["val_acc"] == pytest.approx(sum(matrix[c][c] for c in range(4)) / 32)


def test_counts_are_summed_over_processes_under_torchrun(tmp_path):
    """Two gloo processes each evaluate half of the validation set; the logged matrix counts all."""
    script = write_script(tmp_path, "metrics", {"epochs": 1})
    torchrun(script, "--output-dir", "run", "--device", "cpu", *TINY, cwd=tmp_path, timeout=120)
    (row,) = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    matrix = row["val_confusion"]
    assert sum(map(sum, matrix)) == 32  # both halves (16 + 16), not rank 0's alone
    assert row["val_acc"] == pytest.approx(sum(matrix[c][c] for c in range(4)) / 32)


def test_show_names_every_pitfall_and_search_finds_it(cli):
    code, out, _ = cli("show", "metrics")
    assert code == 0
    for phrase in (
        "range(len(num_classes))",
        "swaps precision and recall",
        "np.int",
        "epsilon = 0",
    ):
        assert phrase in out, phrase
    for query in ("查准率", "混淆矩阵", "confusion matrix"):
        code, out, _ = cli("search", query)
        assert code == 0 and out.split()[0] == "metrics", (query, out)
