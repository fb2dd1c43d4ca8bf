"""snippetgen: tested PyTorch training recipes, rendered into runnable scripts."""

from snippetgen.catalog import Catalog, load_catalog
from snippetgen.errors import SnippetgenError
from snippetgen.recipe import Param, Recipe
from snippetgen.render import RenderRequest, render

__version__ = "0.1.0"

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
