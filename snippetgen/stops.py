"""How a command stops early: Ctrl-C ("interrupted", exit 130) and a reader that went away
(quietly, exit 141). Shared by the entry point (:mod:`snippetgen.launch`) and the CLI's group
(:mod:`snippetgen.usage`); like the entry point, it imports only what Python has loaded at start.
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
