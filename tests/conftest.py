"""Fixtures every test gets: a private render cache, one thread per worker, the CLI runner.
Shared helper functions live in helpers.py."""

from __future__ import annotations

import os
import signal
import sys
import warnings

import pytest

# A suite started in the background (`cmd &` in a script, nohup) inherits SIGINT ignored, and
# would pass that on to every CLI and script the tests interrupt: give them the standard
# Ctrl-C and SIGTERM, however the suite was started.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM])

# Keep each test process to one thread: the suite runs workers in parallel on small machines.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renders never touch the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    """One torch thread per worker, for the tests that import torch (others never load it)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


@pytest.fixture()
def cli():
    """Invoke the CLI in-process; returns (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from snippetgen.cli import app

    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return invoke


@pytest.fixture(autouse=True)
def _signals_as_found():
    """Every test leaves SIGINT and SIGTERM as it found them (handler and mask): an ignored
    or blocked signal is inherited by every process a later test starts, and the tests
    that Ctrl-C the CLI would then see it ignored. A test that changed them is named in the
    warnings summary."""
    watched = (signal.SIGINT, signal.SIGTERM)
    before = {sig: signal.getsignal(sig) for sig in watched}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    changed = [sig.name for sig in watched if signal.getsignal(sig) is not before[sig]]
    if signal.pthread_sigmask(signal.SIG_SETMASK, mask) != mask:
        changed.append("mask")
    for sig, handler in before.items():
        if handler is not None:
            signal.signal(sig, handler)
    if changed:
        warnings.warn(f"restored {', '.join(changed)} after this test changed them", stacklevel=1)
