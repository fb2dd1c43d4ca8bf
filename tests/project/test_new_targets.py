"""What `new` writes into: only a new or a really empty folder (never a link, a FIFO or a
file); a full disk or a killed `new` leaves no project, and the next `new` cleans up."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# --- what `new` writes into ------------------------------------------------------------------


def _special_target(tmp_path, kind):
    work = tmp_path / "work"
    work.mkdir()
    target = work / "proj"
    if kind == "folder-with-a-dangling-symlink":
        target.mkdir()
        (target / "link").symlink_to(work / "nowhere")
    elif kind == "symlink-to-an-empty-folder":
        (work / "empty").mkdir()
        target.symlink_to(work / "empty")
    elif kind == "dangling-symlink":
        target.symlink_to(work / "nowhere")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "name-too-long":
        target = work / ("p" * 300)
    elif kind == "under-a-file":
        (work / "plain-file").write_text("mine\n")
        target = work / "plain-file" / "proj"
    return target


SPECIAL_TARGETS = {
    "folder-with-a-dangling-symlink": "is not empty",
    "symlink-to-an-empty-folder": "exists and is not a folder (it is a symbolic link)",
    "dangling-symlink": "exists and is not a folder (it is a symbolic link)",
    "fifo": "exists and is not a folder (it is a named pipe (FIFO))",
    "name-too-long": "File name too long",
    "under-a-file": "plain-file is not a folder",
}


@pytest.mark.parametrize("kind", list(SPECIAL_TARGETS))
def test_new_only_creates_or_fills_a_real_empty_folder(tmp_path, kind):
    """A real process (a FIFO must not block it); the file system is left as it was."""
    target = _special_target(tmp_path, kind)
    before = sorted((str(p), p.is_symlink()) for p in tmp_path.rglob("*"))
    proc = subprocess.run(
        [sys.executable, "-m", "snippetgen", "new", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: ") and SPECIAL_TARGETS[kind] in line, line
    assert sorted((str(p), p.is_symlink()) for p in tmp_path.rglob("*")) == before


def test_a_full_disk_leaves_no_project_and_no_staging_folder(tmp_path):
    def limit_file_size():  # in the child: writes past 1000 bytes fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    proc = subprocess.run(
        [sys.executable, "-m", "snippetgen", "new", "proj"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        preexec_fn=limit_file_size,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"error: Cannot create {tmp_path / 'proj'}: File too large.\n"
    assert list(tmp_path.iterdir()) == []


KILLED_NEW = """\
import os, sys
from pathlib import Path
real = Path.write_text
calls = []

def write_text(self, *args, **kwargs):
    calls.append(self)
    if len(calls) == 4:  # mid-project
        os.write(2, b"paused\\n")
        os.read(0, 1)
    return real(self, *args, **kwargs)

Path.write_text = write_text
from snippetgen.launch import main
sys.argv = ["snippetgen", *sys.argv[1:]]
main()
"""


def _kill_new_midway(tmp_path, target: Path) -> Path:
    """Run `new TARGET`, SIGKILL it mid-project; return the staging folder it left."""
    wrapper = tmp_path.parent / f"{tmp_path.name}-killed-new.py"
    wrapper.write_text(KILLED_NEW)
    proc = subprocess.Popen(
        [sys.executable, str(wrapper), "new", str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr.readline() == "paused\n"
    proc.kill()
    proc.communicate(timeout=60)
    home = target if target.is_dir() else target.parent
    (staging,) = [p for p in home.iterdir() if p.name.endswith(".snippetgen.tmp")]
    assert staging.is_dir() and staging.name.startswith(f".{target.name}.")
    return staging


def _age(path: Path) -> None:
    old = time.time() - 3600
    os.utime(path, (old, old))


def test_a_killed_new_leaves_a_staging_folder_the_next_new_removes(tmp_path):
    staging = _kill_new_midway(tmp_path, tmp_path / "first")
    assert not (tmp_path / "first").exists()
    run = [sys.executable, "-m", "snippetgen", "new"]
    assert (
        subprocess.run(
            [*run, str(tmp_path / "second")], capture_output=True, timeout=120
        ).returncode
        == 0
    )
    assert staging.exists(), "a young staging folder may be a `new` that is starting"
    _age(staging)
    assert (
        subprocess.run([*run, str(tmp_path / "third")], capture_output=True, timeout=120).returncode
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["second", "third"]


def test_a_killed_new_into_an_empty_folder_can_be_run_again(tmp_path):
    target = tmp_path / "here"
    target.mkdir()
    staging = _kill_new_midway(tmp_path, target)
    _age(staging)
    proc = subprocess.run(
        [sys.executable, "-m", "snippetgen", "new", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert not staging.exists() and (target / "README.md").is_file()
    assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]
