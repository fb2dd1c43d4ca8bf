"""The command line: a thin Typer layer over the library API.

Every command runs inside :func:`snippetgen.cli.base.guard`, which turns snippetgen errors into one
sentence on stderr and an exit code (2 for bad input); the group (snippetgen.usage) turns
Ctrl-C into exit 130 and a closed stdout into a quiet exit 141. The console script starts in
snippetgen.launch, which covers the imports of this package too. Each module of the package
holds a group of commands: lookup (list, search, show), render, recipes (which, copy),
project (new, update), serve.
"""

# Each module registers its commands on the app; this order is the order of --help.
# isort: off
from snippetgen.cli import lookup, render, recipes, project, serve  # noqa: F401

# isort: on
from snippetgen.cli.base import app

__all__ = ["app", "main"]


def main() -> None:
    import gc

    from snippetgen.codegen import cache

    # One command runs, then the process exits, so what is imported by now (Typer and
    # snippetgen's modules) lives until then: freeze it, and the cyclic collector stops
    # rescanning it in every full collection while rendering allocates (black's parse
    # trees). That was a sixth of a cold render's CPU time (docs/performance.md).
    gc.freeze()

    try:
        app()
    finally:
        cache.flush()  # keep the parsed recipe.toml files for the next run (best effort)
