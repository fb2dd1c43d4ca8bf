"""Any set of compatible features renders into one script that runs.

Driven by the catalog: every feature alone, every pair, and every compatible feature at once.
Runs are capped (one batch per epoch, tiny data) so the matrix stays fast.
"""

from __future__ import annotations

import importlib.util
import itertools

import pytest
import torch

from helpers import load_module, read_metrics, write_script
from snippetgen import load_catalog
from snippetgen.codegen.rendering import RenderRequest, render
from snippetgen.errors import ConflictError

CATALOG = load_catalog()
FEATURES = sorted(r.name for r in CATALOG.features() if r.name != "train")
CAP = ["--max-batches", "1", "--train-size", "32", "--val-size", "16", "--batch-size", "8"]


def _conflicting(a: str, b: str) -> bool:
    ra, rb = CATALOG.get(a), CATALOG.get(b)
    return any(c.recipe == b for c in ra.conflicts) or any(c.recipe == a for c in rb.conflicts)


def _missing_requirements(names) -> list[str]:
    missing = []
    for name in names:
        for module in CATALOG.get(name).requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except Exception:
                found = False
            if not found:
                missing.append(module)
    return missing


@pytest.fixture(autouse=True)
def _restore_global_flags():
    yield
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic = False


def _run(tmp_path, names):
    missing = _missing_requirements(names)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    script = write_script(tmp_path, "train", {}, with_=tuple(names))
    out = tmp_path / "run"
    history = load_module(script).main(["--output-dir", str(out), *CAP])
    rows = read_metrics(out)
    assert rows == history and rows, "one metrics line per epoch"
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    assert (out / "model.pt").exists()
    return rows


@pytest.mark.parametrize("name", FEATURES)
def test_feature_renders_alone_and_inside_train(tmp_path, name):
    alone = render(RenderRequest(name))
    combined = render(RenderRequest("train", with_=[name]))
    # the two differ only in the header's command line
    assert alone.splitlines()[1:] == combined.splitlines()[1:]
    _run(tmp_path, [name])


PAIRS = list(itertools.combinations(FEATURES, 2))


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_every_pair(tmp_path, a, b):
    if _conflicting(a, b):
        with pytest.raises(ConflictError) as info:
            render(RenderRequest("train", with_=[a, b]))
        message = str(info.value)
        assert a in message and b in message and "cannot be combined" in message
        return
    _run(tmp_path, [a, b])


def _compatible_set() -> list[str]:
    chosen: list[str] = []
    for name in FEATURES:
        if not _missing_requirements([name]) and not any(_conflicting(name, c) for c in chosen):
            chosen.append(name)
    return chosen


def test_every_compatible_feature_at_once(tmp_path):
    names = _compatible_set()
    assert len(names) >= 2
    rows = _run(tmp_path, names)
    assert all("val_acc" in r for r in rows)


def test_with_order_does_not_matter():
    names = _compatible_set()[:4]
    forward = render(RenderRequest("train", with_=names))
    backward = render(RenderRequest("train", with_=list(reversed(names))))
    assert forward.splitlines()[1:] == backward.splitlines()[1:]


def test_snippet_cannot_be_combined(cli):
    snippets = [r.name for r in CATALOG if r.kind == "snippet"]
    if not snippets:
        pytest.skip("no snippet recipes yet")
    code, out, err = cli("render", "train", "--with", snippets[0])
    assert code == 2 and out == "" and "standalone snippet" in err
