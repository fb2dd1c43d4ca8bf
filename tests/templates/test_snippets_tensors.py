"""The tensor snippets do what their cheat sheets say: tensor-basics, tensor-ops, one-hot,
pairwise-distance and numpy-interop, each rendered, run and checked against torch itself."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from helpers import (
    assert_one_sentence_exit,
    import_or_skip,
    load,
    render_code,
    write_script,
)
from inspect_code import called_names, code_only, keyword_names

# --- tensor-basics -------------------------------------------------------------------------


def test_tensor_basics_shapes_and_dtypes_as_printed(tmp_path, capsys):
    batch, size = 3, 7
    mod = load(tmp_path, "tensor-basics", {"batch-size": batch, "image-size": size})
    shapes = mod.main()
    printed = capsys.readouterr().out.splitlines()
    for name, (shape, dtype) in shapes.items():
        line = next(line for line in printed if line.startswith(name + " "))
        assert f"shape {shape}" in line and str(dtype) in line, line
    expected = {
        "torch.tensor(floats)": ((3, 2), torch.float32),
        "torch.tensor(ints)": ((4,), torch.int64),
        "torch.empty(1, 2, 3)": ((1, 2, 3), torch.float32),
        "points.double()": ((3, 2), torch.float64),
        "points.to(torch.int16)": ((3, 2), torch.int16),
        "points.to(device, dtype)": ((3, 2), torch.float16),
        "a[0]": ((3, size, size), torch.float32),
        "a[0, 0]": ((size, size), torch.float32),
        "a[:2]": ((2, 3, size, size), torch.float32),
        "a[:2, 1:]": ((2, 2, size, size), torch.float32),
        "a[:2, -1:]": ((2, 1, size, size), torch.float32),
        "a[:, 0]": ((batch, size, size), torch.float32),
        "a[:, :, ::2, ::2]": ((batch, 3, 4, 4), torch.float32),
    }
    for name, value in expected.items():
        assert shapes[name] == value, name
    # slices are views of the batch; conversions are new tensors
    images = torch.rand(2, 3, 4, 4)
    for name, view in mod.slicing(images).items():
        assert view.untyped_storage().data_ptr() == images.untyped_storage().data_ptr(), name
    points = torch.ones(2, 2)
    assert all(t is not points for t in mod.conversion(points, torch.device("cpu")).values())


# --- tensor-ops ----------------------------------------------------------------------------


def test_tensor_ops_memory_sharing_and_shapes(tmp_path, capsys):
    mod = load(tmp_path, "tensor-ops", {"num-tensors": 5, "batch-size": 3})
    mod.main()
    out = capsys.readouterr().out
    assert "cat of 5 x (2, 5): (10, 5)" in out and "stack of 5 x (2, 5): (5, 2, 5)" in out
    assert "bmm: (3, 3, 5)" in out
    x = torch.arange(12.0).reshape(3, 4)
    assert mod.same_memory(x, x[1:]) and mod.same_memory(x, x.t())
    assert mod.same_memory(x, x.view(-1))
    assert not mod.same_memory(x, x.clone())
    assert not mod.same_memory(x, x.t().contiguous())
    assert not mod.same_memory(x, x.t().reshape(-1))  # reshape had to copy
    code = render_code("tensor-ops")
    calls = called_names(code)
    assert "detach.clone()()" not in code_only(code) and "detach().clone()" in code
    assert "storage" not in calls and "set_default_tensor_type" not in calls
    assert "untyped_storage" in calls and "names" not in keyword_names(code)
    with pytest.raises((TypeError, RuntimeError)):  # named tensors are gone in this torch
        torch.randn(2, 3, names=("N", "C"))


# --- one-hot -------------------------------------------------------------------------------


def test_one_hot_equals_functional_one_hot(tmp_path):
    mod = load(tmp_path, "one-hot", {"num-classes": 7})
    labels, targets = mod.main()
    assert torch.equal(targets, F.one_hot(labels, 7).float())
    generator = torch.Generator().manual_seed(1)
    for num_classes in (2, 3, 10, 100):
        for shape in ((1,), (17,), (4, 5), (2, 3, 4)):
            labels = torch.randint(0, num_classes, shape, generator=generator)
            encoded = mod.one_hot(labels, num_classes)
            assert encoded.dtype == torch.long
            assert torch.equal(encoded, F.one_hot(labels, num_classes)), (num_classes, shape)
    empty = torch.zeros(0, dtype=torch.long)
    assert torch.equal(mod.one_hot(empty, 4), F.one_hot(empty, 4))
    with pytest.raises(ValueError):
        mod.one_hot(torch.tensor([0, 4]), 4)
    with pytest.raises(ValueError):
        mod.one_hot(torch.tensor([-1, 2]), 4)
    with pytest.raises(TypeError):
        mod.one_hot(torch.tensor([0.0, 1.0]), 4)


# --- pairwise-distance ---------------------------------------------------------------------


def test_pairwise_distance_equals_cdist(tmp_path):
    mod = load(tmp_path, "pairwise-distance", {"p-norm": 3.0})
    assert torch.allclose(mod.main(), torch.cdist(*_points(5, 4, 3), p=3.0), atol=1e-6)
    generator = torch.Generator().manual_seed(2)
    for p in (1.0, 1.5, 2.0, 3.0, 10.0):
        for n, m, d in ((5, 4, 3), (1, 1, 1), (40, 30, 16)):  # 40 rows: cdist's mm path for p=2
            x1 = torch.randn(n, d, generator=generator)
            x2 = torch.randn(m, d, generator=generator)
            ours = mod.pairwise_distance(x1, x2, p)
            assert ours.shape == (n, m)
            assert torch.allclose(ours, torch.cdist(x1, x2, p=p), rtol=1e-4, atol=1e-4), (p, n)
        batch_a = torch.randn(3, 6, 4, generator=generator)
        batch_b = torch.randn(3, 2, 4, generator=generator)
        assert torch.allclose(
            mod.pairwise_distance(batch_a, batch_b, p),
            torch.cdist(batch_a, batch_b, p=p),
            rtol=1e-5,
            atol=1e-5,
        )


def _points(n, m, d):
    generator = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=generator), torch.randn(m, d, generator=generator)


def test_pairwise_distance_gradient_is_finite_where_sqrt_is_not(tmp_path):
    mod = load(tmp_path, "pairwise-distance")
    points = torch.randn(4, 3).requires_grad_()
    mod.pairwise_distance(points, points).sum().backward()
    assert torch.isfinite(points.grad).all()
    naive = torch.randn(4, 3).requires_grad_()  # the notes' sqrt form: NaN at zero distance
    torch.sqrt(((naive[:, None, :] - naive) ** 2).sum(dim=2)).sum().backward()
    assert torch.isnan(naive.grad).any()


# --- numpy-interop -------------------------------------------------------------------------


def test_numpy_interop_shares_and_copies_as_stated(tmp_path, capsys):
    np = import_or_skip("numpy")
    mod = load(tmp_path, "numpy-interop", {"dtype": "float64", "length": 5})
    shared, copied = mod.main()
    assert shared.dtype == copied.dtype == torch.float64
    assert "from_numpy raises ValueError" in capsys.readouterr().out
    array = np.arange(6, dtype=np.float32)
    tensor = mod.array_to_tensor(array)
    array[2] = -5  # a shared tensor sees writes to the array
    assert tensor[2].item() == -5 and mod.shares_memory(tensor, array)
    assert not mod.shares_memory(torch.tensor(array), array)
    flipped = array[::-1]
    with pytest.raises(ValueError):
        torch.from_numpy(flipped)
    copy = mod.array_to_tensor(flipped)
    assert copy.tolist() == flipped.tolist() and not mod.shares_memory(copy, array)
    weights = torch.ones(2, requires_grad=True)
    assert mod.tensor_to_array(weights * 3).tolist() == [3.0, 3.0]


def test_numpy_interop_without_numpy_exits_with_one_sentence(tmp_path):
    script = write_script(tmp_path, "numpy-interop")
    assert "# Requires: numpy" in script.read_text()
    runner = (
        "import runpy, sys, torch; sys.modules['numpy'] = None; "
        f"runpy.run_path({str(script)!r}, run_name='__main__')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert_one_sentence_exit(proc, "needs numpy", "pip install numpy")
