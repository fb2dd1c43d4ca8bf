"""What each page and download of the web composer holds, computed without a web framework.

Every render goes through the CLI's own steps: :func:`snippetgen.codegen.rendering.plan` (the values
are the CLI's ``--NAME VALUE`` words, so a bad value gets the CLI's sentence), the render
cache and code checks of :func:`snippetgen.codegen.rendering.render_plan`, the notebook of ``render
--format ipynb`` and the in-memory project of ``new``. A downloaded ``.py`` is byte for byte
what ``snippetgen render`` prints for the same selection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from snippetgen.errors import (
    MissingValueError,
    ParamValueError,
    SnippetgenError,
    UnknownParamError,
)
from snippetgen.recipes.catalog import Catalog
from snippetgen.recipes.datamodel import BUILTIN_MODELS, DATA_SOURCES, DEFAULT_DATA
from snippetgen.recipes.recipe import BASE_RECIPE, Recipe
from snippetgen.web.highlight import code_html
from snippetgen.web.preview import Previews, rendered
from snippetgen.web.selection import (
    DATA_KEY,
    MODEL_KEY,
    PROJECT_KEY,
    Selection,
    SelectionError,
    only_values,
    resolve,
)

if TYPE_CHECKING:
    from snippetgen.codegen.rendering import Plan


class Field(NamedTuple):
    """One parameter's form field: its schema and the text it shows."""

    name: str
    option: str
    type: str
    help: str
    range: str
    choices: tuple[str, ...]
    default: str  # the value without the user's change, as the CLI writes it
    value: str  # what the field holds: the user's text, else the default
    owner: str  # the recipe that declares it


class Feature(NamedTuple):
    name: str
    summary: str
    checked: bool
    disabled: str  # why it cannot be added to the selection ('' when it can)


# --- errors ------------------------------------------------------------------------------------


def error_field(exc: SnippetgenError) -> str | None:
    """The form field a refusal is about (a parameter's name, 'with', 'data', ...), if any."""
    if isinstance(exc, SelectionError):
        return exc.field
    if isinstance(exc, ParamValueError | MissingValueError):
        return exc.param
    if isinstance(exc, UnknownParamError):
        return exc.option.removeprefix("--")
    return None


# --- lists and search --------------------------------------------------------------------------


def recipe_rows(recipes: Iterable[Recipe]) -> list[dict[str, Any]]:
    return [
        {"name": r.name, "kind": r.kind, "title": r.title, "summary": r.summary, "tags": r.tags}
        for r in recipes
    ]


def search_rows(catalog: Catalog, query: str, limit: int = 10) -> list[dict[str, Any]]:
    """The CLI's `search` ranking (English and Chinese); an empty query lists every recipe."""
    from snippetgen.lookup.search import search

    if not query.strip():
        return recipe_rows(catalog)
    hits = search(catalog, query, limit=limit)
    return [{**recipe_rows([h.recipe])[0], "score": round(h.score, 3)} for h in hits]


# --- a recipe's page ---------------------------------------------------------------------------


def sheet(catalog: Catalog, selection: Selection) -> dict[str, Any]:
    """A recipe's cheat sheet: what, when, pitfalls, parameters, the essential code, and for a
    schedule the learning-rate curve (for the values in `selection`, like `show`)."""
    from snippetgen.codegen.rendering import RenderRequest, plan
    from snippetgen.lookup.cheatsheet import LR_CURVE_RECIPES, key_code, shown_values
    from snippetgen.recipes.params.code import cli_text

    recipe = catalog.get(selection.recipe)
    only_values(selection)
    values = plan(RenderRequest(recipe.name, args=selection.args()), catalog).values
    shown = shown_values(recipe, catalog, values)
    code, trimmed = key_code(recipe, shown)
    chart = caption = ""
    curve_fields: list[tuple[str, str]] = []
    if recipe.name in LR_CURVE_RECIPES and "lr" in shown and "epochs" in shown:
        from snippetgen.lookup.lrplot import lr_curve
        from snippetgen.web.svg import lr_chart

        rates, caption = lr_curve(recipe.name, shown)
        params = {p.name: p for p in catalog.base.params} | {p.name: p for p in recipe.params}
        curve_fields = [
            (name, cli_text(params[name], shown[name]))
            for name in ("lr", "epochs", *(p.name for p in recipe.params))
            if name in params
        ]
        if rates is not None:
            chart = lr_chart(rates, f"Learning rate per epoch ({caption})")
    return {
        "recipe": recipe,
        "params": [
            {
                "option": p.option,
                "type": p.type,
                "default": cli_text(p, shown.get(p.name, p.default)),
                "range": p.range_text(),
                "help": p.help,
                "data": p.data,
            }
            for p in recipe.params
        ],
        "related": [
            (n, catalog.recipes[n].summary) for n in recipe.related if n in catalog.recipes
        ],
        "code_html": code_html(code) if code else "",
        "trimmed": trimmed,
        "chart": chart,
        "caption": caption,
        "curve_fields": curve_fields,
    }


# --- the composer ------------------------------------------------------------------------------


def features(catalog: Catalog, selection: Selection) -> list[Feature]:
    """The features that can be added to the selection's recipe; those that conflict with one
    already chosen are disabled, with the recipe's reason."""
    target = catalog.get(selection.recipe)
    if target.kind != "feature":
        return []
    chosen = {BASE_RECIPE, target.name, *selection.with_}
    out = []
    for recipe in catalog.features():
        if recipe.name in (BASE_RECIPE, target.name):
            continue
        reason = ""
        for other in chosen - {recipe.name}:
            clash = [c for c in recipe.conflicts if c.recipe == other]
            if not clash and other in catalog.recipes:
                clash = [c for c in catalog.recipes[other].conflicts if c.recipe == recipe.name]
            if clash:
                reason = f"does not combine with {other}: {clash[0].why}"
                break
        out.append(Feature(recipe.name, recipe.summary, recipe.name in selection.with_, reason))
    return out


def fields(structure: Plan, shown: Mapping[str, str]) -> list[Field]:
    """A form field for each parameter of the plan, holding `shown` (the user's values, as
    text) or the default."""
    from snippetgen.recipes.params.code import cli_text

    out = []
    for name, param in structure.params.items():
        default = cli_text(param, structure.values[name])
        out.append(
            Field(
                name=name,
                option=param.option,
                type=param.type,
                help=param.help,
                range="" if param.choices else param.range_text(),
                choices=param.choices or (("true", "false") if param.type == "bool" else ()),
                default=default,
                value=shown.get(name, default),
                owner=structure.owners[name],
            )
        )
    return out


def shown_values(catalog: Catalog, selection: Selection) -> dict[str, str]:
    """The user's values as the fields show them: as the CLI writes the parsed value (a
    boolean's "no" is "false", "0.50" is "0.5"), or as typed when it does not parse."""
    from snippetgen.recipes.params.code import cli_text

    try:
        resolved = resolve(catalog, selection)
    except SnippetgenError:
        return dict(selection.values)
    return {
        name: cli_text(resolved.params[name], resolved.values[name])
        if name in resolved.params
        else text
        for name, text in selection.values.items()
    }


def grouped(found: list[Field], target: str) -> list[tuple[str, list[Field]]]:
    """The fields by the recipe that declares them: the chosen recipe's first, the base
    recipe's (every training script's options) last."""
    owners = list(dict.fromkeys(f.owner for f in found))
    owners.sort(key=lambda owner: (owner != target, owner == BASE_RECIPE))
    return [(owner, [f for f in found if f.owner == owner]) for owner in owners]


def composer(catalog: Catalog, selection: Selection, previews: Previews) -> dict[str, Any]:
    """Everything the composer page shows for a selection: the feature choices, data and
    model, a field per parameter, and the preview (or the sentence that refuses it)."""
    target = catalog.get(selection.recipe)
    page: dict[str, Any] = {
        "recipe": target,
        "features": features(catalog, selection),
        "data_sources": DATA_SOURCES if target.kind == "feature" else (),
        "models": BUILTIN_MODELS,
        "data": selection.data or DEFAULT_DATA,
        "model": selection.model or "",
        "fields": [],
        "error": "",
        "error_field": None,
        "preview": None,
    }
    try:
        structure = resolve(catalog, selection, with_values=False)
        shown = shown_values(catalog, selection)
        page["fields"] = grouped(fields(structure, shown), target.name)
        page["preview"] = rendered(catalog, selection, previews)
    except SnippetgenError as exc:
        field = error_field(exc)
        spots = {f.name for _, group in page["fields"] for f in group}
        if target.kind == "feature":
            spots |= {DATA_KEY, MODEL_KEY, PROJECT_KEY}
        page["error"], page["error_field"] = str(exc), field if field in spots else None
    return page
