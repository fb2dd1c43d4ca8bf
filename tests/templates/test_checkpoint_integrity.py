"""checkpoint integrity: every saved file ends with a checksum; changed bytes, truncated
files, foreign zip comments and checkpoints with bad fields or pickled objects are refused
with one sentence. What a run loads besides (settings, weight files, saves) is in
test_checkpoint_loading.py."""

from __future__ import annotations

import hashlib
import math
import os
import random
import subprocess
import sys
import zipfile

import pytest
import torch

from checkpointkit import FAST, Payload, copy_run, run_checkpoint, snapshot
from helpers import read_metrics, refused

TAG = b"snippetgen-sha256:"


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
        refused(capsys, lambda: run_checkpoint(mod, out, 3, "--resume"), f"{last} is damaged")
        assert snapshot(out) == {**before, "last.pt": (bytes(damaged), before["last.pt"][1])}
    last.write_bytes(good)
    run_checkpoint(mod, out, 2, "--resume")  # the undamaged file still resumes
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
    refused(capsys, lambda: run_checkpoint(mod, out, 2, "--resume"), f"{last} is damaged")
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
    run_checkpoint(mod, out, 2, "--resume")
    err = capsys.readouterr().err
    assert f"warning: {out / 'last.pt'} carries no checksum" in err
    assert mod.checksum_status((out / "last.pt").read_bytes()) == "ok", "saved with one now"
    torch.save({**plain, "epoch": -1}, out / "last.pt")
    refused(capsys, lambda: run_checkpoint(mod, out, 2, "--resume"), "its epoch is not")


def test_a_foreign_zip_comment_is_refused(trained, tmp_path, capsys):
    _, mod, src = trained
    out = copy_run(src, tmp_path / "run")
    plain = torch.load(out / "last.pt", weights_only=True)
    torch.save(plain, out / "last.pt")
    with zipfile.ZipFile(out / "last.pt", "a") as archive:
        archive.comment = b"edited"
    assert mod.checksum_status((out / "last.pt").read_bytes()) == "damaged"
    refused(capsys, lambda: run_checkpoint(mod, out, 2, "--resume"), "is damaged")


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
    err = refused(
        capsys, lambda: run_checkpoint(mod, out, 3, "--resume"), str(out / "last.pt"), needle
    )
    assert len(err) < 400
    assert snapshot(out) == before


def test_a_checksummed_checkpoint_that_is_not_a_dict_or_holds_a_pickled_object(
    trained, tmp_path, capsys
):
    _, mod, src = trained
    out = copy_run(src, tmp_path / "run")
    mod.atomic_save([1, 2, 3], out / "last.pt")
    refused(capsys, lambda: run_checkpoint(mod, out, 2, "--resume"), "it holds a list, not a dict")
    marker = tmp_path / "pwned"
    good = torch.load(src / "last.pt", weights_only=True)
    mod.atomic_save({**good, "best_acc": Payload(marker)}, out / "last.pt")
    assert mod.checksum_status((out / "last.pt").read_bytes()) == "ok"
    refused(
        capsys,
        lambda: run_checkpoint(mod, out, 2, "--resume"),
        "refusing to resume",
        "pickled object",
    )
    assert not marker.exists(), "weights_only=True must not unpickle the object"
