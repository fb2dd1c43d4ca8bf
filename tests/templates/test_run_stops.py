"""A training run stopped from outside or refused its folder: Ctrl-C and SIGTERM at any
moment (before the first epoch, mid-training with DataLoader workers, while torch loads)
end it with one line, exit 130 or 143 and a checkpoint that resumes; an output folder no
run can write is one sentence before any training."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import run_script, write_script
from processes import ENDLESS, epochs_logged, reaped, start, wait_until, whole_lines

TINY = ["--train-size", "64", "--val-size", "32", "--batch-size", "16", "--image-size", "8"]

# --- Ctrl-C and SIGTERM ---------------------------------------------------------------------


def test_sigint_before_the_first_epoch(tmp_path):
    script = write_script(tmp_path, "checkpoint", {}, name="train.py")
    out = tmp_path / "out"
    run = start(script, "--output-dir", "out", *ENDLESS)
    with reaped(run):
        lock = out / ".lock"
        wait_until(lambda: lock.exists() and lock.read_text() == f"{run.pid}\n", run)
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=240)
    assert run.returncode == 130
    assert stderr == "interrupted\n"
    if (out / "metrics.jsonl").exists():
        whole_lines(out / "metrics.jsonl")


@pytest.mark.parametrize("delay", [0.0, 0.4])
def test_sigint_during_training_keeps_a_checkpoint_that_resumes(tmp_path, delay):
    script = write_script(tmp_path, "checkpoint", {}, name="train.py")
    out = tmp_path / "out"
    run = start(script, "--output-dir", "out", *ENDLESS)
    with reaped(run):
        epochs_logged(run, 2)
        try:  # anywhere in the next epochs: the outcome must not depend on where
            run.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            pass
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=240)
    assert run.returncode == 130
    assert stderr == "interrupted\n"
    done = torch.load(out / "last.pt", weights_only=True)["epoch"]
    assert 1 <= done <= len(whole_lines(out / "metrics.jsonl"))
    args = [a for a in ENDLESS if a not in ("--epochs", "1000")]
    run_script(script, "--output-dir", "out", "--resume", "--epochs", str(done + 1), *args)
    assert [row["epoch"] for row in whole_lines(out / "metrics.jsonl")] == list(range(1, done + 2))
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name], "no half-written save"


def test_ctrl_c_to_the_process_group_with_dataloader_workers(tmp_path):
    """A terminal's Ctrl-C signals the whole foreground group: the workers get it too."""
    script = write_script(tmp_path, "checkpoint", {}, name="train.py")
    out = tmp_path / "out"
    run = start(
        script, "--output-dir", "out", "--num-workers", "1", *ENDLESS, start_new_session=True
    )
    with reaped(run):
        epochs_logged(run, 2)
        os.killpg(run.pid, signal.SIGINT)
        stdout, stderr = run.communicate(timeout=240)
    assert run.returncode == 130
    assert stderr == "interrupted\n"
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] >= 1


def test_sigterm_stops_like_ctrl_c_with_exit_143(tmp_path):
    script = write_script(tmp_path, "checkpoint", {}, name="train.py")
    out = tmp_path / "out"
    run = start(script, "--output-dir", "out", *ENDLESS)
    with reaped(run):
        epochs_logged(run, 2)
        run.send_signal(signal.SIGTERM)
        stdout, stderr = run.communicate(timeout=240)
    assert run.returncode == 143
    assert stderr == "interrupted by SIGTERM\n"
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] >= 1
    whole_lines(out / "metrics.jsonl")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_torch_loads_is_one_line(tmp_path, signum):
    """Ctrl-C in the seconds `import torch` takes: one line, exit 128+N, nothing written.
    A stand-in torch package (first on the path) says when the import has begun and then
    blocks, so the signal lands inside the import every time."""
    script = write_script(tmp_path, "checkpoint", {}, name="train.py")
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    started = tmp_path / "importing"
    (fake / "__init__.py").write_text(
        f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(120)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    run = subprocess.Popen(
        [sys.executable, str(script), "--output-dir", "out"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(run):
        wait_until(started.exists, run)
        run.send_signal(signum)
        stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + signum
    by = "" if signum == signal.SIGINT else " by SIGTERM"
    assert stderr == f"interrupted{by}\n"
    assert not (tmp_path / "out").exists()


# --- folders no run can write ---------------------------------------------------------------


def _refused_before_training(script: Path, output_dir: str) -> str:
    proc = run_script(script, "--output-dir", output_dir, *TINY, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "", "refused before any training"
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    return proc.stderr


@pytest.mark.parametrize(
    ("output_dir", "reason"),
    [
        ("a-file", "it is a file, not a folder"),
        ("a-file/run", "part of that path is a file, not a folder"),
        ("n" * 300, "the name is too long"),
    ],
    ids=["a-file", "below-a-file", "name-too-long"],
)
def test_unwritable_output_dir_is_one_sentence(tmp_path, output_dir, reason):
    script = write_script(tmp_path, "train", {}, name="train.py")
    (tmp_path / "a-file").write_text("x")
    before = sorted(p.name for p in tmp_path.iterdir())
    stderr = _refused_before_training(script, output_dir)
    assert stderr == f"error: cannot write to the output folder {output_dir}: {reason}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing created"


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's sysfs")
def test_a_folder_even_root_cannot_write_is_one_sentence(tmp_path):
    """sysfs refuses new files to root too: the write probe, not permission bits, decides."""
    script = write_script(tmp_path, "train", {}, name="train.py")
    stderr = _refused_before_training(script, "/sys/kernel")
    assert stderr.startswith("error: cannot write to the output folder /sys/kernel: ")


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes into a read-only folder anyway; "
    "test_a_folder_even_root_cannot_write_is_one_sentence covers root",
)
def test_read_only_output_dir_is_one_sentence(tmp_path):
    script = write_script(tmp_path, "train", {}, name="train.py")
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    try:
        stderr = _refused_before_training(script, "ro")
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert stderr == "error: cannot write to the output folder ro: permission denied\n"
    assert not any((tmp_path / "ro").iterdir())


def test_default_runs_folder_that_is_a_file_is_one_sentence(tmp_path):
    script = write_script(tmp_path, "train", {}, name="train.py")
    (tmp_path / "runs").write_text("not a folder")
    proc = run_script(script, *TINY, check=False)
    assert proc.returncode == 2
    assert (
        proc.stderr == "error: cannot write to the output folder runs: it is a file, not a folder\n"
    )
