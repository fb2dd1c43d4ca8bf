"""Command-line usage errors in snippetgen's format: one sentence on stderr, exit code 2.

Click, under Typer, reports a misspelt command or option, a missing argument or a value
its own type rejects with the usage line, a hint and then the error, four lines in all.
:class:`OneLineErrors`, the app's group class, prints the same error as the sentence every
other refusal uses (``error: ...``), adds the closest command names to an unknown command,
and keeps every exit code (0, 2, 130) as it was. It also owns the two ways a command can
stop early, whatever runs at the time (parsing, a command, click's own --help): Ctrl-C says
"interrupted" (exit 130) and a reader that went away ends it quietly (exit 141).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from snippetgen.errors import closest
from snippetgen.stops import broken_pipe, interrupted

try:  # Typer 0.2x ships its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # older Typer runs on click itself
    from click import exceptions as click_exceptions  # type: ignore[no-redef]


def _sentence(message: str) -> str:
    message = message.strip()
    return message if message.endswith((".", "?", "!")) else message + "."


def usage_sentence(exc: click_exceptions.UsageError, command: str | None = None) -> str:
    """``error: <what click found>. Run '<command> --help' for usage.``

    An error from click's option parser carries no context; ``command`` (the command
    named on the line, if any) then says whose help to read."""
    if exc.ctx is not None:
        where = exc.ctx.command_path
    else:
        where = f"snippetgen {command}" if command else "snippetgen"
    return f"error: {_sentence(exc.format_message())} Run '{where} --help' for usage."


@contextlib.contextmanager
def _stops() -> Iterator[None]:
    """Ctrl-C and a closed stdout as exit codes, before Typer turns them into its own."""
    try:
        yield
    except KeyboardInterrupt:
        raise typer.Exit(interrupted()) from None
    except BrokenPipeError:
        raise typer.Exit(broken_pipe()) from None


class OneLineErrors(TyperGroup):
    """The CLI's group: click's usage errors as one line, unknown commands with suggestions."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _stops():  # the group's own options, --help included
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _stops():  # the command: its options, --help, and its work
            return super().invoke(ctx)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click_exceptions.UsageError:
            name = args[0] if args else ""
            close = closest(name, self.list_commands(ctx)) if name[:1] not in ("", "-") else []
            if close:
                names = ", ".join(repr(c) for c in close)
                raise click_exceptions.UsageError(
                    f"No such command {name!r}; did you mean {names}?", ctx
                ) from None
            raise

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        run = super().main
        if not standalone_mode:
            return run(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = run(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except click_exceptions.UsageError as exc:
            words = sys.argv[1:] if args is None else list(args)
            commands = set(self.commands)
            command = next((word for word in words if word in commands), None)
            typer.echo(usage_sentence(exc, command), err=True)
            sys.exit(exc.exit_code)
        except click_exceptions.ClickException as exc:
            typer.echo(f"error: {_sentence(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:  # end of input at a prompt
            typer.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)
