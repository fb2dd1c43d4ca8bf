"""Every feature works with every data source and model: each feature alone, and every
compatible feature at once, on a tiny image folder with ResNet-18 and on a tiny CSV with the
MLP. Runs are in-process and capped (one batch per epoch, two epochs)."""

from __future__ import annotations

import pytest
import torch

from helpers import image_folder, load_module, read_metrics, write_csv
from snippetgen import load_catalog
from snippetgen.codegen.rendering import RenderRequest, render

CATALOG = load_catalog()
FEATURES = sorted(r.name for r in CATALOG.features() if r.name != "train")
SETUPS = {"image-folder": "resnet18", "csv": "mlp"}
CAP = ["--epochs", "2", "--max-batches", "1", "--batch-size", "8", "--device", "cpu"]


def _conflicting(a: str, b: str) -> bool:
    ra, rb = CATALOG.get(a), CATALOG.get(b)
    return any(c.recipe == b for c in ra.conflicts) or any(c.recipe == a for c in rb.conflicts)


def _usable(name: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in CATALOG.get(name).requires)


def _compatible_set() -> list[str]:
    chosen: list[str] = []
    for name in FEATURES:
        if _usable(name) and not any(_conflicting(name, c) for c in chosen):
            chosen.append(name)
    return chosen


@pytest.fixture(autouse=True)
def _restore_global_flags():
    yield
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic = False


def _data(tmp_path, data: str) -> list[str]:
    if data == "image-folder":
        return ["--data-path", str(image_folder(tmp_path / "images")), "--image-size", "8"]
    return ["--data-path", str(write_csv(tmp_path / "table.csv"))]


def _run(tmp_path, data: str, names: list[str]) -> list[dict]:
    model = SETUPS[data]
    missing = [n for n in names if not _usable(n)]
    if missing:
        pytest.skip(f"{', '.join(missing)} needs a package that is not installed")
    code = render(RenderRequest("train", with_=names, data=data, model=model), CATALOG)
    script = tmp_path / "train_matrix.py"
    script.write_text(code)
    out = tmp_path / "run"
    history = load_module(script).main([*_data(tmp_path, data), *CAP, "--output-dir", str(out)])
    rows = read_metrics(out)
    assert rows == history and [r["epoch"] for r in rows] == [1, 2]
    assert all({"train_loss", "val_loss", "val_acc", "lr"} <= r.keys() for r in rows)
    assert (out / "model.pt").is_file() and (out / "classes.json").is_file()
    return rows


@pytest.mark.parametrize("data", list(SETUPS))
@pytest.mark.parametrize("name", FEATURES)
def test_each_feature_with_each_data_source_and_model(tmp_path, data, name):
    _run(tmp_path, data, [name])


@pytest.mark.parametrize("data", list(SETUPS))
def test_every_compatible_feature_at_once_with_each_data_source(tmp_path, data):
    names = _compatible_set()
    assert len(names) >= 10
    _run(tmp_path, data, names)
