"""The serve command: the local web composer."""

from typing import Annotated

import typer

from snippetgen.cli.base import app, err, guard, load_recipes


@app.command()
@guard
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="address to listen on (default 127.0.0.1, this machine only; "
            "another address lets other machines in)",
        ),
    ] = None,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="port (default 0: a free one)")
    ] = 0,
    open_browser: Annotated[bool, typer.Option("--open", help="open it in a browser")] = False,
) -> None:
    """Serve the web composer on this machine: search, cheat sheets, compose with a live
    preview, download .py, .ipynb or a project zip. Prints its URL."""
    from snippetgen.web import require_web

    require_web()
    from snippetgen.web.serve import serve as run_server

    run_server(load_recipes(), host=host, port=port, open_browser=open_browser, say=err)
