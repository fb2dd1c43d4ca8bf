"""The schedule recipes' scripts run in process: a short run that records its warnings, the
scheduler a script builds, and the warnings that mean a scheduler was misused."""

from __future__ import annotations

import warnings

import torch

from helpers import read_metrics

# 64 samples in batches of 16, capped at 3 batches: 3 optimizer steps per epoch
FAST = ["--train-size", "64", "--val-size", "32", "--batch-size", "16", "--max-batches", "3"]


STEPS = 3


LR = 0.05


def dummy_optimizer(lr: float = LR) -> torch.optim.Optimizer:
    """An optimizer over one parameter: schedulers only look at its param_groups."""
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=0.9)


def train(mod, out, *extra: str) -> tuple[list[dict], list[warnings.WarningMessage]]:
    """Run main() in-process; returns the metrics and every warning raised meanwhile."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = mod.main(["--output-dir", str(out), *FAST, *extra])
    assert read_metrics(out) == history
    return history, list(caught)


def scheduler_warnings(caught) -> list[str]:
    """Messages about scheduler misuse (e.g. step() before optimizer.step(), deprecations)."""
    return [
        str(w.message)
        for w in caught
        if "lr_scheduler" in w.filename or "scheduler" in str(w.message)
    ]


def capture_scheduler(mod) -> list:
    """Wrap the generated build_scheduler to keep the scheduler it builds."""
    built = []
    original = mod.build_scheduler

    def build_scheduler(optimizer, args, steps_per_epoch=1):
        scheduler = original(optimizer, args, steps_per_epoch)
        built.append((scheduler, steps_per_epoch))
        return scheduler

    mod.build_scheduler = build_scheduler
    return built
