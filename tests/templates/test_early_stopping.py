"""early-stopping: stop after --patience epochs without improvement and keep the best weights."""

from __future__ import annotations

import pytest
import torch

from helpers import load_module, read_metrics, state_equal, write_script

FAST = ["--train-size", "64", "--val-size", "32", "--batch-size", "16"]  # 4 batches per epoch


def scripted(tmp_path, values, metric="val_loss", **params):
    """The generated script with evaluate() reporting `values` (one per epoch) for `metric`.

    The real evaluation still runs (same random draws as an unpatched run); a snapshot of
    the weights it evaluated is kept per epoch.
    """
    params = {name.replace("_", "-"): value for name, value in params.items()}
    mod = load_module(write_script(tmp_path, "early-stopping", params))
    evaluate = mod.evaluate
    snapshots = []

    def scripted_evaluate(model, loader, criterion, device):
        result = evaluate(model, loader, criterion, device)
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        result[metric] = values[len(snapshots) - 1]
        return result

    mod.evaluate = scripted_evaluate
    return mod, snapshots


def train(mod, out, epochs, *extra):
    return mod.main(["--output-dir", str(out), "--epochs", str(epochs), *FAST, *extra])


def test_stops_after_patience_bad_epochs_and_keeps_the_best_weights(tmp_path):
    # best at epoch 2, then 3 epochs without a lower val_loss: stop after epoch 5 of 10
    values = [1.0, 0.8, 0.9, 0.85, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1]
    mod, snapshots = scripted(tmp_path, values, patience=3)
    out = tmp_path / "run"
    history = train(mod, out, 10)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert read_metrics(out) == history
    assert [row["best_epoch"] for row in history] == [1, 2, 2, 2, 2]
    assert len(snapshots) == 5  # epoch 6 never trained
    saved = torch.load(out / "model.pt", weights_only=True)
    assert state_equal(saved, snapshots[1]), "model.pt holds the weights of epoch 2"
    assert not state_equal(saved, snapshots[4]), "not the weights training ended with"


def test_best_weights_are_restored_even_without_stopping(tmp_path):
    mod, snapshots = scripted(tmp_path, [1.0, 0.5, 0.7, 0.6], patience=5)
    history = train(mod, tmp_path / "run", 4)
    assert len(history) == 4 and history[-1]["best_epoch"] == 2
    assert state_equal(torch.load(tmp_path / "run" / "model.pt", weights_only=True), snapshots[1])


@pytest.mark.parametrize(
    ("min_delta", "epochs_run", "best_epoch"),
    [(0.1, 3, 1), (0.0, 6, 6)],  # falls of 0.05, 0.03, ... only count without a min_delta
)
def test_min_delta(tmp_path, min_delta, epochs_run, best_epoch):
    values = [1.0, 0.95, 0.92, 0.91, 0.9, 0.89]
    mod, snapshots = scripted(tmp_path, values, patience=2, min_delta=min_delta)
    history = train(mod, tmp_path / "run", 6)
    assert len(history) == epochs_run and history[-1]["best_epoch"] == best_epoch
    assert state_equal(
        torch.load(tmp_path / "run" / "model.pt", weights_only=True), snapshots[best_epoch - 1]
    )


def test_val_acc_must_rise(tmp_path):
    # 0.6 again is no improvement: epochs 3, 4, 5 are bad, stop after 5 and keep epoch 2
    mod, snapshots = scripted(
        tmp_path, [0.5, 0.6, 0.6, 0.55, 0.6, 0.9], "val_acc", patience=3, monitor="val_acc"
    )
    history = train(mod, tmp_path / "run", 6)
    assert len(history) == 5 and history[-1]["best_epoch"] == 2
    assert state_equal(torch.load(tmp_path / "run" / "model.pt", weights_only=True), snapshots[1])


def test_parameter_ranges(cli, tmp_path, capsys):
    for option, value in (
        ("--patience", "0"),
        ("--min-delta", "-0.1"),
        ("--monitor", "train_loss"),
    ):
        code, out, err = cli("render", "early-stopping", option, value)
        assert code == 2 and out == "" and option in err
    mod = load_module(write_script(tmp_path, "early-stopping", {}))
    args = mod.parse_args([])
    assert (args.patience, args.min_delta, args.monitor) == (3, 0.0, "val_loss")
    with pytest.raises(SystemExit):
        mod.parse_args(["--monitor", "val_acc", "--min-delta", "1"])
    assert "accuracy lies in [0, 1]" in capsys.readouterr().err


def test_real_run_stops_and_resumes_exactly_with_checkpoint(tmp_path):
    """Unpatched: val_acc plateaus on tiny data; a resumed run stops where a straight one does."""
    mod = load_module(write_script(tmp_path, "checkpoint", {}, ("early-stopping",)))
    extra = ["--monitor", "val_acc", "--patience", "2"]
    straight = tmp_path / "straight"
    full = train(mod, straight, 8, *extra)
    stop = len(full)
    assert stop < 8, "training stopped early"
    best = full[-1]["best_epoch"]
    assert stop == best + 2 and full[best - 1]["val_acc"] == max(row["val_acc"] for row in full)
    last = torch.load(straight / "last.pt", weights_only=True)
    assert last["early_stopping"]["bad_epochs"] == 2  # the state is in the checkpoint
    # interrupted one epoch before the stop (one bad epoch already counted), then resumed
    resumed = tmp_path / "resumed"
    train(mod, resumed, stop - 1, *extra)
    rest = train(mod, resumed, 8, "--resume", *extra)
    assert rest == full[stop - 1 :]
    assert read_metrics(resumed) == read_metrics(straight)
    for name in ("model.pt", "last.pt"):
        a = torch.load(straight / name, weights_only=True)
        b = torch.load(resumed / name, weights_only=True)
        a, b = (a["model"], b["model"]) if name == "last.pt" else (a, b)
        assert state_equal(a, b), name
    assert state_equal(
        torch.load(straight / "model.pt", weights_only=True),
        last["early_stopping"]["best_weights"],
    ), "model.pt holds the best epoch's weights"
    # resuming a run that has already stopped trains nothing more
    assert train(mod, straight, 8, "--resume", *extra) == []
    assert read_metrics(straight) == full
