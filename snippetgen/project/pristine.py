"""What `snippetgen update` needs from the project as it was generated.

``snippetgen new`` (and every update) keeps a pristine copy of each generated file under
``.snippetgen/pristine/`` (same relative paths): the base of the three-way merge, so that an
update works after snippetgen itself was upgraded and the old templates are gone. The answers
file records a content hash of each recipe folder used (:func:`recipe_hashes`) and every
parameter's default, so that an update can say what changed between the two releases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snippetgen.recipes.recipe import Recipe

PRISTINE_DIR = ".snippetgen/pristine"
# files of a project that snippetgen owns outright: never merged, never kept as pristine
OWN_PREFIX = ".snippetgen/"


def generated(files: Mapping[str, str], answers_file: str) -> dict[str, str]:
    """The files of a project a user may edit: all but the answers file and the copy."""
    return {
        path: text
        for path, text in files.items()
        if path != answers_file and not path.startswith(OWN_PREFIX)
    }


def pristine_files(files: Mapping[str, str], answers_file: str) -> dict[str, str]:
    """{path under .snippetgen/pristine/: text} for every generated file of ``files``."""
    return {f"{PRISTINE_DIR}/{path}": text for path, text in generated(files, answers_file).items()}


def recipe_hash(folder: Path) -> str:
    """A SHA-256 over every file of a recipe's folder (relative names and contents)."""
    from snippetgen.codegen.digests import folder_digest

    return folder_digest(folder)


def recipe_hashes(recipes: Iterable[Recipe]) -> dict[str, str]:
    """{recipe name: content hash} for the recipes a project was rendered from (the base too)."""
    return {recipe.name: recipe_hash(recipe.path) for recipe in recipes}
