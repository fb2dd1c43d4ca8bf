"""The web composer's HTTP side: pages, the JSON API and downloads (Starlette).

Nothing here reads or writes a file a request names: pages come from the package's own
``pages/`` and ``static/`` folders, renders from the catalog loaded at start-up, projects are
zipped in memory. Every request is a GET whose query is checked by
:mod:`snippetgen.web.selection` before anything is rendered; a refusal is the CLI's sentence.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from anyio import CapacityLimiter, to_thread
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snippetgen.errors import RecipeBug, SnippetgenError, UnknownRecipeError
from snippetgen.recipes.catalog import Catalog, load_catalog
from snippetgen.web import downloads, views
from snippetgen.web.highlight import code_css
from snippetgen.web.preview import Previews, answer, preview, rendered
from snippetgen.web.selection import (
    MAX_FIELDS,
    RECIPE_KEY,
    Selection,
    SelectionError,
    check_query_size,
    read_search,
    read_selection,
)

HERE = Path(__file__).parent
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
SEARCH_LIMIT = 12
SHOWN_HEADER = "snippetgen-shown"  # the key of the preview a page shows
HEADERS = {
    # Pages load only their own script and style; nothing may frame them.
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
log = logging.getLogger("snippetgen.web")


def _pairs(request: Request) -> list[tuple[str, str]]:
    """The query's (key, value) pairs, refused when too long, not UTF-8 or not a query."""
    raw: bytes = request.scope.get("query_string", b"")
    check_query_size(raw)
    try:
        return parse_qsl(
            raw.decode("ascii"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS
        )
    except UnicodeError:
        raise SelectionError("The request's query is not UTF-8 text.") from None
    except ValueError:
        raise SelectionError(f"The query has more than {MAX_FIELDS} fields.") from None


def _selection(request: Request, recipe: str | None = None) -> Selection:
    pairs = _pairs(request)
    if recipe is not None:
        pairs = [(RECIPE_KEY, recipe), *pairs]
    return read_selection(pairs)


# Renders that miss the cache (Jinja, black: up to a second of CPU each) run at most one per
# core at a time; more wait their turn without holding a worker thread that a search needs.
# A limiter belongs to its event loop: one per loop (a test client may run several).
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)
T = TypeVar("T")


async def rendering(func: Callable[..., T], *args: Any) -> T:
    """func(*args) in a worker thread, within the render limit."""
    loop = asyncio.get_running_loop()
    limiter = _LIMITERS.get(loop)
    if limiter is None:
        limiter = _LIMITERS[loop] = CapacityLimiter(max(1, os.cpu_count() or 1))
    return await to_thread.run_sync(func, *args, limiter=limiter)


def _status(exc: SnippetgenError) -> int:
    if isinstance(exc, UnknownRecipeError):
        return 404
    return 500 if isinstance(exc, RecipeBug) else 400


class _Pages:
    """The HTML pages, rendered from the package's own templates (escaped by default)."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(HERE / "pages"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def __call__(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status)


def create_app(
    catalog: Catalog | None = None, *, allowed_hosts: Sequence[str] | None = LOCAL_HOSTS
) -> Starlette:
    """The web app over `catalog` (default: every recipe, as the CLI loads them).

    `allowed_hosts` are the Host headers it answers (default: loopback names only, so that a
    web page elsewhere cannot reach it through DNS rebinding); None answers any.
    """
    recipes = catalog if catalog is not None else load_catalog()
    page = _Pages()
    css = code_css()
    previews = Previews()  # the latest previews, highlighted: a page is sent what changed

    def error_page(exc: SnippetgenError) -> HTMLResponse:
        return page("error.html", _status(exc), message=str(exc))

    # Plain functions run in Starlette's worker threads: a slow search never holds up the
    # event loop, and so never the other requests.
    def index(request: Request) -> Response:
        try:
            query = read_search(_pairs(request))
        except SnippetgenError as exc:
            return error_page(exc)
        rows = views.search_rows(recipes, query, SEARCH_LIMIT)
        return page("index.html", query=query, rows=rows, total=len(recipes))

    def search(request: Request) -> Response:
        try:
            query = read_search(_pairs(request))
        except SnippetgenError as exc:
            return JSONResponse({"error": str(exc)}, status_code=_status(exc))
        return JSONResponse(views.search_rows(recipes, query, SEARCH_LIMIT))

    def recipe_page(request: Request) -> Response:
        try:
            selection = _selection(request, request.path_params["name"])
            return page("recipe.html", **views.sheet(recipes, selection))
        except SnippetgenError as exc:
            return error_page(exc)

    async def compose(request: Request) -> Response:
        try:
            selection = _selection(request)
            state = await rendering(views.composer, recipes, selection, previews)
        except SnippetgenError as exc:
            return error_page(exc)
        return page("compose.html", selection=selection, **state)

    async def live_preview(request: Request) -> Response:
        # A cached render is answered at once; only a miss (Jinja, black: up to a second)
        # goes to a worker thread, so that it does not hold up other requests. The page
        # names the preview it shows (SHOWN_HEADER) and gets the lines that changed.
        try:
            selection = _selection(request)
            made = preview(recipes, selection, previews, cached_only=True)
            if made is None:
                made = await rendering(rendered, recipes, selection, previews)
        except SnippetgenError as exc:
            failed = {"error": str(exc), "field": views.error_field(exc)}
            return JSONResponse(failed, status_code=_status(exc))
        body = answer(previews, made, request.headers.get(SHOWN_HEADER))
        return JSONResponse({**body, "query": selection.query()})

    makers = {
        "py": downloads.download_script,
        "ipynb": downloads.download_notebook,
        "zip": downloads.download_project,
    }

    async def download(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in makers:
            return Response("Downloads are py, ipynb and zip.\n", 404, media_type="text/plain")
        try:
            made = await rendering(makers[kind], recipes, _selection(request))
        except SnippetgenError as exc:
            return Response(f"{exc}\n", _status(exc), media_type="text/plain")
        disposition = f'attachment; filename="{made.filename}"'  # a checked name: see selection
        return Response(
            made.body, media_type=made.media_type, headers={"content-disposition": disposition}
        )

    async def code_style(request: Request) -> Response:
        return Response(css, media_type="text/css")

    routes = [
        Route("/", index),
        Route("/api/search", search),
        Route("/api/preview", live_preview),
        Route("/recipe/{name}", recipe_page),
        Route("/compose", compose),
        Route("/download/{kind}", download),
        Route("/static/code.css", code_style),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(_Headers)]  # the first is the outermost: every answer gets them
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(routes=routes, middleware=middleware, exception_handlers={500: _crash})


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("error answering %s", request.url.path, exc_info=exc)
    return Response("snippetgen could not answer this request.\n", 500, media_type="text/plain")


class _Headers:
    """Adds the security headers (HEADERS) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                held = [(k, v) for k, v in message.get("headers", [])]
                named = {k.lower() for k, _ in held}
                held += [
                    (k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in named
                ]
                message["headers"] = held
            await send(message)

        await self.app(scope, receive, with_headers)


__all__ = ["create_app"]
