"""snippetgen: tested PyTorch training recipes, rendered into runnable scripts."""

# The console script imports this package before snippetgen.launch can catch a Ctrl-C, so it
# imports nothing at all: not typing (mypy reads any constant named TYPE_CHECKING as true),
# not __future__ (the annotations below are strings).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from snippetgen.codegen.rendering import RenderRequest, render
    from snippetgen.errors import SnippetgenError
    from snippetgen.recipes.catalog import Catalog, load_catalog
    from snippetgen.recipes.params.schema import Param
    from snippetgen.recipes.recipe import Recipe

__version__ = "0.1.0"

# The public names, each loaded on first use: `snippetgen list` should not pay for the renderer.
_LAZY = {
    "Catalog": "snippetgen.recipes.catalog",
    "load_catalog": "snippetgen.recipes.catalog",
    "SnippetgenError": "snippetgen.errors",
    "Param": "snippetgen.recipes.params.schema",
    "Recipe": "snippetgen.recipes.recipe",
    "RenderRequest": "snippetgen.codegen.rendering",
    "render": "snippetgen.codegen.rendering",
}

__all__ = [
    "Catalog",
    "Param",
    "Recipe",
    "RenderRequest",
    "SnippetgenError",
    "__version__",
    "load_catalog",
    "render",
]


def __getattr__(name: str) -> "Any":
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'snippetgen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> "list[str]":
    return sorted(set(globals()) | set(_LAZY))
