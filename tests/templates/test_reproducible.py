"""reproducible: every generator seeded, deterministic kernels, seeded DataLoader workers."""

from __future__ import annotations

import random

import torch
from torch.utils.data import Dataset

from helpers import load_module, write_script

FAST = ["--train-size", "96", "--val-size", "32", "--epochs", "2"]


class NoisyDataset(Dataset):
    """Adds noise from Python's random, numpy and torch in __getitem__ (i.e. inside workers)."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, index):
        import numpy

        image, label = self.base[index]
        jitter = random.random() + float(numpy.random.rand()) + torch.rand(()).item()
        return image + 0.1 * jitter, label


def _patched(tmp_path):
    mod = load_module(write_script(tmp_path, "reproducible", {}))
    original = mod.build_datasets
    mod.build_datasets = lambda args: tuple(NoisyDataset(d) for d in original(args))
    return mod


def test_two_runs_with_workers_are_identical(tmp_path):
    mod = _patched(tmp_path)
    try:
        a = mod.main(["--output-dir", str(tmp_path / "a"), "--num-workers", "2", *FAST])
        b = mod.main(["--output-dir", str(tmp_path / "b"), "--num-workers", "2", *FAST])
        c = mod.main(
            ["--output-dir", str(tmp_path / "c"), "--num-workers", "2", "--seed", "5", *FAST]
        )
    finally:
        torch.use_deterministic_algorithms(False)
    assert a == b
    assert a != c
    assert torch.equal(
        torch.load(tmp_path / "a" / "model.pt", weights_only=True)["fc.weight"],
        torch.load(tmp_path / "b" / "model.pt", weights_only=True)["fc.weight"],
    )


def test_seed_everything_sets_every_generator_and_flag(tmp_path):
    import numpy

    mod = load_module(write_script(tmp_path, "reproducible", {}))
    try:
        mod.seed_everything(123)
        first = (random.random(), float(numpy.random.rand()), torch.rand(()).item())
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        mod.seed_everything(123)
        second = (random.random(), float(numpy.random.rand()), torch.rand(()).item())
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
    assert first == second


def test_loader_uses_worker_init_fn(tmp_path):
    mod = load_module(write_script(tmp_path, "reproducible", {}))
    args = mod.parse_args(["--num-workers", "2"])
    loader = mod.make_loader(
        mod.build_datasets(args)[0],
        args,
        torch.device("cpu"),
        shuffle=True,
        generator=torch.Generator(),
    )
    assert loader.worker_init_fn is mod.seed_worker
