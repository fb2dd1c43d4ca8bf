"""lr-schedule: the LR each epoch trains at is the schedule's, stepped where it must be.

Every check runs the generated script on tiny data and compares the learning rates it logs
(metrics.jsonl `lr`: the LR in effect during each epoch) with a closed-form formula and with
the torch scheduler's own sequence, built here on a dummy optimizer and stepped the same way.
warmup is in test_warmup.py.
"""

from __future__ import annotations

import math

import pytest
from torch.optim import lr_scheduler

from helpers import load_module, write_script
from schedulekit import STEPS, capture_scheduler, dummy_optimizer, scheduler_warnings, train
from snippetgen import load_catalog

# --- lr-schedule ----------------------------------------------------------------------------

EPOCHS = 6
# per kind: the script's options, and the same scheduler built with torch directly
KINDS = {
    "step": (
        ["--step-size", "2", "--gamma", "0.5"],
        lambda opt, spe: lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    ),
    "multistep": (
        ["--milestones", "2,5", "--gamma", "0.5"],
        lambda opt, spe: lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.5),
    ),
    "exponential": (
        ["--exp-gamma", "0.8"],
        lambda opt, spe: lr_scheduler.ExponentialLR(opt, gamma=0.8),
    ),
    "cosine": (
        ["--min-lr", "0.001"],
        lambda opt, spe: lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS, eta_min=0.001),
    ),
    "cosine-restarts": (
        ["--t0", "2", "--t-mult", "2", "--min-lr", "0.001"],
        lambda opt, spe: lr_scheduler.CosineAnnealingWarmRestarts(
            opt, T_0=2, T_mult=2, eta_min=0.001
        ),
    ),
    "onecycle": (
        ["--max-lr", "0.2"],
        lambda opt, spe: lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=EPOCHS * spe),
    ),
    "cyclic": (
        ["--base-lr", "0.01", "--max-lr", "0.1", "--cycle-epochs", "1"],
        lambda opt, spe: lr_scheduler.CyclicLR(
            opt, base_lr=0.01, max_lr=0.1, step_size_up=spe, cycle_momentum=False
        ),
    ),
    "plateau": (
        # a tiny LR: val_loss barely moves, so the plateau rule fires during the run
        ["--lr", "1e-6", "--plateau-patience", "0", "--plateau-factor", "0.5"],
        lambda opt, spe: lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=0),
    ),
    "chained": (
        ["--exp-gamma", "0.9", "--step-size", "2", "--gamma", "0.5"],
        lambda opt, spe: lr_scheduler.ChainedScheduler(
            [
                lr_scheduler.ExponentialLR(opt, gamma=0.9),
                lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
            ]
        ),
    ),
}
PER_STEP = {"onecycle", "cyclic"}


def closed_form(kind: str, epoch: int, lr: float) -> float | None:
    """The LR of epoch `epoch` (0-based) for the KINDS options; None where torch is the reference."""
    if kind == "step":
        return lr * 0.5 ** (epoch // 2)
    if kind == "multistep":
        return lr * 0.5 ** sum(epoch >= m for m in (2, 5))
    if kind == "exponential":
        return lr * 0.8**epoch
    if kind == "cosine":
        return 0.001 + (lr - 0.001) * (1 + math.cos(math.pi * epoch / EPOCHS)) / 2
    if kind == "cosine-restarts":  # cycles of 2, 4, 8 epochs
        start, length = 0, 2
        while epoch >= start + length:
            start, length = start + length, length * 2
        return 0.001 + (lr - 0.001) * (1 + math.cos(math.pi * (epoch - start) / length)) / 2
    if kind == "cyclic":  # triangle: one epoch (STEPS optimizer steps) up, one down
        position = (epoch * STEPS) % (2 * STEPS) / STEPS
        return 0.01 + (0.1 - 0.01) * (1 - abs(position - 1))
    if kind == "chained":
        return lr * 0.9**epoch * 0.5 ** (epoch // 2)
    return None


@pytest.fixture(scope="module")
def lr_script(tmp_path_factory):
    """One rendered lr-schedule script: --kind is its own option, so it runs every kind."""
    folder = tmp_path_factory.mktemp("lr-schedule")
    with pytest.MonkeyPatch.context() as patch:  # renders never touch the user's cache
        patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        return write_script(folder, "lr-schedule", {"epochs": EPOCHS})


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_logs_the_torch_schedulers_own_sequence(tmp_path, lr_script, kind):
    options, build = KINDS[kind]
    mod = load_module(lr_script)
    built = capture_scheduler(mod)
    history, caught = train(mod, tmp_path / "run", "--kind", kind, *options)
    logged = [row["lr"] for row in history]
    args = mod.parse_args(["--kind", kind, *options])
    scheduler, steps_per_epoch = built[0]
    assert steps_per_epoch == STEPS

    # torch's own sequence: stepped per optimizer step, per epoch, or with the val_loss
    optimizer = dummy_optimizer(args.lr)
    reference = build(optimizer, steps_per_epoch)
    assert type(scheduler) is type(reference)
    sequence = []
    for epoch in range(EPOCHS):
        sequence.append(optimizer.param_groups[0]["lr"])
        for _ in range(steps_per_epoch):
            optimizer.step()
            if kind in PER_STEP:
                reference.step()
        if kind == "plateau":
            reference.step(history[epoch]["val_loss"])
        elif kind not in PER_STEP:
            reference.step()
    assert logged == sequence

    expected = [closed_form(kind, e, args.lr) for e in range(EPOCHS)]
    if expected[0] is not None:
        assert logged == pytest.approx(expected, rel=1e-9)
    assert len(set(logged)) > 1, "the schedule changed the LR during the run"
    # how often the script stepped it: per optimizer step or once per epoch, never both
    if kind in PER_STEP:
        assert scheduler.last_epoch == EPOCHS * STEPS
    elif kind == "chained":  # each chained scheduler stepped once per epoch
        assert [s.last_epoch for s in scheduler._schedulers] == [EPOCHS, EPOCHS]
    elif kind != "plateau":
        assert scheduler.last_epoch == EPOCHS
    assert scheduler_warnings(caught) == []


def test_multistep_50_70_decays_at_epoch_50_not_51(tmp_path, lr_script):
    mod = load_module(lr_script)
    args = mod.parse_args(
        ["--kind", "multistep", "--milestones", "50,70", "--lr", "0.1", "--epochs", "80"]
    )
    optimizer = dummy_optimizer(args.lr)
    scheduler = mod.build_scheduler(optimizer, args, 1)
    lrs = []
    for _ in range(80):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == lrs[49] == 0.1
    assert lrs[50] == pytest.approx(0.01) and lrs[69] == pytest.approx(0.01)
    assert lrs[70] == pytest.approx(0.001) and lrs[79] == pytest.approx(0.001)
    # StepLR(step_size=30): the first decay is epoch 30, not the seed's late epoch 31
    args = mod.parse_args(["--kind", "step", "--step-size", "30", "--lr", "0.1"])
    optimizer = dummy_optimizer(args.lr)
    scheduler = mod.build_scheduler(optimizer, args, 1)
    lrs = []
    for _ in range(31):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[29] == 0.1 and lrs[30] == pytest.approx(0.01)


def test_lr_schedule_options_and_checks(tmp_path, lr_script, capsys):
    mod = load_module(lr_script)
    args = mod.parse_args([])
    assert args.kind == "cosine" and args.milestones == [30, 60] and args.epochs == EPOCHS
    with pytest.raises(SystemExit):
        mod.parse_args(["--help"])
    help_text = capsys.readouterr().out
    for option in (
        "--kind",
        "--plateau-patience",
        "--plateau-factor",
        "--max-lr",
        "--base-lr",
        "--t0",
        "--t-mult",
        "--milestones",
    ):
        assert option in help_text
    assert "--patience " not in help_text  # early-stopping's name stays free
    for bad in (
        ["--kind", "linear"],
        ["--gamma", "1"],
        ["--milestones", "30,x"],
        ["--kind", "cyclic", "--base-lr", "0.2", "--max-lr", "0.1"],
        ["--t-mult", "0"],
    ):
        with pytest.raises(SystemExit) as info:
            mod.parse_args(bad)
        assert info.value.code == 2
    assert "--base-lr (0.2) must be less than --max-lr (0.1)" in capsys.readouterr().err


def test_onecycle_counts_optimizer_steps_under_grad_accumulation(tmp_path):
    if "grad-accumulation" not in load_catalog().recipes:
        pytest.skip("the grad-accumulation recipe is not in this catalog")
    script = write_script(
        tmp_path, "lr-schedule", {"epochs": 3, "kind": "onecycle"}, with_=("grad-accumulation",)
    )
    mod = load_module(script)
    built = capture_scheduler(mod)
    history, caught = train(mod, tmp_path / "run", "--accum-steps", "2")
    scheduler, steps_per_epoch = built[0]
    assert steps_per_epoch == 2  # 3 micro-batches per epoch in groups of 2: 2 optimizer steps
    assert scheduler.last_epoch == scheduler.total_steps == 3 * 2
    optimizer = dummy_optimizer()
    reference = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=6)
    sequence = []
    for _ in range(3):
        sequence.append(optimizer.param_groups[0]["lr"])
        for _ in range(2):
            optimizer.step()
            reference.step()
    assert [row["lr"] for row in history] == sequence
    assert scheduler_warnings(caught) == []


@pytest.mark.parametrize(
    ("kind", "options"),
    [("onecycle", ["--max-lr", "0.2"]), ("cyclic", ["--base-lr", "0.01", "--max-lr", "0.1"])],
)
def test_per_step_kinds_keep_finetunes_per_group_lrs_in_proportion(tmp_path, kind, options):
    """--max-lr (and --base-lr) are the head's; the backbone keeps its ratio to it."""
    script = write_script(
        tmp_path,
        "train",
        {"mode": "differential", "backbone-lr": 0.002, "head-lr": 0.02},
        with_=("finetune", "lr-schedule"),
    )
    mod = load_module(script)
    per_step = []
    build_optimizer = mod.build_optimizer

    def recording_optimizer(model, args):
        optimizer = build_optimizer(model, args)
        optimizer.register_step_pre_hook(
            lambda opt, *_: per_step.append([group["lr"] for group in opt.param_groups])
        )
        return optimizer

    mod.build_optimizer = recording_optimizer
    mod.main(
        [
            "--output-dir",
            str(tmp_path / "run"),
            "--kind",
            kind,
            *options,
            "--epochs",
            "2",
            "--train-size",
            "48",
            "--val-size",
            "16",
            "--batch-size",
            "16",
        ]
    )
    assert len(per_step) == 6 and len({head for _, head in per_step}) > 1  # the LR moves
    for backbone, head in per_step:
        assert backbone == pytest.approx(head / 10, rel=1e-12)
    heads = [head for _, head in per_step]
    peak = 0.2 if kind == "onecycle" else 0.1
    assert max(heads) <= peak * (1 + 1e-12)
