"""The Typer app and what every command shares: the one-sentence error guard, the
recipe catalog with its warnings, the --data/--model options, output of rows and code."""

import functools
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from snippetgen.completion import complete_feature
from snippetgen.errors import SnippetgenError, UserError
from snippetgen.output import Color, highlight, use_color
from snippetgen.recipes.catalog import Catalog, load_catalog
from snippetgen.recipes.datamodel import (
    BUILTIN_MODELS,
    DATA_SOURCES,
    DEFAULT_DATA,
    DEFAULT_MODEL,
)
from snippetgen.usage import OneLineErrors

if TYPE_CHECKING:  # rendering is imported by the commands that render
    pass

app = typer.Typer(
    cls=OneLineErrors,
    name="snippetgen",
    help="Look up PyTorch training recipes and render them into runnable scripts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])
# The context of a command that takes recipe parameters (--NAME VALUE) beside its own options:
# the recipe checks them, not Click.
RECIPE_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}
WithOption = Annotated[
    list[str] | None,
    typer.Option("--with", help="add a feature (repeatable)", autocompletion=complete_feature),
]
DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        help=f"training data: {'|'.join(DATA_SOURCES)} (default {DEFAULT_DATA}); "
        "the script reads it from --data-path",
        autocompletion=lambda: list(DATA_SOURCES),
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help=f"architecture: {'|'.join(BUILTIN_MODELS)}, timm:NAME or torchvision:NAME "
        f"(default {DEFAULT_MODEL}; mlp for --data csv)",
        autocompletion=lambda: list(BUILTIN_MODELS),
    ),
]


def err(message: str) -> None:
    typer.echo(message, err=True)


def guard(func: F) -> F:
    """One sentence for a snippetgen error (Ctrl-C and closed pipes: see OneLineErrors)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except SnippetgenError as exc:
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def load_recipes(quiet: Iterable[str | None] = (), *, only: Iterable[str] | None = None) -> Catalog:
    """Load the recipes (with `only`, just those: see load_catalog); warn about broken ones
    (except those in `quiet`, which the command reports as its error); on a terminal, note
    every recipe that overrides another."""
    catalog = load_catalog(names=only)
    hush = {id(catalog.shadowed[n]) for n in quiet if n in catalog.shadowed}
    for problem in catalog.broken:
        if id(problem) not in hush:
            err(f"warning: skipped: {problem}")
    if sys.stderr.isatty():  # a hint for people; scripts see the override in `list`/`which`
        from snippetgen.recipes.userrecipes import override_notes

        for note in override_notes(catalog):
            err(note)
    return catalog


def emit(text: str, color: Color, *, code: bool = False) -> None:
    if code and use_color(color):
        text = highlight(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def wrapped_rows(rows: list[tuple[str, str]]) -> str:
    """Rows of (head, text), one line each; on a terminal, wrapped to its width with the
    continuation lines under the text (a narrow terminal: under a small indent)."""
    if not sys.stdout.isatty():  # piped: one record a line, for scripts
        return "\n".join(head + text for head, text in rows)
    import shutil
    import textwrap

    columns = shutil.get_terminal_size().columns
    out = []
    for head, text in rows:
        indent = " " * (len(head) if columns - len(head) >= 30 else 4)
        out.append(
            textwrap.fill(
                text,
                width=max(columns, len(head) + 1),
                initial_indent=head,
                subsequent_indent=indent,
                break_on_hyphens=False,
            )
        )
    return "\n".join(out)


def notebook_format(fmt: str | None, output: Path | None) -> bool:
    """Whether --format (or, without it, an -o FILE ending in .ipynb) asks for a notebook;
    a notebook needs nbformat, checked before any work."""
    if fmt is not None and fmt not in ("py", "ipynb"):
        raise UserError(f"--format must be py or ipynb, not {fmt!r}.")
    wanted = fmt == "ipynb" or (
        fmt is None and output is not None and output.suffix.lower() == ".ipynb"
    )
    if wanted:
        from snippetgen.project.notebook import require_nbformat

        require_nbformat()
    return wanted
