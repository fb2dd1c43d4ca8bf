"""`--data csv`: a table's rows train the MLP; bad files (empty, ragged, non-numeric, huge,
not UTF-8...) are refused in one sentence, also from DataLoader workers."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from helpers import (
    load_module,
    read_metrics,
    refused_args,
    refused_run,
    run_main,
    source_module,
    source_script,
    state_equal,
    write_csv,
)

# --- csv ------------------------------------------------------------------------------


def test_csv_maps_text_labels_and_standardises_with_training_statistics_only(tmp_path):
    data = write_csv(tmp_path / "table.csv")
    mod = source_module(tmp_path, "csv", "mlp")
    args = mod.parse_args(["--data-path", str(data)])
    train, val = mod.build_datasets(args)
    assert train.classes == ["large", "medium", "small"]
    assert train.input_shape == (2,) and len(train) + len(val) == 40
    raw = np.loadtxt(data, delimiter=",", skiprows=1, usecols=(0, 1))
    labels = [train.classes.index(("small", "large", "medium")[i % 3]) for i in range(40)]
    train_rows, val_rows = mod.stratified_split(labels, args.val_split, args.seed)
    assert train.preprocessing["features"] == ["height", "weight"]
    mean, std = raw[train_rows].mean(axis=0), raw[train_rows].std(axis=0)
    np.testing.assert_allclose(train.preprocessing["mean"], mean)
    np.testing.assert_allclose(train.preprocessing["std"], std)
    assert not np.allclose(mean, raw.mean(axis=0)), "the val rows would shift the mean"
    for dataset, rows in ((train, train_rows), (val, val_rows)):
        expected = (raw[rows] - mean) / std
        np.testing.assert_allclose(dataset.tensors[0].numpy(), expected, rtol=1e-5, atol=1e-5)
    out = tmp_path / "run"
    run_main(mod, out, "--data-path", str(data), "--epochs", "1", "--target", "kind")
    assert json.loads((out / "classes.json").read_text()) == ["large", "medium", "small"]
    saved = json.loads((out / "preprocessing.json").read_text())
    assert saved["target"] == "kind" and saved["mean"] == train.preprocessing["mean"]


def test_csv_target_column_and_integer_labels(tmp_path):
    data = tmp_path / "t.csv"
    rows = [f"{i % 10},{i * 0.5},{i % 2}" for i in range(30)]
    data.write_text("label,a,b\n" + "\n".join(rows) + "\n")
    mod = source_module(tmp_path, "csv", "mlp")
    train, val = mod.build_datasets(mod.parse_args(["--data-path", str(data), "--target", "label"]))
    assert train.classes == [str(i) for i in range(10)]
    assert train.preprocessing["features"] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "argv", "needles"),
    [
        ("a,b,y\n1,2,x\n1,oops,y\n", [], ["row 3, column 'b'", "'oops' is not a finite number"]),
        ("a,b,y\n1,2,x\n,3,y\n", [], ["row 3, column 'a'", "the value is missing"]),
        ("a,b,y\n1,2,x\n1,nan,y\n", [], ["row 3, column 'b'", "'nan'"]),
        ("a,b,y\n1,2,x\n\n1,2\n", [], ["row 4 has 2 values and the header 3 columns"]),
        ("a,b,y\n1,2,x\n3,4,\n", [], ["row 3, column 'y': the label is missing"]),
        ("a,b,y\n1,2,x\n3,4,x\n", [], ["one label ('x')"]),
        ("a,b,y\n1,2,x\n", ["--target", "z"], ["--target 'z' is not a column", "a, b, y"]),
        ("a,a,y\n1,2,x\n", [], ["repeats the column name 'a'"]),
        ("a,b,y\n", [], ["a header and no data rows"]),
        ("", [], ["is empty"]),
        (b"a,b,y\n1,2,\xff\n", [], ["is not UTF-8 text"]),
    ],
)
def test_bad_csv_files_are_refused_naming_row_and_column(tmp_path, capsys, text, argv, needles):
    data = tmp_path / "t.csv"
    if isinstance(text, bytes):
        data.write_bytes(text)
    else:
        data.write_text(text)
    mod = source_module(tmp_path, "csv", "mlp")
    out = tmp_path / "run"
    refused_args(capsys, mod, ["--data-path", str(data), *argv, "--output-dir", str(out)], *needles)


def test_a_csv_header_of_100000_columns_is_checked_in_linear_time(tmp_path, capsys):
    # the duplicate-name check once counted every name in the whole header: minutes here
    names = [f"c{i}" for i in range(100_000)]
    data = tmp_path / "wide.csv"
    data.write_text(",".join([*names, "c0"]) + "\n" + ",".join(["1"] * 100_001) + "\n")
    mod = source_module(tmp_path, "csv", "mlp")
    started = time.monotonic()
    argv = ["--data-path", str(data), "--output-dir", str(tmp_path / "run")]
    refused_args(capsys, mod, argv, "repeats the column name 'c0'")
    assert time.monotonic() - started < 20  # quadratic: ~10**10 comparisons, far beyond


def test_missing_or_wrong_data_path_is_one_sentence(tmp_path, capsys):
    path = source_script(tmp_path, "csv", "mlp")
    refused_run(path, needles=["--data-path is required"])
    mod = load_module(path)
    for data, needle in ((tmp_path / "nope.csv", "does not exist"), (tmp_path, "is not a file")):
        refused_args(
            capsys, mod, ["--data-path", str(data), "--output-dir", str(tmp_path / "r")], needle
        )


def test_the_split_is_stratified_and_seeded(tmp_path):
    mod = source_module(tmp_path, "csv", "mlp")
    labels = [0] * 50 + [1] * 30 + [2] * 20
    train, val = mod.stratified_split(labels, 0.2, seed=3)
    assert sorted(train + val) == list(range(100))
    assert [sum(labels[i] == c for i in val) for c in range(3)] == [10, 6, 4]
    assert mod.stratified_split(labels, 0.2, seed=3) == (train, val)
    assert mod.stratified_split(labels, 0.2, seed=4) != (train, val)
    # a class of two keeps one item in each part
    train, val = mod.stratified_split([0, 0, 1, 1, 1, 1, 1, 1, 1, 1], 0.1, seed=0)
    assert {0, 1} <= {[0, 0, 1, 1, 1, 1, 1, 1, 1, 1][i] for i in val}


def test_small_cnn_on_tabular_data_and_channels_last_with_mlp(tmp_path, capsys):
    data = write_csv(tmp_path / "t.csv")
    refused_args(
        capsys,
        source_module(tmp_path, "csv"),
        ["--data-path", str(data), "--output-dir", str(tmp_path / "a")],
        "the small CNN takes images",
        "--model mlp",
    )
    capsys.readouterr()
    mod = source_module(tmp_path, "csv", "mlp")
    run_main(mod, tmp_path / "b", "--data-path", str(data), "--epochs", "1", "--channels-last")
    assert "--channels-last applies to image inputs" in capsys.readouterr().err


def test_resume_a_csv_run_is_exact_and_refuses_other_classes(tmp_path, capsys):
    data = write_csv(tmp_path / "t.csv", rows=60)
    mod = source_module(tmp_path, "csv", "mlp", ("checkpoint",))
    common = ["--data-path", str(data), "--batch-size", "8"]
    run_main(mod, tmp_path / "full", *common, "--epochs", "3")
    run_main(mod, tmp_path / "part", *common, "--epochs", "2")
    checkpoint = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    assert checkpoint["classes"] == ["large", "medium", "small"]
    run_main(mod, tmp_path / "part", *common, "--epochs", "3", "--resume")
    full = torch.load(tmp_path / "full" / "model.pt", weights_only=True)
    resumed = torch.load(tmp_path / "part" / "model.pt", weights_only=True)
    assert state_equal(full, resumed)
    assert read_metrics(tmp_path / "full") == read_metrics(tmp_path / "part")
    other = tmp_path / "other.csv"
    other.write_text(data.read_text().replace("medium", "huge"))
    refused_args(
        capsys,
        mod,
        [*common, "--data-path", str(other), "--epochs", "4", "--resume"]
        + ["--output-dir", str(tmp_path / "part")],
        "saved for the classes large, medium, small",
        "huge, large, small",
    )
