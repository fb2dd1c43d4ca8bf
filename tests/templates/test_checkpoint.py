"""checkpoint: atomic last.pt/best.pt, weights_only loading, bit-identical --resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from checkpointkit import FAST, Payload, checkpoint_module, run_checkpoint
from helpers import load_module, read_metrics, run_script, state_equal, write_script


def same(a, b) -> bool:
    """Bit-identical nested checkpoint contents (dicts, lists, tuples, tensors, plain values)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if torch.is_tensor(a):
        return torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
    return type(a) is type(b) and a == b


def load(path: Path):
    return torch.load(path, weights_only=True)


def unplanned(checkpoint: dict) -> dict:
    """A checkpoint without `epochs` (the saving run's --epochs). The tests stand for an
    interrupted run with a shorter --epochs, so only that entry tells the two apart."""
    return {key: value for key, value in checkpoint.items() if key != "epochs"}


def straight_and_resumed(tmp_path, mod, epochs=4, k=2, extra=()):
    """Train `epochs` straight, and `k` epochs then --resume to `epochs`; returns both dirs."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    full = run_checkpoint(mod, straight, epochs, *extra)
    first = run_checkpoint(mod, resumed, k, *extra)
    assert first == full[:k]
    assert load(resumed / "last.pt")["epoch"] == k
    rest = run_checkpoint(mod, resumed, epochs, "--resume", *extra)
    assert rest == full[k:], "the resumed epochs log the same metrics"
    return straight, resumed


def assert_identical_runs(a: Path, b: Path):
    assert read_metrics(a) == read_metrics(b)
    assert state_equal(load(a / "model.pt"), load(b / "model.pt"))
    assert same(load(a / "last.pt"), load(b / "last.pt")), "model, optimizer, RNG states, ..."
    assert same(unplanned(load(a / "best.pt")), unplanned(load(b / "best.pt")))


def test_checkpoint_contents_are_plain_and_complete(tmp_path):
    mod = checkpoint_module(tmp_path)
    out = tmp_path / "run"
    history = run_checkpoint(mod, out, 3)
    last = load(out / "last.pt")  # weights_only=True: only tensors and plain values
    assert {"model", "optimizer", "epoch", "best_acc", "rng"} <= last.keys()
    assert "scheduler" not in last  # the base script has none
    assert last["epoch"] == 3  # epochs completed (epoch + 1), where a resumed loop restarts
    accs = [row["val_acc"] for row in history]
    assert type(last["best_acc"]) is float and last["best_acc"] == max(accs)
    assert state_equal(last["model"], load(out / "model.pt"))
    (rng,) = last["rng"]  # one process: one RNG state
    assert rng["torch"].dtype == torch.uint8 and isinstance(rng["python"], tuple)
    best = load(out / "best.pt")
    assert best["epoch"] == accs.index(max(accs)) + 1  # the first epoch with the best val_acc
    assert best["best_acc"] == max(accs)


def test_every_n_epochs_and_the_last_epoch_and_best_on_improvement(tmp_path, monkeypatch):
    mod = checkpoint_module(tmp_path, every=2)
    saved = []

    class RecordingOS:
        def __getattr__(self, name):
            return getattr(os, name)

        def replace(self, src, dst):
            name = Path(dst).name
            if name != "classes.json":
                saved.append((name, None if name == "model.pt" else load(src)["epoch"]))
            Path(src).replace(dst)

    monkeypatch.setattr(mod, "os", RecordingOS())
    history = run_checkpoint(mod, tmp_path / "run", 5)
    assert [epoch for name, epoch in saved if name == "last.pt"] == [2, 4, 5]
    best_so_far, improved = -1.0, []
    for row in history:
        if row["val_acc"] > best_so_far:
            best_so_far = row["val_acc"]
            improved.append(row["epoch"])
    assert [epoch for name, epoch in saved if name == "best.pt"] == improved
    assert saved[-1][0] == "model.pt"


def test_resume_is_bit_identical_to_a_straight_run(tmp_path):
    mod = checkpoint_module(tmp_path)
    assert_identical_runs(*straight_and_resumed(tmp_path, mod, epochs=4, k=2))


def test_resume_with_mixup_restores_the_rng_state(tmp_path):
    mod = checkpoint_module(tmp_path, with_=("mixup",))
    straight, resumed = straight_and_resumed(tmp_path, mod, epochs=4, k=2)
    assert_identical_runs(straight, resumed)
    # negative control: the same resume without restoring the RNG states diverges
    mod.set_rng_state = lambda state: None
    run_checkpoint(mod, tmp_path / "part", 2)
    diverged = run_checkpoint(mod, tmp_path / "part", 4, "--resume")
    assert diverged != read_metrics(straight)[2:]


def test_resume_restores_the_scheduler(tmp_path):
    mod = checkpoint_module(tmp_path)
    # a fresh scheduler after --resume would count its milestone from the resumed epoch
    mod.build_scheduler = lambda optimizer, args, steps_per_epoch=1: (
        torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3], gamma=0.1)
    )
    straight, resumed = straight_and_resumed(tmp_path, mod, epochs=4, k=2)
    assert_identical_runs(straight, resumed)
    lrs = [row["lr"] for row in read_metrics(resumed)]
    assert lrs == pytest.approx([0.05, 0.05, 0.05, 0.005])
    assert load(resumed / "last.pt")["scheduler"]["last_epoch"] == 4


def test_resuming_with_another_epochs_warns_that_the_schedule_keeps_its_plan(tmp_path, capsys):
    mod = checkpoint_module(tmp_path)
    mod.build_scheduler = lambda optimizer, args, steps_per_epoch=1: (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    )
    out = tmp_path / "run"
    run_checkpoint(mod, out, 2)
    assert load(out / "last.pt")["epochs"] == 2
    capsys.readouterr()
    run_checkpoint(
        mod, out, 3, "--resume"
    )  # train longer: the restored cosine still ends at epoch 2
    err = capsys.readouterr().err
    assert "warning: " in err and "--epochs 2" in err and "not --epochs 3" in err
    assert load(out / "last.pt")["scheduler"]["T_max"] == 2  # what the warning says
    run_checkpoint(mod, tmp_path / "same", 3)
    capsys.readouterr()
    run_checkpoint(mod, tmp_path / "same", 3, "--resume")  # the same plan: no warning
    assert "warning" not in capsys.readouterr().err
    mod.build_scheduler = lambda optimizer, args, steps_per_epoch=1: None
    run_checkpoint(mod, tmp_path / "plain", 1)
    capsys.readouterr()
    run_checkpoint(mod, tmp_path / "plain", 2, "--resume")  # no schedule, nothing to warn about
    assert "warning" not in capsys.readouterr().err


def test_last_pt_is_written_atomically(tmp_path, monkeypatch):
    mod = checkpoint_module(tmp_path)
    events = []

    class RecordingOS:
        def __getattr__(self, name):
            return getattr(os, name)

        def fsync(self, fd):
            events.append(("fsync", None))
            os.fsync(fd)

        def replace(self, src, dst):
            src, dst = Path(src), Path(dst)
            # the temporary file sits beside its target and is already complete when renamed
            assert src.parent == dst.parent and src.name.startswith(f".{dst.name}.tmp")
            events.append(("replace", (dst.name, load(src) if dst.suffix == ".pt" else None)))
            Path(src).replace(dst)

    monkeypatch.setattr(mod, "os", RecordingOS())
    out = tmp_path / "run"
    run_checkpoint(mod, out, 2)
    renamed = [arg for kind, arg in events if kind == "replace"]
    assert [name for name, _ in renamed].count("last.pt") == 2
    for i, (kind, _) in enumerate(events):
        if kind == "replace":
            assert events[i - 1][0] == "fsync", "flushed to disk before the rename"
    final = [state for name, state in renamed if name == "last.pt"][-1]
    assert same(final, load(out / "last.pt"))
    assert sorted(p.name for p in out.iterdir()) == [
        ".lock",
        "best.pt",
        "classes.json",
        "last.pt",
        "metrics.jsonl",
        "model.pt",
    ]


def test_a_pickled_object_is_refused_and_runs_no_code(tmp_path, capsys):
    mod = checkpoint_module(tmp_path)
    out = tmp_path / "run"
    run_checkpoint(mod, out, 1)
    marker = tmp_path / "pwned"
    good = load(out / "last.pt")
    torch.save({**good, "best_acc": Payload(marker)}, out / "last.pt")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_checkpoint(mod, out, 2, "--resume")
    assert exit_info.value.code == 2
    assert not marker.exists(), "weights_only=True must not unpickle the object"
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(out / "last.pt") in err and "refusing" in err
    # control: an unsafe load of the same file does run the payload
    torch.load(out / "last.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "missing"])
def test_damaged_or_missing_last_pt_is_refused_with_one_sentence(tmp_path, capsys, damage):
    mod = checkpoint_module(tmp_path)
    out = tmp_path / "run"
    run_checkpoint(mod, out, 2)
    last = out / "last.pt"
    data = last.read_bytes()
    if damage == "truncated":
        last.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        last.write_bytes(b"")
    elif damage == "garbage":
        last.write_bytes(os.urandom(4096))
    else:
        last.unlink()  # best.pt is still there: it must not be used instead
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_checkpoint(mod, out, 3, "--resume")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(last) in err
    assert len(read_metrics(out)) == 2, "nothing was trained or logged"


def test_corrupt_checkpoint_in_a_real_process_exits_2_without_traceback(tmp_path):
    script = write_script(tmp_path, "checkpoint", {"epochs": 1})
    load_module(script).main(["--output-dir", str(tmp_path / "run"), *FAST])
    last = tmp_path / "run" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    proc = run_script(
        script, "--output-dir", "run", "--resume", "--epochs", "2", *FAST, check=False
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "run/last.pt" in proc.stderr


def test_best_pt_is_resumed_only_when_named(tmp_path):
    mod = checkpoint_module(tmp_path)
    out = tmp_path / "run"
    history = run_checkpoint(mod, out, 4)
    best_epoch = load(out / "best.pt")["epoch"]
    rest = run_checkpoint(mod, out, 4, "--resume", str(out / "best.pt"))
    assert [row["epoch"] for row in rest] == list(range(best_epoch + 1, 5))
    assert [row["epoch"] for row in read_metrics(out)] == [1, 2, 3, 4]
    assert read_metrics(out)[:best_epoch] == history[:best_epoch]


def test_resume_flag_checks(tmp_path, capsys):
    mod = checkpoint_module(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        mod.parse_args(["--resume"])  # no PATH and no --output-dir: nothing to continue
    assert exit_info.value.code == 2 and "--output-dir" in capsys.readouterr().err
    assert mod.parse_args(["--resume", "x.pt"]).resume == Path("x.pt")
    assert mod.parse_args(["--resume", "--output-dir", "o"]).resume is True
    with pytest.raises(SystemExit):
        mod.parse_args(["--every", "0"])
    out = tmp_path / "run"
    run_checkpoint(mod, out, 3)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_checkpoint(mod, out, 2, "--resume")  # the checkpoint is past --epochs
    assert exit_info.value.code == 2 and "more than --epochs 2" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        run_checkpoint(mod, out, 4, "--resume", str(out / "model.pt"))  # a bare state_dict
    assert (
        exit_info.value.code == 2 and "not a checkpoint of this script" in capsys.readouterr().err
    )


def test_only_rank_0_writes(tmp_path):
    mod = checkpoint_module(tmp_path)
    mod.setup_distributed = lambda device: (1, 1)  # as if this process were rank 1
    out = tmp_path / "run"
    out.mkdir()
    run_checkpoint(mod, out, 2)
    assert list(out.iterdir()) == []


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    mod = checkpoint_module(tmp_path)
    reference = tmp_path / "reference"
    run_checkpoint(mod, reference, 2)
    build_criterion = mod.build_criterion

    class BecomesNaN(nn.Module):
        """The real loss, turned NaN from the 9th training batch on (epoch 3 of 4 batches)."""

        def __init__(self, criterion):
            super().__init__()
            self.criterion = criterion
            self.train_calls = 0

        def forward(self, outputs, targets):
            loss = self.criterion(outputs, targets)
            if torch.is_grad_enabled():
                self.train_calls += 1
                if self.train_calls > 8:
                    loss = loss * float("nan")
            return loss

    mod.build_criterion = lambda args, train_dataset=None: BecomesNaN(build_criterion(args))
    out = tmp_path / "run"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_checkpoint(mod, out, 5)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "loss became nan in epoch 3" in err
    last = load(out / "last.pt")
    assert last["epoch"] == 2
    assert last["epochs"] == 5
    assert same(unplanned(last), unplanned(load(reference / "last.pt"))), "epoch 2 intact"
    assert not (out / "model.pt").exists()
    # and it resumes: the good epochs are kept, the NaN epoch is dropped and redone
    mod.build_criterion = build_criterion
    run_checkpoint(mod, out, 3, "--resume")
    rows = read_metrics(out)
    assert [row["epoch"] for row in rows] == [1, 2, 3] and all(
        row["train_loss"] == row["train_loss"] for row in rows
    )


def _logs_an_epoch(proc):
    """Read the run's stdout until it reports a finished epoch; False if it ends first."""
    return any(line.startswith("epoch ") for line in proc.stdout)


def test_sigkill_at_several_moments_then_resume_ends_bit_identical(tmp_path):
    epochs = 8
    args = [
        "--epochs",
        str(epochs),
        "--train-size",
        "256",
        "--val-size",
        "32",
        "--batch-size",
        "32",
    ]
    script = write_script(tmp_path, "checkpoint", {})
    reference = tmp_path / "reference"
    started = time.perf_counter()
    load_module(script).main(["--output-dir", str(reference), *args])
    epoch_time = (time.perf_counter() - started) / epochs
    out = tmp_path / "run"
    kills, restart = 0, []
    # each run is killed after it logs its first epoch: at once (often during that epoch's
    # save), a third into the next epoch, and well into the one after
    for delay in (0.0, 0.3 * epoch_time, 1.3 * epoch_time):
        proc = subprocess.Popen(
            [sys.executable, str(script), "--output-dir", str(out), *args, *restart],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            if _logs_an_epoch(proc):
                try:
                    proc.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    pass
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
        finally:
            proc.stdout.close()
            proc.wait(timeout=60)
        last = out / "last.pt"
        if last.exists():
            checkpoint = load(last)  # never a torn file, whenever the kill landed
            assert 1 <= checkpoint["epoch"] <= len(read_metrics(out))
            restart = ["--resume"]
        else:  # killed before the first checkpoint: start over
            restart = ["--overwrite"]
    assert kills == 3
    run_script(script, "--output-dir", str(out), *args, *restart, cwd=tmp_path)
    assert read_metrics(out) == read_metrics(reference)
    assert state_equal(load(out / "model.pt"), load(reference / "model.pt"))
    assert same(load(out / "last.pt"), load(reference / "last.pt"))
    leftovers = [path.name for path in out.glob(".*") if path.name != ".lock"]
    assert not leftovers, "temporary files of killed saves are cleaned on resume"
