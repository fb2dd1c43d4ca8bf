"""The checkpoint recipe's script, run in process by the checkpoint tests: a module of it, a
run of N epochs, snapshots and copies of a run folder, and a pickled payload that would run
code if it were ever unpickled."""

from __future__ import annotations

from pathlib import Path

from helpers import load_module, write_script

FAST = ["--train-size", "64", "--val-size", "32", "--batch-size", "16"]


def checkpoint_module(tmp_path, with_=(), **params):
    return load_module(write_script(tmp_path, "checkpoint", params, with_))


def run_checkpoint(mod, out: Path, epochs: int, *extra: str):
    return mod.main(["--output-dir", str(out), "--epochs", str(epochs), *FAST, *extra])


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of `folder` but the run lock (each run rewrites it with its pid): its bytes
    and modification time."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.name != ".lock"
    }


def copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for path in src.iterdir():
        (dst / path.name).write_bytes(path.read_bytes())
    return dst


class Payload:
    """Unpickling this calls open(marker, "w"): it creates a file, i.e. runs code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))
