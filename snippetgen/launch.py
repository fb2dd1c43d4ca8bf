"""The console script's entry point: Ctrl-C and closed pipes, from the first import to exit.

``snippetgen`` (the console script) and ``python -m snippetgen`` call :func:`main`. This
module imports nothing that is not loaded already when Python starts, so a Ctrl-C that
lands while Typer and the CLI are imported, while a command runs, or while the output is
flushed at the end gives the same result: "interrupted" on stderr and exit code 130, never
a traceback. A reader that stops early (``snippetgen list | head -1``) ends the command
quietly with exit code 141, what a shell reports for a tool stopped by SIGPIPE.

A Ctrl-C before any snippetgen code runs (while the interpreter itself starts) is Python's.
"""

import os
import sys

INTERRUPTED = 130
BROKEN_PIPE = 141  # 128 + SIGPIPE

_said = False


def interrupted(*, again: bool = True) -> int:
    """Say "interrupted" on stderr (with ``again=False``, only if not said already);
    the exit code to use."""
    global _said
    if again or not _said:
        _said = True
        try:
            sys.stderr.write("interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed or its reader gone: nothing to tell
            pass
    return INTERRUPTED


def broken_pipe() -> int:
    """Point stdout and stderr, where their reader has gone, at /dev/null, so that neither
    this command nor Python's final flush writes there again; the exit code to use."""
    import select

    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
            poll = select.poll()
            poll.register(fd, select.POLLOUT)
            if not any(event & select.POLLERR for _, event in poll.poll(0)):
                continue  # this one still has a reader
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # no real file (tests, closed stream)
            continue
    return BROKEN_PIPE


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
