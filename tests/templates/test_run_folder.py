"""The run folder on hostile ground: one run per folder, and --overwrite.

Every test here attacks the real rendered script in real processes: concurrent runs into one
--output-dir (synchronised on the runs' own output and SIGSTOP, never on sleeps) and a run
killed after --overwrite. Signals and unwritable folders are in test_run_stops.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import ROOT, load_module, run_script, write_script
from processes import ENDLESS, epochs_logged, reaped, start, torchrun, whole_lines

TINY = ["--train-size", "64", "--val-size", "32", "--batch-size", "16", "--image-size", "8"]


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
