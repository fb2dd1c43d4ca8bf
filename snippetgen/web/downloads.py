"""The downloads of the web composer: the script (byte for byte what ``snippetgen render``
prints for the same selection), the notebook of ``render --format ipynb``, and the project
``snippetgen new`` would write, zipped in memory."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import NamedTuple

from snippetgen.recipes.catalog import Catalog
from snippetgen.recipes.recipe import Recipe
from snippetgen.web.preview import checked_plan, script
from snippetgen.web.selection import Selection, check_project

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # every entry's date: the same selection gives the same zip


class Download(NamedTuple):
    filename: str
    body: bytes
    media_type: str


def script_name(recipe: Recipe) -> str:
    """The file name a download suggests: train.py for a training script, else the recipe's."""
    return "train" if recipe.kind == "feature" else recipe.name.replace("-", "_")


def download_script(catalog: Catalog, selection: Selection) -> Download:
    code = script(catalog, selection)
    name = script_name(catalog.get(selection.recipe))
    return Download(f"{name}.py", code.encode(), "text/x-python; charset=utf-8")


def download_notebook(catalog: Catalog, selection: Selection) -> Download:
    from snippetgen.codegen.rendering import render_plan
    from snippetgen.project.notebook import require_nbformat, script_notebook

    require_nbformat()
    resolved = checked_plan(catalog, selection)
    code = render_plan(resolved)
    text = script_notebook(code, resolved, resolved.command(), dict(resolved.given))
    name = script_name(resolved.target)
    return Download(f"{name}.ipynb", text.encode(), "application/x-ipynb+json")


def project_files(catalog: Catalog, selection: Selection) -> dict[str, str]:
    """The files `snippetgen new PROJECT --with ...` would write, rendered in memory only."""
    from snippetgen.project.scaffold import build_project

    target = catalog.get(selection.recipe)
    check_project(selection.project)
    project = build_project(
        catalog,
        Path(selection.project),
        with_=[target.name, *selection.with_],
        cli_args=selection.args(),
        data=selection.data,
        model=selection.model,
    )
    return project.files


def download_project(catalog: Catalog, selection: Selection) -> Download:
    """The project `new` would write, as a zip of one folder (the same bytes every time)."""
    files = project_files(catalog, selection)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative, text in sorted(files.items()):
            entry = zipfile.ZipInfo(f"{selection.project}/{relative}", ZIP_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, text)
    return Download(f"{selection.project}.zip", buffer.getvalue(), "application/zip")
