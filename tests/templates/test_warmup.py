"""warmup: the logged LR is linear warmup then cosine, its defaults fit the default epochs,
a warmup too long or a schedule that never decays is warned about, and it does not
combine with lr-schedule."""

from __future__ import annotations

import math

import pytest
from torch.optim import lr_scheduler

from helpers import load_module, read_metrics, run_script, write_script
from schedulekit import (
    FAST,
    LR,
    STEPS,
    capture_scheduler,
    dummy_optimizer,
    scheduler_warnings,
    train,
)
from snippetgen.codegen.rendering import RenderRequest, render
from snippetgen.errors import ConflictError

# --- warmup ---------------------------------------------------------------------------------


def warmup_closed_form(epoch, *, lr, factor, warmup, epochs, min_lr):
    if epoch < warmup:
        return lr * (factor + (1 - factor) * epoch / warmup)
    return (
        min_lr + (lr - min_lr) * (1 + math.cos(math.pi * (epoch - warmup) / (epochs - warmup))) / 2
    )


def test_warmup_logged_lr_is_linear_warmup_then_cosine(tmp_path):
    epochs, warmup, factor, min_lr = 8, 3, 0.2, 0.004
    params = {
        "epochs": epochs,
        "warmup-epochs": warmup,
        "warmup-start-factor": factor,
        "min-lr": min_lr,
    }
    mod = load_module(write_script(tmp_path, "warmup", params))
    built = capture_scheduler(mod)
    history, caught = train(mod, tmp_path / "run")
    logged = [row["lr"] for row in history]

    expected = [
        warmup_closed_form(e, lr=LR, factor=factor, warmup=warmup, epochs=epochs, min_lr=min_lr)
        for e in range(epochs)
    ]
    assert logged == pytest.approx(expected, rel=1e-12)

    # torch's own sequence: the same schedulers on a dummy optimizer, stepped once per epoch
    optimizer = dummy_optimizer()
    reference = lr_scheduler.SequentialLR(
        optimizer,
        [
            lr_scheduler.LinearLR(
                optimizer, start_factor=factor, end_factor=1.0, total_iters=warmup
            ),
            lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs - warmup, eta_min=min_lr),
        ],
        milestones=[warmup],
    )
    sequence = []
    for _ in range(epochs):
        sequence.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        reference.step()
    assert logged == sequence

    # the seed's traps: epoch 0 trains at a real LR, and the LR never exceeds the base LR
    assert logged[0] == pytest.approx(LR * factor) and logged[0] > 0
    assert logged[warmup] == pytest.approx(LR) and max(logged) <= LR * (1 + 1e-12)
    assert all(a > b for a, b in zip(logged[warmup:-1], logged[warmup + 1 :], strict=True))
    assert logged[-1] > min_lr
    # stepped once per epoch, after the optimizer: no "step() before optimizer.step()" warning
    assert scheduler_warnings(caught) == []
    scheduler, steps_per_epoch = built[0]
    assert isinstance(scheduler, lr_scheduler.SequentialLR) and scheduler.last_epoch == epochs
    assert steps_per_epoch == STEPS


def test_warmup_defaults_fit_the_default_epochs_and_a_too_long_warmup_warns(tmp_path, capsys):
    mod = load_module(write_script(tmp_path, "warmup"))
    args = mod.parse_args([])
    assert (args.epochs, args.warmup_epochs, args.warmup_start_factor, args.min_lr) == (
        5,
        2,
        0.1,
        0.0,
    )
    assert capsys.readouterr().err == ""
    # a quick trial shorter than the warmup runs (the first epochs of the ramp), with a warning
    args = mod.parse_args(["--epochs", "2", "--warmup-epochs", "4"])
    assert "the learning rate never decays" in capsys.readouterr().err
    optimizer = dummy_optimizer()
    scheduler = mod.build_scheduler(optimizer, args, STEPS)
    lrs = []
    for _ in range(args.epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([LR * 0.1, LR * (0.1 + 0.9 / 4)])
    # out-of-range values are refused by the script's own checks
    for bad in (
        ["--warmup-start-factor", "0"],
        ["--warmup-start-factor", "1.5"],
        ["--warmup-epochs", "0"],
        ["--min-lr", "-1"],
    ):
        with pytest.raises(SystemExit) as info:
            mod.parse_args(bad)
        assert info.value.code == 2


@pytest.mark.parametrize(("epochs", "warned"), [(2, True), (3, True), (4, False)])
def test_no_decay_is_warned_when_the_last_epoch_is_the_first_of_the_cosine(
    tmp_path, cli, epochs, warned
):
    """With --warmup-epochs 2, epoch 3 is the cosine's first and trains at the full lr: a run
    of at most 3 epochs never trains at a decayed lr, and says so (the script and render)."""
    warning = f"warning: --epochs {epochs} with --warmup-epochs 2: the learning rate never decays"
    if epochs > 2:  # the boundary, run for real (a shorter run is checked above)
        script = write_script(tmp_path, "warmup")
        out = tmp_path / f"run{epochs}"
        proc = run_script(
            script,
            "--epochs",
            str(epochs),
            "--warmup-epochs",
            "2",
            "--train-size",
            "32",
            "--val-size",
            "16",
            "--batch-size",
            "16",
            "--image-size",
            "8",
            "--output-dir",
            str(out),
        )
        logged = [r["lr"] for r in read_metrics(out)]
        decayed = any(lr < LR * (1 - 1e-9) for lr in logged[2:])  # after the warmup's 2 epochs
        assert decayed is not warned
        assert (warning in proc.stderr) is warned
    target = tmp_path / f"t{epochs}.py"
    code, _, err = cli(
        "render",
        "train",
        "--with",
        "warmup",
        "--epochs",
        str(epochs),
        "--warmup-epochs",
        "2",
        "-o",
        str(target),
    )
    assert code == 0 and err.splitlines()[0] == f"wrote {target}"
    assert (warning in err) is warned and len(err.splitlines()) == 1 + warned
    code, out, err = cli("show", "warmup", "--epochs", str(epochs))
    assert code == 0 and err == ""
    assert (f"warning: --epochs {epochs} with --warmup-epochs 2" in out) is warned


def test_warmup_and_lr_schedule_are_declared_conflicting():
    with pytest.raises(ConflictError) as info:
        render(RenderRequest("warmup", with_=["lr-schedule"]))
    assert "scheduler" in str(info.value)


def test_warmup_script_runs_as_a_program(tmp_path):
    script = write_script(tmp_path, "warmup", {"epochs": 3, "warmup-epochs": 1})
    proc = run_script(script, "--output-dir", "out", *FAST)
    assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr
    lrs = [row["lr"] for row in read_metrics(tmp_path / "out")]
    assert lrs == pytest.approx([LR * 0.1, LR, LR / 2])  # 1 warmup epoch, then cosine over 2
