"""What a resumed or fine-tuned run loads, refused or reported in one sentence: a scheduler
state of the wrong kind, settings that cannot continue the run (and those the restored
optimizer overrides), files that are not regular, pretrained files that are not state dicts
or fail their checksum; and a failed save keeps the previous file."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import pytest
import torch

from checkpointkit import FAST, Payload, checkpoint_module, copy_run, run_checkpoint, snapshot
from helpers import read_metrics, refused


def test_a_scheduler_state_with_values_of_the_wrong_kind_is_refused(tmp_path, capsys):
    mod = checkpoint_module(tmp_path)
    mod.build_scheduler = lambda optimizer, args, steps_per_epoch=1: (
        torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3], gamma=0.1)
    )
    out = tmp_path / "run"
    run_checkpoint(mod, out, 1)
    checkpoint = torch.load(out / "last.pt", weights_only=True)
    checkpoint["scheduler"]["last_epoch"] = "1"
    mod.atomic_save(checkpoint, out / "last.pt")
    refused(
        capsys,
        lambda: run_checkpoint(mod, out, 2, "--resume"),
        "its scheduler.last_epoch holds the wrong",
    )


def test_settings_that_cannot_continue_the_run_are_named(tmp_path, capsys):
    mod = checkpoint_module(tmp_path)
    out = tmp_path / "run"
    run_checkpoint(mod, out, 1, "--num-classes", "4")
    before = snapshot(out)
    refused(
        capsys,
        lambda: run_checkpoint(mod, out, 2, "--resume", "--num-classes", "5"),
        "saved for 4 classes and this run has 5",
    )
    refused(
        capsys,
        lambda: run_checkpoint(
            mod, out, 2, "--resume", "--num-classes", "4", "--optimizer", "adamw"
        ),
        "saved with the SGD optimizer and this run uses AdamW",
    )
    build_scheduler = mod.build_scheduler
    mod.build_scheduler = lambda optimizer, args, steps_per_epoch=1: (
        torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    )
    refused(
        capsys,
        lambda: run_checkpoint(mod, out, 2, "--resume", "--num-classes", "4"),
        "saved with the learning-rate scheduler none and this run has StepLR",
    )
    mod.build_scheduler = build_scheduler
    small_cnn = mod.SmallCNN

    class OtherNet(small_cnn):
        pass

    mod.SmallCNN = OtherNet
    refused(
        capsys,
        lambda: run_checkpoint(mod, out, 2, "--resume", "--num-classes", "4"),
        "saved from a SmallCNN model and this run builds a OtherNet",
    )
    mod.SmallCNN = small_cnn
    assert snapshot(out) == before
    run_checkpoint(mod, out, 2, "--resume", "--num-classes", "4")  # the same settings continue


def test_settings_the_restored_optimizer_overrides_are_reported(tmp_path, capsys):
    mod = checkpoint_module(
        tmp_path, with_=("warmup",)
    )  # a scheduler: lr moves, initial_lr does not
    out = tmp_path / "run"
    run_checkpoint(mod, out, 1)
    capsys.readouterr()
    run_checkpoint(mod, out, 2, "--resume")  # the same settings: nothing to report
    assert "note:" not in capsys.readouterr().err
    run_checkpoint(
        mod, out, 3, "--resume", "--lr", "0.1", "--momentum", "0.8", "--weight-decay", "0.0001"
    )
    err = capsys.readouterr().err
    assert (
        f"note: --lr 0.1 of this run is not used: the restored optimizer continues with lr 0.05 "
        f"(from {out / 'last.pt'})"
    ) in err
    assert "note: --momentum 0.8 of this run is not used" in err and "with momentum 0.9" in err
    assert "--weight-decay" not in err  # unchanged
    assert [row["epoch"] for row in read_metrics(out)] == [1, 2, 3]


def test_non_regular_files_are_refused_without_reading_them(trained, tmp_path, capsys):
    script, mod, src = trained
    out = copy_run(src, tmp_path / "run")
    fifo = tmp_path / "fifo.pt"
    os.mkfifo(fifo)
    # in a real process with a timeout: a script that opened the FIFO would block forever
    for flag, folder in (("--resume", out), ("--pretrained", tmp_path / "fresh")):
        proc = subprocess.run(
            [
                sys.executable,
                str(script),
                "--output-dir",
                str(folder),
                "--epochs",
                "2",
                *FAST,
                flag,
                str(fifo),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and f"{fifo} is not a regular file" in proc.stderr
    refused(
        capsys,
        lambda: run_checkpoint(mod, out, 2, "--resume", str(tmp_path)),
        "is not a regular file",
    )
    refused(
        capsys,
        lambda: run_checkpoint(mod, out, 2, "--resume", "/dev/null"),
        "is not a regular file",
    )
    args = mod.parse_args(["--pretrained", str(tmp_path)])
    refused(capsys, lambda: mod.build_model(args), f"{tmp_path} is not a regular file")
    assert len(read_metrics(out)) == 1


HOSTILE_WEIGHTS = {
    "a list": (lambda good, marker: [good["fc.weight"]], "holds a list"),
    "a tensor": (lambda good, marker: good["fc.weight"], "holds a Tensor"),
    "integer keys": (lambda good, marker: {0: good["fc.weight"]}, "its key 0 is not a name"),
    "nested dicts": (lambda good, marker: {**good, "fc.weight": {"a": 1}}, "'fc.weight' is a dict"),
    "a number": (lambda good, marker: {**good, "fc.bias": 3.0}, "'fc.bias' is a float"),
    "a pickled object": (
        lambda good, marker: {**good, "fc.bias": Payload(marker)},
        "refusing to load",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_WEIGHTS))
def test_pretrained_files_that_are_not_state_dicts_are_refused(trained, tmp_path, capsys, case):
    _, mod, src = trained
    good = torch.load(src / "model.pt", weights_only=True)
    marker = tmp_path / "pwned"
    make, needle = HOSTILE_WEIGHTS[case]
    path = tmp_path / "weights.pt"
    torch.save(make(good, marker), path)  # a plain torch.save file, as from elsewhere
    args = mod.parse_args(["--pretrained", str(path)])
    refused(capsys, lambda: mod.build_model(args), str(path), needle)
    assert not marker.exists()


def test_pretrained_files_are_verified_when_they_carry_a_checksum(trained, tmp_path, capsys):
    _, mod, src = trained
    # snippetgen's own files (model.pt, and a checkpoint's model) load, and are checked
    for name in ("model.pt", "last.pt"):
        args = mod.parse_args(["--pretrained", str(src / name)])
        capsys.readouterr()
        model = mod.build_model(args)
        expected = torch.load(src / "model.pt", weights_only=True)
        assert f"loaded {len(expected)}/{len(expected)} tensors" in capsys.readouterr().err
        assert all(torch.equal(model.state_dict()[k], v) for k, v in expected.items())
    data = bytearray((src / "model.pt").read_bytes())
    data[-1] ^= 0x01  # the digest's last character
    damaged = tmp_path / "model.pt"
    damaged.write_bytes(bytes(data))
    args = mod.parse_args(["--pretrained", str(damaged)])
    refused(capsys, lambda: mod.build_model(args), f"{damaged} is damaged")
    # files from elsewhere carry none: plain torch.save (zip) and the legacy format load
    state = torch.load(src / "model.pt", weights_only=True)
    for legacy in (False, True):
        plain = tmp_path / f"plain{legacy}.pt"
        torch.save(state, plain, _use_new_zipfile_serialization=not legacy)
        assert mod.checksum_status(plain.read_bytes()) == "none"
        args = mod.parse_args(["--pretrained", str(plain)])
        capsys.readouterr()
        mod.build_model(args)
        assert f"loaded {len(state)}/{len(state)} tensors" in capsys.readouterr().err


def _limit_file_size(limit):
    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(
            resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1])
        )

    return preexec


def test_a_failed_save_stops_with_one_sentence_and_keeps_the_previous_file(trained, tmp_path):
    script, mod, src = trained
    out = copy_run(src, tmp_path / "run")
    before = snapshot(out)
    # metrics.jsonl stays far below 4 KiB; every checkpoint is larger (the file system is
    # "full" for them), so the first save of the resumed run fails for real with EFBIG
    assert min(len(before[name][0]) for name in ("last.pt", "best.pt", "model.pt")) > 4096
    proc = subprocess.run(
        [sys.executable, str(script), "--output-dir", str(out), "--resume", "--epochs", "3", *FAST],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_file_size(4096),
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("resumed from") and len(lines) == 2, proc.stderr
    assert lines[1].startswith(f"error: cannot write {out}") and "File too large" in lines[1]
    assert "Traceback" not in proc.stderr
    after = snapshot(out)
    assert sorted(after) == sorted(before), "no temporary file is left behind"
    for name in ("last.pt", "best.pt", "model.pt"):
        assert after[name] == before[name], name
        assert mod.checksum_status(after[name][0]) == "ok"
    assert len(read_metrics(out)) == 2  # epoch 2 was logged; its checkpoint could not be saved
    # and the run continues from the intact last.pt once there is room again
    subprocess.run(
        [sys.executable, str(script), "--output-dir", str(out), "--resume", "--epochs", "2", *FAST],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 2
