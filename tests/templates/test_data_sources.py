"""Data sources chosen when rendering (--data image-folder|csv|tensors) and the mlp model.

Every source on tiny real files (images written with Pillow, CSV text, .pt and .npz files):
what it loads, classes.json and preprocessing.json, the seeded stratified split, bad data
refused with one sentence (exit 2, also from DataLoader workers), resume with checkpoint.
This file holds the synthetic source and image folders; test_data_csv.py and
test_data_tensors.py (with the two real-data runs: scikit-learn's digits as PNG files and
breast-cancer as a CSV) the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import (
    image_folder,
    load_module,
    read_metrics,
    refused_args,
    refused_run,
    run_main,
    run_script,
    save_image,
    source_module,
    source_script,
)


def test_synthetic_data_keeps_its_flags_and_the_mlp_head_is_fc(tmp_path):
    mod = source_module(tmp_path, "synthetic", "mlp")
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
    path = source_script(tmp_path, "image-folder")
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
    mod = source_module(tmp_path, "image-folder")
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
    mod = source_module(tmp_path, "image-folder")
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
    path = source_script(tmp_path, "image-folder")
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
    path = source_script(tmp_path, "image-folder", with_=("checkpoint",))
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
    path = source_script(tmp_path, "image-folder")
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
