"""The console script's entry point: Ctrl-C and closed pipes, from the first import to exit.

``snippetgen`` (the console script) and ``python -m snippetgen`` call :func:`main`. This
module (and :mod:`snippetgen.stops`, which it uses) imports nothing that is not loaded already
when Python starts, so a Ctrl-C that lands while Typer and the CLI are imported, while a
command runs, or while the output is flushed at the end gives the same result: "interrupted"
on stderr and exit code 130, never a traceback. A reader that stops early (``snippetgen list | head -1``) ends the command
quietly with exit code 141, what a shell reports for a tool stopped by SIGPIPE.

A Ctrl-C before any snippetgen code runs (while the interpreter itself starts) is Python's.
"""

import os
import sys

from snippetgen.stops import broken_pipe, interrupted


def _late_interrupt(signum: int, frame: object) -> None:
    """Ctrl-C once the command is done and its output flushed: exit at once."""
    os._exit(interrupted(again=False))


def main() -> None:
    """Run the CLI on sys.argv; exits with the command's status (130 on Ctrl-C)."""
    try:
        try:
            from snippetgen.cli import main as cli_main

            cli_main()
            code: int | str | None = 0
        except SystemExit as exc:
            code = exc.code
        for stream in (sys.stdout, sys.stderr):  # here, not at interpreter shutdown
            stream.flush()
    except KeyboardInterrupt:
        code = interrupted(again=False)
    except BrokenPipeError:
        code = broken_pipe()
    try:  # from here to the end of the process, a Ctrl-C has nothing left to stop
        import signal

        signal.signal(signal.SIGINT, _late_interrupt)
    except KeyboardInterrupt:
        code = interrupted(again=False)
    except ValueError:  # not the main thread (main() called from a thread): leave it
        pass
    raise SystemExit(code)
