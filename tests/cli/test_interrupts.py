"""The CLI stopped from outside: a reader that went away ends it quietly, a closed stderr
still delivers stdout, and Ctrl-C at any moment (from the first import on, and after the
output is flushed) says so in one line and exits 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from helpers import ROOT
from processes import start_paused

# --- closed pipes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["new", "proj", "--dry-run"],
        ["render", "mixup"],
        ["which", "mixup"],
        ["--help"],
        ["render", "mixup", "--help"],
        ["show", "mixup"],
    ],
    ids=" ".join,
)
def test_a_reader_that_went_away_ends_the_command_quietly(tmp_path, args):
    """stdout is a pipe whose reader has gone (`| head -1` once head exits): no traceback,
    no "Exception ignored" at shutdown, nothing written; exit 141 like any tool stopped by
    SIGPIPE."""
    reader, writer = os.pipe()
    os.close(reader)  # closed before the command starts: every write to stdout fails
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "snippetgen", *args],
            cwd=tmp_path,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)
    assert (proc.returncode, proc.stderr) == (141, "")
    assert list(tmp_path.iterdir()) == []


def test_a_closed_stderr_still_delivers_stdout(tmp_path):
    reader, writer = os.pipe()
    os.close(reader)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "snippetgen", "new", "proj", "--dry-run"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=writer,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)
    # the last file `new` lists: the pristine copy's last (see snippetgen.project.pristine)
    assert proc.stdout.splitlines()[-1].startswith("proj/.snippetgen/pristine/.gitignore")
    assert proc.returncode == 141


# --- Ctrl-C at any moment --------------------------------------------------------------------


def console_script(folder: Path) -> Path:
    """The script `pip install` makes from [project.scripts] (the same text pip writes)."""
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["snippetgen"]
    module, func = entry.split(":")
    script = folder / "snippetgen-console-script"
    script.write_text(
        "import re\nimport sys\n"
        f"from {module} import {func}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({func}())\n"
    )
    return script


# Stands in for typer: says "importing" and waits, so that a signal lands mid-import.
TYPER_SHIM = 'import os\nos.write(2, b"importing typer\\n")\nos.read(0, 1)\n'


@pytest.mark.parametrize("how", ["console-script", "python-m"])
def test_ctrl_c_while_the_cli_is_imported(tmp_path, how):
    shim = tmp_path.parent / f"{tmp_path.name}-shim"
    (shim / "typer").mkdir(parents=True)
    (shim / "typer" / "__init__.py").write_text(TYPER_SHIM)
    start = (
        [sys.executable, str(console_script(shim))]
        if how == "console-script"
        else [sys.executable, "-m", "snippetgen"]
    )
    proc = subprocess.Popen(
        [*start, "list"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(shim)},
    )
    assert proc.stderr.readline() == "importing typer\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (130, "", "interrupted\n")


MOMENTS = {
    "parsing-arguments": ("snippetgen.usage:OneLineErrors.resolve_command", ["render", "mixup"]),
    "loading-recipes": ("snippetgen.recipes.catalog:load_catalog", ["render", "mixup"]),
    "rendering": ("snippetgen.codegen.codecheck:format_source", ["render", "mixup"]),
    "writing": ("os:fsync", ["render", "mixup", "-o", "train.py"]),
    "saving-the-cache-on-exit": ("snippetgen.codegen.cache:flush", ["render", "mixup"]),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_at_any_moment_says_interrupted_and_exits_130(tmp_path, monkeypatch, moment):
    monkeypatch.setenv("SNIPPETGEN_NO_CACHE", "1")  # so black really runs
    where, args = MOMENTS[moment]
    proc = start_paused(tmp_path, where, *args)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err == "interrupted\n", err
    if moment == "saving-the-cache-on-exit":  # the render was complete and printed by then
        assert out.startswith("# Generated by snippetgen")
    else:
        assert out == ""
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_after_the_output_is_flushed(tmp_path):
    """The command has finished and its output is out: a Ctrl-C now still ends the process
    with "interrupted" and 130, never a traceback from interpreter shutdown."""
    wrapper = tmp_path.parent / f"{tmp_path.name}-late.py"
    wrapper.write_text(
        textwrap.dedent("""\
        import os, signal, sys
        real = signal.signal

        def installs_then_interrupts(signum, handler):
            previous = real(signum, handler)
            os.kill(os.getpid(), signal.SIGINT)  # lands just after launch's last handler
            return previous

        signal.signal = installs_then_interrupts
        from snippetgen.launch import main
        sys.argv = ["snippetgen", "which", "mixup"]
        main()
    """)
    )
    proc = subprocess.run(
        [sys.executable, str(wrapper)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 130 and proc.stderr == "interrupted\n"
    assert proc.stdout.splitlines()[-1].endswith("mixup")
