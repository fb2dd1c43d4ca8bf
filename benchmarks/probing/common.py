"""The probe's vocabulary: outcomes and their tally, and running a command in its own process
group with a timeout."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PY = sys.executable
CLI = [PY, "-m", "snippetgen"]
TRACEBACK = "Traceback (most recent call last)"
OK_CODES = {0, 1, 2, 3, 130}
MEMORY_LIMIT = 4 << 30  # address space of every child: a runaway allocation fails, not the machine

# outcome names, in the order the first one that applies wins
SEVERITY = ("hang", "traceback", "lost", "unsafe", "other", "refused", "accepted")
FAILURES = ("traceback", "hang", "unsafe", "lost", "other")
COLUMNS = [
    ("inputs tried", "tried"),
    ("refused cleanly", "refused"),
    ("tracebacks", "traceback"),
    ("hangs", "hang"),
    ("unsafe outputs", "unsafe"),
    ("data lost", "lost"),
    ("other failures", "other"),
]

SIZES: dict[str, dict[str, int]] = {
    # junk values per parameter; names per family; cases per family; trials
    "quick": {
        "junk_per_param": 1,
        "new_names": 14,
        "answers": 16,
        "user_recipes": 30,
        "cache": 17,
        "flips": 3,
        "truncations": 1,
        "crafted": 4,
        "pretrained": 3,
        "sigkill": 2,
        "sigint": 2,
        "concurrent": 1,
        "ctrl_c": 3,
        "data_random": 3,
    },
    "full": {
        "junk_per_param": 8,
        "new_names": 1000,
        "answers": 1000,
        "user_recipes": 1000,
        "cache": 1000,
        "flips": 40,
        "truncations": 8,
        "crafted": 1000,
        "pretrained": 1000,
        "sigkill": 15,
        "sigint": 15,
        "concurrent": 6,
        "ctrl_c": 12,
        "data_random": 100,
    },
}

TINY = [
    "--train-size",
    "64",
    "--val-size",
    "32",
    "--batch-size",
    "16",
    "--image-size",
    "8",
    "--device",
    "cpu",
    "--num-workers",
    "0",
    "--seed",
    "0",
]
LONGER = [
    "--train-size",
    "384",
    "--val-size",
    "64",
    "--batch-size",
    "16",
    "--image-size",
    "8",
    "--device",
    "cpu",
    "--num-workers",
    "0",
    "--seed",
    "0",
    "--epochs",
    "4",
]


# --- outcomes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    outcome: str
    why: str = ""


ACCEPTED = Verdict("accepted")
REFUSED = Verdict("refused")


def worst(*verdicts: Verdict | None) -> Verdict:
    found = [v for v in verdicts if v is not None]
    return min(found, key=lambda v: SEVERITY.index(v.outcome)) if found else ACCEPTED


def short(text: Any, limit: int = 110) -> str:
    shown = ascii(text) if not isinstance(text, str) else ascii(text)[1:-1]
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


@dataclass
class Tally:
    channel: str
    verbose: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITY, 0))
    examples: list[str] = field(default_factory=list)
    probe_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, label: str, verdict: Verdict) -> None:
        self.counts[verdict.outcome] += 1
        if self.verbose:
            print(
                f"  {self.channel}: {short(label, 60)} -> {verdict.outcome} {verdict.why}",
                file=sys.stderr,
            )
        if verdict.outcome in FAILURES:
            self.examples.append(f"[{verdict.outcome}] {short(label, 70)}: {verdict.why}")

    @property
    def tried(self) -> int:
        return sum(self.counts.values())

    def row(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "tried": self.tried,
            **self.counts,
            "seconds": round(self.seconds, 1),
            "examples": self.examples,
            "probe_errors": self.probe_errors,
        }


# --- running things -----------------------------------------------------------------------------


@dataclass
class Run:
    argv: list[str]
    rc: int | None
    out: bytes
    err: bytes
    timed_out: bool
    wall: float
    sent: int | None = None
    line_at: float | None = None  # seconds from start to the first stdout match of `wait_for`

    @property
    def errtext(self) -> str:
        return self.err.decode("utf-8", "replace")

    @property
    def lines(self) -> list[str]:
        return [line for line in self.errtext.splitlines() if line.strip()]

    @property
    def first_line(self) -> str:
        """The message: the first stderr line, or a traceback's last line and innermost frame."""
        lines = self.lines
        if TRACEBACK not in self.errtext:
            return short(lines[0] if lines else "", 120)
        frames = [m.groups() for m in re.finditer(r'File "([^"]+)", line (\d+)', self.errtext)]
        where = f" (at {Path(frames[-1][0]).name}:{frames[-1][1]})" if frames else ""
        return short(lines[-1], 110 - len(where)) + where


_LIVE: set[int] = set()
_LIVE_LOCK = threading.Lock()


def _exited(pid: int, timeout: float) -> bool:
    """Whether the child exited within `timeout` (left unreaped: its group id stays ours)."""
    deadline = time.monotonic() + max(timeout, 0)
    while True:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None and info.si_pid == pid:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def kill_leftovers() -> None:
    with _LIVE_LOCK:
        for pid in list(_LIVE):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


class Runner:
    def __init__(self, scratch: Path, env: dict[str, str], scale: float) -> None:
        self.scratch = scratch
        self.env = env
        self.cli_timeout = 20 * scale
        self.train_timeout = 90 * scale
        self._count = itertools.count()

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        send: int | None = None,
        delay: float = 0.0,
        wait_for: bytes | None = None,
    ) -> Run:
        """Run `argv` in its own process group with stdout/stderr in files; optionally send
        `send` to the group `delay` seconds after the start (or after `wait_for` first
        appears on stdout). Whatever happens, the whole group is killed before returning."""
        n = next(self._count)
        out_path, err_path = self.scratch / f"{n}.out", self.scratch / f"{n}.err"
        timeout = self.cli_timeout if timeout is None else timeout
        start = time.monotonic()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env or self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        with _LIVE_LOCK:
            _LIVE.add(proc.pid)
        sent = None
        line_at = None
        timed_out = False
        try:
            with contextlib.suppress(OSError):
                resource.prlimit(proc.pid, resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
            done = False
            if wait_for is not None:
                while not done and time.monotonic() - start < timeout:
                    if wait_for in out_path.read_bytes():
                        line_at = time.monotonic() - start
                        break
                    done = _exited(proc.pid, 0.02)
            if send is not None and not done:
                done = _exited(proc.pid, delay)
                if not done:
                    with contextlib.suppress(OSError):
                        os.killpg(proc.pid, send)
                    sent = send
            remaining = timeout - (time.monotonic() - start)
            timed_out = not _exited(proc.pid, remaining)
        finally:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group: children that outlived it
            proc.wait()
            with _LIVE_LOCK:
                _LIVE.discard(proc.pid)
        run = Run(
            list(argv),
            None if timed_out else proc.returncode,
            out_path.read_bytes(),
            err_path.read_bytes(),
            timed_out,
            time.monotonic() - start,
            sent,
            line_at,
        )
        out_path.unlink()
        err_path.unlink()
        return run


def crash(run: Run) -> Verdict | None:
    """Hang or traceback, by the definitions above; None when neither."""
    if run.timed_out:
        return Verdict("hang", f"no exit after {run.wall:.0f} s")
    if TRACEBACK in run.errtext:
        return Verdict("traceback", run.first_line)
    assert run.rc is not None
    if run.rc < 0 and -run.rc != run.sent:
        return Verdict("traceback", f"killed by signal {-run.rc}")
    if run.rc >= 0 and run.rc not in OK_CODES:
        return Verdict("traceback", f"exit {run.rc}: {run.first_line}")
    return None


def refusal(run: Run) -> Verdict | None:
    """The verdict of a failing call (None when it succeeded: the caller judges that)."""
    found = crash(run)
    if found is not None:
        return found
    if run.rc == 0:
        return None
    lines = run.lines
    if run.rc == 2 and len(lines) == 1 and not run.out.strip():
        return REFUSED
    if run.out.strip() and run.rc != 130:
        return Verdict("unsafe", f"exit {run.rc} but {len(run.out)} bytes on stdout")
    return Verdict("other", f"exit {run.rc} with {len(lines)} stderr lines: {run.first_line}")
