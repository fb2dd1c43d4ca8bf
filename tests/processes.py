"""snippetgen and the programs around it run as real processes: the CLI (plain, on a
pseudo-terminal, or paused inside a function of its own), torchrun, a generated project's own
tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 120)
    return subprocess.run(
        [sys.executable, "-m", "snippetgen", *args],
        capture_output=True,
        text=True,
        **kwargs,
    )


def assert_one_sentence(result, *fragments: str, exit_code: int = 2) -> str:
    code, out, err = result
    assert code == exit_code, (code, out, err)
    assert out == "", "errors never reach stdout"
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# A wrapper that runs the real CLI (from snippetgen.launch, as the console script does) and,
# at the first call of OWNER.NAME, says "paused" on stderr and waits for stdin to close (or a
# signal): the test then acts at exactly that moment.
PAUSE_DURING = textwrap.dedent("""\
    import importlib, os, sys
    owner = importlib.import_module({module!r})
    for part in {within!r}:
        owner = getattr(owner, part)
    real = getattr(owner, {name!r})
    calls = []

    def paused(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            os.write(2, b"paused\\n")
            os.read(0, 1)
        return real(*args, **kwargs)

    setattr(owner, {name!r}, paused)
    from snippetgen.launch import main
    sys.argv = ["snippetgen", *sys.argv[1:]]
    main()
""")


def start_paused(tmp_path, where, *args, cwd=None):
    """Start the CLI; return it once it has paused in `where` ("module:Class.function")."""
    module, _, attribute = where.partition(":")
    *within, name = attribute.split(".")
    wrapper = tmp_path.parent / f"{tmp_path.name}-pause-{name}.py"
    wrapper.write_text(PAUSE_DURING.format(module=module, within=within, name=name))
    proc = subprocess.Popen(
        [sys.executable, str(wrapper), *args],
        cwd=cwd or tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr.readline() == "paused\n"
    return proc


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def torchrun(
    script: Path, *args: str, cwd: Path, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`script` run by torchrun as two CPU processes (one thread each) in `cwd`; with `check`,
    it must exit 0."""
    proc = subprocess.run(
        [*TORCHRUN, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if check:
        assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def on_a_terminal(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    columns: int | None = None,
    stream: str = "stdout",
    cwd: Path | None = None,
) -> str:
    """What `python -m snippetgen ARGS` writes to `stream` ('stdout' or 'stderr') when that
    stream is a pseudo-terminal (`columns` wide, if given); the command must exit 0."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    if columns is not None:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    streams = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, stream: follower}
    proc = subprocess.Popen(
        [sys.executable, "-m", "snippetgen", *args],
        **streams,
        env=dict(os.environ) if env is None else env,
        cwd=cwd,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode()


def project_tests_pass(root: Path, env: dict[str, str] | None = None, **extra: str) -> None:
    """`python -m pytest` in a generated project's folder passes the project's three tests
    (one thread each, none of this suite's PYTEST* settings, `extra` added to `env`)."""
    environment = {
        k: v for k, v in (os.environ if env is None else env).items() if not k.startswith("PYTEST")
    }
    environment |= {"OMP_NUM_THREADS": "1", **extra}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


# --- a generated training script run as a process -----------------------------------------

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
