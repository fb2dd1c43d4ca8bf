"""The run folder on hostile ground: one run per folder, --overwrite, Ctrl-C, unwritable folders.

Every test here attacks the real rendered script in real processes: concurrent runs into one
--output-dir (synchronised on the runs' own output and SIGSTOP, never on sleeps), a run killed
after --overwrite, SIGINT/SIGTERM at several moments, and folders no run can write.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from helpers import ROOT, load_module, run_script, write_script
from processes import torchrun

TINY = ["--train-size", "64", "--val-size", "32", "--batch-size", "16", "--image-size", "8"]
# a run that cannot end before the test acts on it; 16 batches per epoch
ENDLESS = [
    "--epochs",
    "1000",
    "--train-size",
    "256",
    "--val-size",
    "32",
    "--batch-size",
    "16",
    "--image-size",
    "8",
]


def start(script: Path, *args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=script.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def epochs_logged(proc: subprocess.Popen[str], count: int = 1) -> None:
    """Read the run's stdout until it has logged `count` epochs.

    After the first, its folder is locked; after the second, the checkpoint of the first
    is complete (saves follow the epoch's line).
    """
    assert proc.stdout is not None
    for line in proc.stdout:
        count -= line.startswith("epoch ")
        if count == 0:
            return
    raise AssertionError(f"the run ended first ({proc.wait()}): {proc.stderr.read()}")


def wait_until(condition, proc: subprocess.Popen[str], timeout: float = 240) -> None:
    """Poll a condition on the files the run writes (not a sleep standing in for one)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the run ended first: {proc.communicate()}"
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.01)


@contextmanager
def reaped(*procs: subprocess.Popen[str]):
    """Kill whatever is still running when the test ends (a failed assertion included)."""
    try:
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=60)


def whole_lines(path: Path) -> list[dict]:
    """metrics.jsonl as records, asserting it holds only whole lines."""
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "a line cut short"
    return [json.loads(line) for line in text.splitlines()]


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# --- one run per folder ---------------------------------------------------------------------


def test_three_runs_started_into_a_busy_folder_are_refused_and_change_nothing(tmp_path):
    script = write_script(tmp_path, "checkpoint", {}, name="train.py")
    out = tmp_path / "out"
    args = ["--output-dir", "out", "--epochs", "4", *TINY]
    winner = start(script, *args, "--overwrite")
    with reaped(winner):
        epochs_logged(winner)
        winner.send_signal(signal.SIGSTOP)  # it holds the folder, mid-run, for as long as we like
        before = files(out)
        # the three most damaging ways in: replace it, continue it, or just start there
        losers = [start(script, *args, *extra) for extra in (["--overwrite"], ["--resume"], [])]
        with reaped(*losers):
            results = [loser.communicate(timeout=240) for loser in losers]
        for loser, (stdout, stderr) in zip(losers, results, strict=True):
            assert loser.returncode == 2, stderr
            assert stderr == (
                f"error: out is in use by another run (pid {winner.pid}); wait for it or "
                "choose another --output-dir\n"
            )
            assert stdout == ""
        assert files(out) == before, "a refused run touched the winner's files"
        winner.send_signal(signal.SIGCONT)
        stdout, stderr = winner.communicate(timeout=240)
    assert winner.returncode == 0, stderr
    assert [row["epoch"] for row in whole_lines(out / "metrics.jsonl")] == [1, 2, 3, 4]
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 4
    torch.load(out / "model.pt", weights_only=True)


def test_four_runs_started_at_once_exactly_one_trains(tmp_path):
    script = write_script(tmp_path, "train", {}, name="train.py")
    out = tmp_path / "out"
    runs = [start(script, "--output-dir", "out", "--epochs", "3", *TINY) for _ in range(4)]
    with reaped(*runs):
        results = [run.communicate(timeout=240) for run in runs]
    codes = sorted(run.returncode for run in runs)
    assert codes == [0, 2, 2, 2], results
    (winner,) = [run for run in runs if run.returncode == 0]
    for run, (stdout, stderr) in zip(runs, results, strict=True):
        if run is winner:
            continue
        # refused while the winner trains, or after it (then maybe while another loser
        # holds the lock to look): either way, one sentence
        busy = r"error: out is in use by another run \(pid \d+\); wait for it or choose "
        done = "error: out already holds a run; pass --overwrite to replace it\n"
        assert re.fullmatch(busy + "another --output-dir\n", stderr) or stderr == done, stderr
        assert stdout == ""
    rows = whole_lines(out / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == [1, 2, 3], "the winner's metrics alone, in order"
    assert len({json.dumps(row) for row in rows}) == 3


def test_runs_without_output_dir_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    mod = load_module(write_script(tmp_path, "train", {}))
    monkeypatch.setattr(mod.time, "strftime", lambda fmt: "20250101-120000")
    runs = tmp_path / "runs"
    (runs / "20250101-120000").mkdir(parents=True)  # another run of that second, still empty
    made = [mod.fresh_run_folder(runs) for _ in range(3)]
    assert [p.name for p in made] == [f"20250101-120000-{n}" for n in (1, 2, 3)]
    assert all(p.is_dir() and not any(p.iterdir()) for p in made)


@pytest.mark.skipif(sys.platform == "win32", reason="probes the lock with fcntl")
def test_the_lock_is_held_while_main_runs_and_released_however_it_ends(tmp_path, capsys):
    import fcntl

    mod = load_module(write_script(tmp_path, "train", {"epochs": 1}))
    out = tmp_path / "out"

    def locked() -> bool:
        with (out / ".lock").open() as other:  # another open file: flock excludes it too
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False

    seen = []
    build_datasets = mod.build_datasets
    mod.build_datasets = lambda args: seen.append(locked()) or build_datasets(args)
    mod.main(["--output-dir", str(out), *TINY])
    assert seen == [True] and (out / ".lock").read_text() == f"{os.getpid()}\n"
    assert not locked(), "released when main() returned"
    with pytest.raises(SystemExit) as refused:  # the folder holds a run: refused, not "in use"
        mod.main(["--output-dir", str(out), *TINY])
    assert refused.value.code == 2 and "already holds a run" in capsys.readouterr().err
    assert not locked(), "released when main() failed"
    assert len(mod.main(["--output-dir", str(out), "--overwrite", *TINY])) == 1
    assert seen == [True, True] and not locked()


def test_the_script_imports_and_locks_without_fcntl(tmp_path):
    """Windows has no fcntl: the script must still import, and lock with msvcrt instead."""
    write_script(tmp_path, "train", {}, name="train.py")
    probe = f"""
import sys, types
import torch  # before the stand-ins below: the standard library itself looks for msvcrt
sys.modules["fcntl"] = None  # import fcntl raises ImportError, as on Windows
held = set()
def locking(fd, mode, nbytes):
    import os
    key = os.fstat(fd).st_ino
    if key in held:
        raise PermissionError(13, "Permission denied")
    held.add(key)
sys.modules["msvcrt"] = types.SimpleNamespace(locking=locking, LK_NBLCK=2)
sys.path.insert(0, {str(tmp_path)!r})
import train
from pathlib import Path
folder = Path({str(tmp_path / "out")!r})
folder.mkdir()
import os
print(train.lock_run_folder(folder), train.lock_run_folder(folder), os.getpid())
"""
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr
    first, second, pid = proc.stdout.split()
    assert (first, second) == ("None", pid), "locked once, then refused naming the holder"


@pytest.mark.slow
def test_torchrun_into_a_busy_folder_every_rank_exits_2_without_hanging(tmp_path):
    script = write_script(tmp_path, "train", {}, name="train.py")
    out = tmp_path / "out"
    holder = start(script, "--output-dir", "out", *ENDLESS)
    with reaped(holder):
        epochs_logged(holder)
        holder.send_signal(signal.SIGSTOP)
        before = files(out)
        proc = torchrun(
            script,
            "--output-dir",
            "out",
            "--overwrite",
            *TINY,
            cwd=tmp_path,
            check=False,
            timeout=240,
        )
        assert files(out) == before
    assert proc.returncode != 0
    sentence = f"error: out is in use by another run (pid {holder.pid});"
    assert proc.stderr.count(sentence) == 1, proc.stderr  # rank 0 says it; rank 1 follows
    # torchrun's own report: the ranks exited 2 (none hung or crashed); torchrun stops the
    # slower one itself (SIGTERM) when it sees the first one exit
    codes = re.findall(r"rank\s*: \d \(local_rank: \d\)\s*exitcode\s*: (-?\d+)", proc.stderr)
    assert "2" in codes and set(codes) <= {"2", "143", "-15"}, proc.stderr
    assert f'File "{script}"' not in proc.stderr, "no traceback from the script itself"


# --- --overwrite ----------------------------------------------------------------------------


def test_a_run_killed_after_overwrite_leaves_nothing_for_resume(tmp_path):
    script = write_script(tmp_path, "checkpoint", {}, name="train.py")
    out = tmp_path / "out"
    run_script(script, "--output-dir", "out", "--epochs", "2", *TINY)
    (out / "tensorboard").mkdir()
    (out / "tensorboard" / "events").write_text("old")
    (out / ".last.pt.tmp99").write_text("a save killed midway")
    # the new run saves last.pt only at its final epoch: killed before that, it has none
    run = start(script, "--output-dir", "out", "--overwrite", "--every", "100000", *ENDLESS)
    with reaped(run):
        epochs_logged(run)
        run.kill()
    left = {p.name for p in out.iterdir()}
    assert not left & {"last.pt", "model.pt", "tensorboard", ".last.pt.tmp99"}, left
    assert len(whole_lines(out / "metrics.jsonl")) >= 1  # the new run's, not the old two
    resumed = run_script(script, "--output-dir", "out", "--resume", *ENDLESS, check=False)
    assert resumed.returncode == 2, "the old run is not continued"
    assert "out/last.pt" in resumed.stderr and resumed.stderr.count("\n") == 1, resumed.stderr
    assert "Traceback" not in resumed.stderr


def test_an_overwrite_that_fails_midway_has_deleted_the_checkpoints_first(
    tmp_path, capsys, monkeypatch
):
    mod = load_module(write_script(tmp_path, "checkpoint", {}))
    out = tmp_path / "out"
    mod.main(["--output-dir", str(out), "--epochs", "1", *TINY])
    (out / "tensorboard").mkdir()

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(mod.shutil, "rmtree", refuse)
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        mod.main(["--output-dir", str(out), "--overwrite", "--epochs", "1", *TINY])
    assert refused.value.code == 2
    assert capsys.readouterr().err == (
        f"error: --overwrite cannot delete {out / 'tensorboard'}: permission denied\n"
    )
    assert not (out / "last.pt").exists() and not (out / "best.pt").exists()


def test_overwrite_with_resume_of_the_same_folder_is_refused(tmp_path, capsys):
    mod = load_module(write_script(tmp_path, "checkpoint", {}))
    out = tmp_path / "out"
    mod.main(["--output-dir", str(out), "--epochs", "1", *TINY])
    before = files(out)
    for resume in (["--resume"], ["--resume", str(out / "best.pt")]):
        capsys.readouterr()
        with pytest.raises(SystemExit):
            mod.main(["--output-dir", str(out), "--overwrite", *resume, *TINY])
        assert "--overwrite deletes the checkpoints in" in capsys.readouterr().err
    assert files(out) == before


def test_every_file_a_feature_writes_is_cleared_by_overwrite(tmp_path):
    mod = load_module(write_script(tmp_path, "train", {}))
    written = set()
    for template in (ROOT / "templates").glob("*/*.py.j2"):
        written |= set(re.findall(r'output_dir / "([^"]+)"', template.read_text()))
    assert written, "the pattern finds the outputs"
    assert written <= set(mod.RUN_OUTPUTS), written - set(mod.RUN_OUTPUTS)


def test_keep_metrics_until_rewrites_atomically_and_only_when_needed(tmp_path):
    mod = load_module(write_script(tmp_path, "train", {}))
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1}\n{"epoch": 2}\n')
    inode = path.stat().st_ino
    mod.keep_metrics_until(path, 2)
    assert path.stat().st_ino == inode, "nothing to drop: not rewritten"
    (tmp_path / ".metrics.jsonl.tmp7").write_text("left by a killed run")
    path.write_text('{"epoch": 1}\n{"epoch": 2}\n{"epoch": 3}\n{"epo')
    mod.keep_metrics_until(path, 2)
    assert path.read_text() == '{"epoch": 1}\n{"epoch": 2}\n'
    assert path.stat().st_ino != inode, "replaced by rename, never truncated in place"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


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
