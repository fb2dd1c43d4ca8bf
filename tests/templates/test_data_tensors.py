"""`--data tensors` (.pt and .npz: tensors only, never a pickled object run); then real data
that ships inside a package (scikit-learn's digits as PNG files, breast cancer as a CSV),
class names with line breaks, and the MLP that `--data csv` gets by default."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import (
    image_folder,
    read_metrics,
    refused_args,
    run_main,
    run_script,
    source_module,
    source_script,
    write_csv,
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
    mod = source_module(tmp_path, "tensors", "mlp")
    train, val = mod.build_datasets(mod.parse_args(["--data-path", str(tmp_path / "d.pt")]))
    assert train.classes == ["0", "1", "2", "3"] and train.input_shape == (5,)
    assert (len(train), len(val)) == (32, 8)
    out = tmp_path / "run"
    cnn = source_module(tmp_path, "tensors")
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
    mod = source_module(tmp_path, "tensors", "mlp")
    refused_args(
        capsys,
        mod,
        ["--data-path", str(tmp_path / "d.pt"), "--output-dir", str(tmp_path / "run")],
        *needles,
    )


def test_pickled_objects_in_tensor_files_are_refused_unrun(tmp_path, capsys):
    torch.save({"x": Thing(), "y": torch.tensor([0, 1])}, tmp_path / "d.pt")
    np.savez(tmp_path / "d.npz", x=np.array([Thing()], dtype=object), y=np.array([0]))
    mod = source_module(tmp_path, "tensors", "mlp")
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
    path = source_script(tmp_path, "image-folder", "mlp")
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
    path = source_script(tmp_path, "csv", "mlp")
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
    path = source_script(tmp_path, "image-folder")
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
