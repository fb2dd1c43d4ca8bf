"""checkpoint integrity: checksummed files, damaged or hostile checkpoints and weight files
refused with one sentence, settings that cannot continue a run, failed saves."""

from __future__ import annotations

import hashlib
import math
import os
import random
import resource
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from helpers import load_module, read_metrics, refused, write_script

FAST = ["--train-size", "64", "--val-size", "32", "--batch-size", "16"]
TAG = b"snippetgen-sha256:"


def module(tmp_path, with_=(), **params):
    return load_module(write_script(tmp_path, "checkpoint", params, with_))


def run(mod, out: Path, epochs: int, *extra: str):
    return mod.main(["--output-dir", str(out), "--epochs", str(epochs), *FAST, *extra])


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of `folder` but the run lock (each run rewrites it with its pid): its bytes
    and modification time."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.name != ".lock"
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One script and a 1-epoch run of it; tests copy the run folder before changing it."""
    tmp = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:  # renders never touch the user's ~/.cache
        patch.setenv("XDG_CACHE_HOME", str(tmp / "xdg-cache"))
        script = write_script(tmp, "checkpoint", {})
    mod = load_module(script)
    torch.set_num_threads(1)
    run(mod, tmp / "run", 1)
    return script, mod, tmp / "run"


def copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for path in src.iterdir():
        (dst / path.name).write_bytes(path.read_bytes())
    return dst


def test_every_saved_file_ends_with_a_checksum_and_loads_as_usual(trained):
    _, mod, out = trained
    for name in ("last.pt", "best.pt", "model.pt"):
        data = (out / name).read_bytes()
        assert mod.checksum_status(data) == "ok"
        body, comment = data[: -len(TAG) - 64], data[-len(TAG) - 64 :]
        assert comment == TAG + hashlib.sha256(body).hexdigest().encode()
        assert b"PK\x06\x06" in body, "torch.save writes zip64 records: they are covered"
        with zipfile.ZipFile(out / name) as archive:  # a valid zip archive with a comment
            assert archive.comment == comment and archive.testzip() is None
        torch.load(out / name, weights_only=True)  # users load the files themselves
    # the checksum covers everything: model.pt changed by one bit no longer matches
    data = bytearray((out / "model.pt").read_bytes())
    data[len(data) // 2] ^= 1
    assert mod.checksum_status(bytes(data)) == "damaged"


def flip_positions(data: bytes) -> list[int]:
    """Zip headers, the pickle, tensor data, central directory, zip64 and end records, the
    comment (tag and digest), and seeded random positions."""
    n = len(data)
    pickle_at = data.index(b"data.pkl")
    marks = [
        0,
        3,
        8,
        14,
        18,
        26,
        30,  # first local header: signature, method, crc, sizes, name
        pickle_at + 40,
        pickle_at + 120,
        pickle_at + 300,  # inside the pickle
        n // 3,
        n // 2,
        2 * n // 3,  # tensor data
        data.rindex(b"PK\x01\x02") + 2,
        data.rindex(b"PK\x01\x02") + 16,  # central directory
        data.rindex(b"PK\x06\x06"),
        data.rindex(b"PK\x06\x06") + 40,  # zip64 end record
        data.rindex(b"PK\x06\x07") + 8,  # zip64 locator
    ]
    end = data.rindex(b"PK\x05\x06")
    marks += [end, end + 3, end + 10, end + 16, end + 20, end + 21]  # end record, comment size
    marks += [end + 22, end + 22 + len(TAG) - 1, n - 64, n - 1]  # tag and digest
    rng = random.Random(1234)
    marks += rng.sample(range(n), 24)
    return sorted(set(marks))


def test_single_changed_bytes_anywhere_are_refused_and_nothing_changes(trained, tmp_path, capsys):
    _, mod, src = trained
    out = copy_run(src, tmp_path / "run")
    last = out / "last.pt"
    good = last.read_bytes()
    before = snapshot(out)
    rng = random.Random(99)
    positions = flip_positions(good)
    assert len(positions) >= 50
    for position in positions:
        damaged = bytearray(good)
        damaged[position] ^= rng.randrange(1, 256)
        last.write_bytes(bytes(damaged))
        os.utime(last, ns=(before["last.pt"][1], before["last.pt"][1]))
        refused(capsys, lambda: run(mod, out, 3, "--resume"), f"{last} is damaged")
        assert snapshot(out) == {**before, "last.pt": (bytes(damaged), before["last.pt"][1])}
    last.write_bytes(good)
    run(mod, out, 2, "--resume")  # the undamaged file still resumes
    assert len(read_metrics(out)) == 2


@pytest.mark.parametrize(
    "keep", ["half", "all but one byte", "no comment", "no end record", "1 KiB"]
)
def test_truncated_checkpoints_are_refused_as_damaged(trained, tmp_path, capsys, keep):
    _, mod, src = trained
    out = copy_run(src, tmp_path / "run")
    last = out / "last.pt"
    data = last.read_bytes()
    cut = {
        "half": len(data) // 2,
        "all but one byte": len(data) - 1,
        "no comment": len(data) - len(TAG) - 64,
        "no end record": data.rindex(b"PK\x05\x06"),
        "1 KiB": 1024,
    }[keep]
    last.write_bytes(data[:cut])
    refused(capsys, lambda: run(mod, out, 2, "--resume"), f"{last} is damaged")
    assert len(read_metrics(out)) == 1


def test_a_damaged_checkpoint_in_a_real_process_exits_2_without_traceback(trained, tmp_path):
    script, _, src = trained
    out = copy_run(src, tmp_path / "run")
    data = bytearray((out / "last.pt").read_bytes())
    data[len(data) // 2] ^= 0x10  # one bit of the weights
    (out / "last.pt").write_bytes(bytes(data))
    proc = subprocess.run(
        [sys.executable, str(script), "--output-dir", str(out), "--resume", "--epochs", "2", *FAST],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"{out / 'last.pt'} is damaged" in proc.stderr


def test_a_checkpoint_without_checksum_resumes_with_a_warning(trained, tmp_path, capsys):
    """A last.pt of an older script (plain torch.save) has no checksum: it is used, with a
    warning; its fields are checked all the same."""
    _, mod, src = trained
    out = copy_run(src, tmp_path / "run")
    plain = torch.load(out / "last.pt", weights_only=True)
    del plain["config"]  # older scripts did not record it
    torch.save(plain, out / "last.pt")
    assert mod.checksum_status((out / "last.pt").read_bytes()) == "none"
    capsys.readouterr()
    run(mod, out, 2, "--resume")
    err = capsys.readouterr().err
    assert f"warning: {out / 'last.pt'} carries no checksum" in err
    assert mod.checksum_status((out / "last.pt").read_bytes()) == "ok", "saved with one now"
    torch.save({**plain, "epoch": -1}, out / "last.pt")
    refused(capsys, lambda: run(mod, out, 2, "--resume"), "its epoch is not")


def test_a_foreign_zip_comment_is_refused(trained, tmp_path, capsys):
    _, mod, src = trained
    out = copy_run(src, tmp_path / "run")
    plain = torch.load(out / "last.pt", weights_only=True)
    torch.save(plain, out / "last.pt")
    with zipfile.ZipFile(out / "last.pt", "a") as archive:
        archive.comment = b"edited"
    assert mod.checksum_status((out / "last.pt").read_bytes()) == "damaged"
    refused(capsys, lambda: run(mod, out, 2, "--resume"), "is damaged")


class Payload:
    """Unpickling this calls open(marker, "w"): it creates a file, i.e. runs code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _set(path):
    """A mutation setting checkpoint[path[0]][path[1]]... to a value."""

    def mutate(checkpoint, value):
        target = checkpoint
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _drop(key):
    return lambda checkpoint, _value: checkpoint.pop(key)


BAD_FIELDS = {
    "negative epoch": (_set(["epoch"]), -1, "its epoch is not"),
    "epoch as text": (_set(["epoch"]), "1", "its epoch is not"),
    "epoch as float": (_set(["epoch"]), 1.0, "its epoch is not"),
    "epoch as bool": (_set(["epoch"]), True, "its epoch is not"),
    "epoch past epochs": (_set(["epoch"]), 7, "its epoch is not"),
    "epochs zero": (_set(["epochs"]), 0, "its epochs is not"),
    "best_acc as text": (_set(["best_acc"]), "0.5", "its best_acc is not"),
    "best_acc nan": (_set(["best_acc"]), math.nan, "its best_acc is not"),
    "best_acc above 1": (_set(["best_acc"]), 2.0, "its best_acc is not"),
    "rng a dict": (_set(["rng"]), {}, "its rng is not"),
    "rng empty": (_set(["rng"]), [], "its rng is not"),
    "rng short torch state": (
        _set(["rng", 0, "torch"]),
        torch.zeros(16, dtype=torch.uint8),
        "its rng",
    ),
    "rng float torch state": (_set(["rng", 0, "torch"]), torch.zeros(5056), "its rng is not"),
    "rng bad python state": (_set(["rng", 0, "python"]), (3, (1, 2), None), "its rng is not"),
    "rng no python state": (lambda c, v: c["rng"][0].pop("python"), None, "its rng is not"),
    "cuda states not tensors": (_set(["rng", 0, "cuda"]), [1, 2], "its rng is not"),
    "config a list": (_set(["config"]), [1], "its config is not"),
    "no epoch": (_drop("epoch"), None, "not a checkpoint of this script (no epoch)"),
    "no model": (_drop("model"), None, "not a checkpoint of this script (no model)"),
    "no optimizer": (_drop("optimizer"), None, "(no optimizer)"),
    "optimizer a list": (_set(["optimizer"]), [1, 2], "its optimizer is not a state dict"),
    "model weight of another shape": (
        _set(["model", "fc.weight"]),
        torch.zeros(3, 3),
        "its model state does not fit this run",
    ),
    "model weight not a tensor": (
        _set(["model", "fc.weight"]),
        1.5,
        "its model state does not fit",
    ),
    "momentum buffer of another shape": (
        _set(["optimizer", "state", 0, "momentum_buffer"]),
        torch.zeros(7),
        "its optimizer state does not fit",
    ),
    "momentum buffer as text": (
        _set(["optimizer", "state", 0, "momentum_buffer"]),
        "x",
        "its optimizer state does not fit",
    ),
    "optimizer without param_groups": (
        lambda c, v: c["optimizer"].pop("param_groups"),
        None,
        "its optimizer state does not fit",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FIELDS))
def test_checksummed_checkpoints_with_bad_fields_are_refused(trained, tmp_path, capsys, case):
    """Written with the script's own atomic_save, so the checksum matches: the fields alone
    are wrong, and each is named."""
    _, mod, src = trained
    out = copy_run(src, tmp_path / "run")
    checkpoint = torch.load(out / "last.pt", weights_only=True)
    mutate, value, needle = BAD_FIELDS[case]
    mutate(checkpoint, value)
    mod.atomic_save(checkpoint, out / "last.pt")
    before = snapshot(out)
    err = refused(capsys, lambda: run(mod, out, 3, "--resume"), str(out / "last.pt"), needle)
    assert len(err) < 400
    assert snapshot(out) == before


def test_a_checksummed_checkpoint_that_is_not_a_dict_or_holds_a_pickled_object(
    trained, tmp_path, capsys
):
    _, mod, src = trained
    out = copy_run(src, tmp_path / "run")
    mod.atomic_save([1, 2, 3], out / "last.pt")
    refused(capsys, lambda: run(mod, out, 2, "--resume"), "it holds a list, not a dict")
    marker = tmp_path / "pwned"
    good = torch.load(src / "last.pt", weights_only=True)
    mod.atomic_save({**good, "best_acc": Payload(marker)}, out / "last.pt")
    assert mod.checksum_status((out / "last.pt").read_bytes()) == "ok"
    refused(capsys, lambda: run(mod, out, 2, "--resume"), "refusing to resume", "pickled object")
    assert not marker.exists(), "weights_only=True must not unpickle the object"


def test_a_scheduler_state_with_values_of_the_wrong_kind_is_refused(tmp_path, capsys):
    mod = module(tmp_path)
    mod.build_scheduler = lambda optimizer, args, steps_per_epoch=1: (
        torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3], gamma=0.1)
    )
    out = tmp_path / "run"
    run(mod, out, 1)
    checkpoint = torch.load(out / "last.pt", weights_only=True)
    checkpoint["scheduler"]["last_epoch"] = "1"
    mod.atomic_save(checkpoint, out / "last.pt")
    refused(
        capsys, lambda: run(mod, out, 2, "--resume"), "its scheduler.last_epoch holds the wrong"
    )


def test_settings_that_cannot_continue_the_run_are_named(tmp_path, capsys):
    mod = module(tmp_path)
    out = tmp_path / "run"
    run(mod, out, 1, "--num-classes", "4")
    before = snapshot(out)
    refused(
        capsys,
        lambda: run(mod, out, 2, "--resume", "--num-classes", "5"),
        "saved for 4 classes and this run has 5",
    )
    refused(
        capsys,
        lambda: run(mod, out, 2, "--resume", "--num-classes", "4", "--optimizer", "adamw"),
        "saved with the SGD optimizer and this run uses AdamW",
    )
    build_scheduler = mod.build_scheduler
    mod.build_scheduler = lambda optimizer, args, steps_per_epoch=1: (
        torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    )
    refused(
        capsys,
        lambda: run(mod, out, 2, "--resume", "--num-classes", "4"),
        "saved with the learning-rate scheduler none and this run has StepLR",
    )
    mod.build_scheduler = build_scheduler
    small_cnn = mod.SmallCNN

    class OtherNet(small_cnn):
        pass

    mod.SmallCNN = OtherNet
    refused(
        capsys,
        lambda: run(mod, out, 2, "--resume", "--num-classes", "4"),
        "saved from a SmallCNN model and this run builds a OtherNet",
    )
    mod.SmallCNN = small_cnn
    assert snapshot(out) == before
    run(mod, out, 2, "--resume", "--num-classes", "4")  # the same settings continue


def test_settings_the_restored_optimizer_overrides_are_reported(tmp_path, capsys):
    mod = module(tmp_path, with_=("warmup",))  # a scheduler: lr moves, initial_lr does not
    out = tmp_path / "run"
    run(mod, out, 1)
    capsys.readouterr()
    run(mod, out, 2, "--resume")  # the same settings: nothing to report
    assert "note:" not in capsys.readouterr().err
    run(mod, out, 3, "--resume", "--lr", "0.1", "--momentum", "0.8", "--weight-decay", "0.0001")
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
    refused(capsys, lambda: run(mod, out, 2, "--resume", str(tmp_path)), "is not a regular file")
    refused(capsys, lambda: run(mod, out, 2, "--resume", "/dev/null"), "is not a regular file")
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
