"""Data sources chosen when rendering (--data image-folder|csv|tensors) and the mlp model.

Every source on tiny real files (images written with Pillow, CSV text, .pt and .npz files):
what it loads, classes.json and preprocessing.json, the seeded stratified split, bad data
refused with one sentence (exit 2, also from DataLoader workers), resume with checkpoint.
Two real-data runs: scikit-learn's digits as PNG files and breast-cancer as a CSV.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import (
    image_folder,
    load_module,
    read_metrics,
    refused,
    run_script,
    save_image,
    state_equal,
    write_csv,
)
from snippetgen import RenderRequest, render


@functools.cache
def source(data: str, model: str = "small-cnn", with_: tuple[str, ...] = ()) -> str:
    return render(RenderRequest("train", {}, with_, data, model))


def script(directory: Path, data: str, model: str = "small-cnn", with_=()) -> Path:
    path = directory / f"train_{data.replace('-', '_')}_{model.replace('-', '_')}.py"
    path.write_text(source(data, model, tuple(with_)))
    return path


def module(directory: Path, data: str, model: str = "small-cnn", with_=()):
    """The rendered script, imported (its main() not run)."""
    return load_module(script(directory, data, model, with_))


def refused_args(capsys, mod, argv, *needles: str) -> str:
    """main(argv) exits 2 with one line on stderr holding every needle."""
    return refused(capsys, lambda: mod.main(argv), *needles)


def refused_run(path: Path, *args: str, needles=()) -> str:
    """The script, run in a fresh interpreter, exits 2 with one line and no traceback."""
    proc = run_script(path, *args, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, proc.stderr)
    return lines[0]


def run_main(mod, out: Path, *argv: str):
    return mod.main([*argv, "--output-dir", str(out), "--device", "cpu"])


def test_synthetic_data_keeps_its_flags_and_the_mlp_head_is_fc(tmp_path):
    mod = module(tmp_path, "synthetic", "mlp")
    out = tmp_path / "run"
    argv = ["--num-classes", "3", "--train-size", "32", "--val-size", "16", "--image-size", "6"]
    run_main(mod, out, *argv, "--epochs", "1")
    assert json.loads((out / "classes.json").read_text()) == ["0", "1", "2"]
    assert not (out / "preprocessing.json").exists()
    args = mod.parse_args(argv)
    model = mod.build_model(args)  # outside main(): the shape comes from build_datasets
    assert args.input_shape == (3, 6, 6) and args.num_classes == 3
    assert isinstance(model.fc, torch.nn.Linear) and model.fc.out_features == 3
    assert model(torch.zeros(2, 3, 6, 6)).shape == (2, 3)


# --- image-folder -------------------------------------------------------------------


def test_image_folder_reads_every_format_and_mode_and_writes_the_class_names(tmp_path):
    data = image_folder(tmp_path / "imgs", ("zebra", "ant", "bee"), per_class=7)
    (data / "ant" / "notes.txt").write_text("not an image: skipped")
    (data / ".hidden").mkdir()
    path = script(tmp_path, "image-folder")
    out = tmp_path / "run"
    args = ["--data-path", str(data), "--epochs", "1", "--image-size", "8"]
    run_script(path, *args, "--batch-size", "4", "--output-dir", str(out))
    assert json.loads((out / "classes.json").read_text()) == ["ant", "bee", "zebra"]
    prep = json.loads((out / "preprocessing.json").read_text())
    assert prep["image_size"] == 8 and prep["mode"] == "RGB" and len(prep["mean"]) == 3
    assert len(read_metrics(out)) == 1
    mod = load_module(path)
    train, val = mod.build_datasets(mod.parse_args([*args, "--no-augment"]))
    assert train.classes == val.classes == ["ant", "bee", "zebra"]
    assert len(train) + len(val) == 21 and len(val) == 3  # 20% of 7 per class: 1
    for dataset in (train, val):
        for i in range(len(dataset)):
            x, label = dataset[i]
            assert x.shape == (3, 8, 8) and x.dtype == torch.float32
            assert 0 <= label < 3
    # same file, same tensor (no augmentation); normalised with ImageNet's statistics
    x, _ = val[0]
    with Image.open(val.samples[0][0]) as image:
        rgb = image.convert("RGBA" if image.mode == "P" else image.mode).convert("RGB")
        rgb = rgb.resize((8, 8), Image.Resampling.BILINEAR)
    expected = torch.tensor(np.asarray(rgb), dtype=torch.float32).permute(2, 0, 1) / 255
    mean = torch.tensor(mod.IMAGE_MEAN).view(3, 1, 1)
    std = torch.tensor(mod.IMAGE_STD).view(3, 1, 1)
    torch.testing.assert_close(x, (expected - mean) / std)


def test_image_folder_train_val_layout_and_augmentation(tmp_path):
    root = tmp_path / "imgs"
    image_folder(root / "train", per_class=4)
    image_folder(root / "val", per_class=2)
    mod = module(tmp_path, "image-folder")
    args = mod.parse_args(["--data-path", str(root), "--image-size", "8"])
    train, val = mod.build_datasets(args)
    assert (len(train), len(val)) == (8, 4)
    assert train.augment and not val.augment
    torch.manual_seed(0)
    draws = {tuple(train[0][0].flatten().tolist()) for _ in range(12)}
    assert len(draws) > 1, "random crop and flip vary the training image"
    assert val[0][0].equal(val[0][0])
    args = mod.parse_args(["--data-path", str(root), "--image-size", "8", "--no-augment"])
    train, _ = mod.build_datasets(args)
    assert not train.augment and train[0][0].equal(train[0][0])


@pytest.mark.parametrize(
    ("layout", "argv", "needles"),
    [
        ("none", [], ["--data-path is required"]),
        ("missing", [], ["does not exist"]),
        ("file", [], ["is not a folder"]),
        ("empty", [], ["holds no class folders"]),
        ("empty-class", [], ["the class folder", "holds no images"]),
        ("one-class", [], ["one class folder", "needs two"]),
        ("train-only", [], ["has a train folder but no val folder"]),
        ("different", [], ["hold different classes", "only in train: dog", "only in val: emu"]),
        ("corrupt", [], ["cannot read the image", "broken.png"]),
        ("truncated", [], ["cannot read the image", "cut.jpg"]),
    ],
)
def test_bad_image_folders_are_refused_with_one_sentence(tmp_path, capsys, layout, argv, needles):
    root = tmp_path / "imgs"
    if layout == "file":
        root.write_text("x")
    elif layout == "empty":
        root.mkdir()
    elif layout == "empty-class":
        image_folder(root)
        (root / "emu").mkdir()
        (root / "emu" / "readme.txt").write_text("no images")
    elif layout == "one-class":
        image_folder(root, ("cat",))
    elif layout == "train-only":
        image_folder(root / "train")
    elif layout == "different":
        image_folder(root / "train", ("cat", "dog"))
        image_folder(root / "val", ("cat", "emu"))
    elif layout == "corrupt":
        image_folder(root)
        (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 20)
    elif layout == "truncated":
        image_folder(root)
        save_image(root / "dog" / "cut.jpg", "RGB", size=(64, 64))
        data = (root / "dog" / "cut.jpg").read_bytes()
        (root / "dog" / "cut.jpg").write_bytes(data[: len(data) // 2])
    data_path = [] if layout == "none" else ["--data-path", str(root)]
    mod = module(tmp_path, "image-folder")
    out = tmp_path / "run"
    argv = [*data_path, *argv, "--epochs", "1", "--image-size", "8", "--batch-size", "4"]
    refused_args(capsys, mod, [*argv, "--output-dir", str(out)], *needles)
    assert not (out / "model.pt").exists()


def tiny_png(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes declaring width x height RGB pixels."""
    chunks = [
        (b"IHDR", width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])),
        (b"IDAT", zlib.compress(bytes(64))),
        (b"IEND", b""),
    ]
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        for kind, data in chunks
    )


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_fifo_or_a_decompression_bomb_named_png_is_refused_not_waited_on(tmp_path, workers):
    root = image_folder(tmp_path / "imgs")
    os.mkfifo(root / "cat" / "x.png")  # opening it for reading would wait for a writer
    path = script(tmp_path, "image-folder")
    argv = ["--data-path", str(root), "--num-workers", workers, "--epochs", "1"]
    argv += ["--image-size", "8", "--batch-size", "4", "--no-augment"]
    line = refused_run(path, *argv, needles=["cannot read the image", "x.png"])
    assert "not a regular file" in line
    (root / "cat" / "x.png").unlink()
    # 10000 x 10000 pixels: over Pillow's limit, so its DecompressionBombWarning (once an
    # extra stderr line before a decode of 300 MB) is now the one-line refusal
    (root / "cat" / "bomb.png").write_bytes(tiny_png(10_000, 10_000))
    line = refused_run(path, *argv, needles=["cannot read the image", "bomb.png"])
    assert "decompression bomb" in line.lower()


def test_a_corrupt_image_read_by_a_dataloader_worker_is_one_sentence(tmp_path):
    root = image_folder(tmp_path / "imgs", per_class=10)
    for name in ("cat", "dog"):
        (root / name / "zz-broken.png").write_bytes(b"not an image at all")
    path = script(tmp_path, "image-folder", with_=("checkpoint",))
    line = refused_run(
        path,
        "--data-path",
        str(root),
        "--num-workers",
        "2",
        "--epochs",
        "1",
        "--image-size",
        "8",
        "--output-dir",
        str(tmp_path / "run"),
        needles=["cannot read the image", "zz-broken.png", "cannot identify image file"],
    )
    assert "worker" not in line and "Caught" not in line


def test_without_pillow_the_script_says_so_and_help_still_works(tmp_path):
    path = script(tmp_path, "image-folder")
    assert "# Requires: pillow" in path.read_text().splitlines()[1]
    block = (
        "import runpy, sys; sys.modules['PIL'] = None; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    root = image_folder(tmp_path / "imgs")
    help_run = subprocess.run(
        [sys.executable, "-c", block, str(path), "--help"], capture_output=True, text=True
    )
    assert help_run.returncode == 0 and "--data-path" in help_run.stdout
    proc = subprocess.run(
        [sys.executable, "-c", block, str(path), "--data-path", str(root)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    expected = "error: --data image-folder reads images with Pillow: pip install pillow"
    assert proc.stderr.strip() == expected


# --- csv ------------------------------------------------------------------------------


def test_csv_maps_text_labels_and_standardises_with_training_statistics_only(tmp_path):
    data = write_csv(tmp_path / "table.csv")
    mod = module(tmp_path, "csv", "mlp")
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
    mod = module(tmp_path, "csv", "mlp")
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
    mod = module(tmp_path, "csv", "mlp")
    out = tmp_path / "run"
    refused_args(capsys, mod, ["--data-path", str(data), *argv, "--output-dir", str(out)], *needles)


def test_a_csv_header_of_100000_columns_is_checked_in_linear_time(tmp_path, capsys):
    # the duplicate-name check once counted every name in the whole header: minutes here
    names = [f"c{i}" for i in range(100_000)]
    data = tmp_path / "wide.csv"
    data.write_text(",".join([*names, "c0"]) + "\n" + ",".join(["1"] * 100_001) + "\n")
    mod = module(tmp_path, "csv", "mlp")
    started = time.monotonic()
    argv = ["--data-path", str(data), "--output-dir", str(tmp_path / "run")]
    refused_args(capsys, mod, argv, "repeats the column name 'c0'")
    assert time.monotonic() - started < 20  # quadratic: ~10**10 comparisons, far beyond


def test_missing_or_wrong_data_path_is_one_sentence(tmp_path, capsys):
    path = script(tmp_path, "csv", "mlp")
    refused_run(path, needles=["--data-path is required"])
    mod = load_module(path)
    for data, needle in ((tmp_path / "nope.csv", "does not exist"), (tmp_path, "is not a file")):
        refused_args(
            capsys, mod, ["--data-path", str(data), "--output-dir", str(tmp_path / "r")], needle
        )


def test_the_split_is_stratified_and_seeded(tmp_path):
    mod = module(tmp_path, "csv", "mlp")
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
        module(tmp_path, "csv"),
        ["--data-path", str(data), "--output-dir", str(tmp_path / "a")],
        "the small CNN takes images",
        "--model mlp",
    )
    capsys.readouterr()
    mod = module(tmp_path, "csv", "mlp")
    run_main(mod, tmp_path / "b", "--data-path", str(data), "--epochs", "1", "--channels-last")
    assert "--channels-last applies to image inputs" in capsys.readouterr().err


def test_resume_a_csv_run_is_exact_and_refuses_other_classes(tmp_path, capsys):
    data = write_csv(tmp_path / "t.csv", rows=60)
    mod = module(tmp_path, "csv", "mlp", ("checkpoint",))
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


# --- tensors --------------------------------------------------------------------------


def test_tensor_files_pt_and_npz(tmp_path):
    torch.save({"x": torch.randn(40, 5), "y": torch.arange(40) % 4}, tmp_path / "d.pt")
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        x_train=rng.random((30, 6, 6)),
        y_train=np.arange(30) % 2,
        x_val=rng.random((10, 6, 6)),
        y_val=np.arange(10) % 2,
        classes=np.array(["no", "yes"]),
    )
    mod = module(tmp_path, "tensors", "mlp")
    train, val = mod.build_datasets(mod.parse_args(["--data-path", str(tmp_path / "d.pt")]))
    assert train.classes == ["0", "1", "2", "3"] and train.input_shape == (5,)
    assert (len(train), len(val)) == (32, 8)
    out = tmp_path / "run"
    cnn = module(tmp_path, "tensors")
    run_main(cnn, out, "--data-path", str(tmp_path / "d.npz"), "--epochs", "1")
    assert json.loads((out / "classes.json").read_text()) == ["no", "yes"]
    model = torch.load(out / "model.pt", weights_only=True)
    assert model["features.0.weight"].shape[1] == 1, "one input channel, from the data"


class Thing:
    pass


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ({"x": torch.randn(4, 2)}, ["must hold x and y", "it holds x"]),
        ({"x": torch.randn(4, 2), "y": torch.tensor([0, 1, 2, -1])}, ["the label -1"]),
        ({"x": torch.randn(4, 2), "y": torch.tensor([0, 1, 0])}, ["one row per label"]),
        ({"x": torch.tensor([[float("nan")]] * 4), "y": torch.tensor([0, 1] * 2)}, ["NaN"]),
        ({"x": torch.randn(4, 2), "y": torch.tensor([0.5, 1, 0, 1])}, ["not whole numbers"]),
        (
            {
                "x_train": torch.randn(4, 2),
                "y_train": torch.tensor([0, 1, 0, 1]),
                "x_val": torch.randn(2, 2),
                "y_val": torch.tensor([0, 2]),
            },
            ["y_val holds the label 2, out of range for the 2 classes"],
        ),
        ([1, 2], ["holds a list, not a dict"]),
        ({"x": torch.eye(4).to_sparse(), "y": torch.tensor([0, 1] * 2)}, ["x is not a tensor"]),
        (  # classes 0..10**12 would be built as a list of names: refused, not a MemoryError
            {"x": torch.randn(4, 2), "y": torch.tensor([0, 10**12] * 2)},
            ["the label 1000000000000 would make 1000000000001 classes", "at most 100000"],
        ),
    ],
)
def test_bad_tensor_files_are_refused(tmp_path, capsys, content, needles):
    torch.save(content, tmp_path / "d.pt")
    mod = module(tmp_path, "tensors", "mlp")
    refused_args(
        capsys,
        mod,
        ["--data-path", str(tmp_path / "d.pt"), "--output-dir", str(tmp_path / "run")],
        *needles,
    )


def test_pickled_objects_in_tensor_files_are_refused_unrun(tmp_path, capsys):
    torch.save({"x": Thing(), "y": torch.tensor([0, 1])}, tmp_path / "d.pt")
    np.savez(tmp_path / "d.npz", x=np.array([Thing()], dtype=object), y=np.array([0]))
    mod = module(tmp_path, "tensors", "mlp")
    for name in ("d.pt", "d.npz"):
        refused_args(
            capsys,
            mod,
            ["--data-path", str(tmp_path / name), "--output-dir", str(tmp_path / "run")],
            "refusing to load",
        )


# --- real data ------------------------------------------------------------------------


def test_digits_as_png_files_reach_97_percent(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    root = tmp_path / "digits"
    for i, (pixels, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray((pixels * 255 / 16).round().astype("uint8"), mode="L")
        image.save(folder / f"{i:04d}.png")
    path = script(tmp_path, "image-folder", "mlp")
    out = tmp_path / "run"
    run_script(
        path,
        *["--data-path", str(root), "--image-size", "8", "--no-augment"],
        *["--epochs", "20", "--lr", "0.02", "--output-dir", str(out)],
    )
    assert json.loads((out / "classes.json").read_text()) == [str(i) for i in range(10)]
    best = max(record["val_acc"] for record in read_metrics(out))
    assert best >= 0.97, read_metrics(out)


def test_breast_cancer_as_csv_with_mlp_reaches_95_percent(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    table = datasets.load_breast_cancer()
    data = tmp_path / "breast_cancer.csv"
    lines = [",".join([*table.feature_names, "diagnosis"])]
    for row, target in zip(table.data, table.target, strict=True):
        lines.append(",".join([*map(repr, row.tolist()), str(table.target_names[target])]))
    data.write_text("\n".join(lines) + "\n")
    path = script(tmp_path, "csv", "mlp")
    out = tmp_path / "run"
    run_script(path, "--data-path", str(data), "--epochs", "20", "--output-dir", str(out))
    assert json.loads((out / "classes.json").read_text()) == ["benign", "malignant"]
    best = max(record["val_acc"] for record in read_metrics(out))
    assert best >= 0.95, read_metrics(out)


def test_names_with_line_breaks_stay_on_one_line(tmp_path):
    """A file or folder name holding a newline cannot split the refusal in two; the class
    names go to classes.json as JSON strings."""
    root = image_folder(tmp_path / "images", classes=("line\nbreak", "plain"), per_class=4)
    (root / "plain" / "bad\nname.png").write_bytes(b"not an image")
    path = script(tmp_path, "image-folder")
    proc = run_script(path, "--data-path", str(root), "--image-size", "8", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: ") and "bad\\nname.png" in proc.stderr
    (root / "plain" / "bad\nname.png").unlink()
    run_script(path, "--data-path", str(root), "--image-size", "8", "--epochs", "1",
               "--output-dir", "out")  # fmt: skip
    assert json.loads((tmp_path / "out" / "classes.json").read_text()) == ["line\nbreak", "plain"]


def test_csv_without_model_gets_the_mlp(tmp_path):
    """Table rows are not images: `--data csv` alone renders the MLP (and says so in the
    header's command), and the script trains on a CSV as rendered."""
    from snippetgen.codegen.rendering import RenderRequest, render

    code = render(RenderRequest("train", data="csv"))
    assert code.splitlines()[0].endswith("snippetgen render train --data csv --model mlp")
    path = tmp_path / "train_csv.py"
    path.write_text(code)
    data = write_csv(tmp_path / "table.csv")
    run_script(path, "--data-path", str(data), "--epochs", "1", "--output-dir", "out")
    assert len(read_metrics(tmp_path / "out")) == 1
