"""The local web composer (``snippetgen serve``): search, cheat sheets, a composer with a live
preview, and downloads, on top of the same plan, validation and render cache as the CLI.

The pages and the JSON API live in :mod:`snippetgen.web.app`; what a request may ask for is
checked in :mod:`snippetgen.web.selection`; what a page shows is computed, without any web
framework, in :mod:`snippetgen.web.views`, and the downloads in :mod:`snippetgen.web.downloads`. Starlette and uvicorn come with the
``snippetgen[web]`` extra.
"""

from __future__ import annotations

from snippetgen.errors import UserError

WEB_EXTRA = "pip install 'snippetgen[web]'"


def require_web() -> None:
    """Refuse in one sentence when the web extra (Starlette, uvicorn) is missing."""
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(
            f"snippetgen serve needs {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; install the web extra: "
            f"{WEB_EXTRA}"
        )
