"""Rendering: resolve a request into a plan, render it, check it, format it.

:func:`plan` turns a request (a recipe, ``--with`` features, values, data source and model)
into an immutable :class:`Plan`: the recipes in application order (a snippet alone, or the
base recipe and the features in their declared ``order``, so the output does not depend on
the order of ``--with`` options) and every parameter's checked value. :func:`render_plan`
runs its templates (:mod:`snippetgen.codegen.templating`), checks and formats the code, and keeps it
in the render cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from snippetgen.codegen import cache
from snippetgen.codegen.digests import folder_digest
from snippetgen.codegen.quoting import comment, shell_word
from snippetgen.errors import (
    CompositionError,
    ConflictError,
    ParamValueError,
    RecipeBug,
    UnknownParamError,
)
from snippetgen.recipes.catalog import BASE_RECIPE, Catalog, load_catalog
from snippetgen.recipes.datamodel import (
    DEFAULT_DATA,
    DataModel,
    data_model,
    not_for_source,
)
from snippetgen.recipes.params import code as paramcode
from snippetgen.recipes.params.parse import coerce, parse_cli_args
from snippetgen.recipes.params.schema import Param
from snippetgen.recipes.recipe import Recipe


# NamedTuples, like the records in recipe.py: much cheaper to create at start-up than dataclasses.
class RenderRequest(NamedTuple):
    """What to render: a recipe, parameter values (typed or strings, or as command-line
    words ``--NAME VALUE`` in ``args``), extra features, the data source and the model."""

    recipe: str
    params: Mapping[str, Any] = MappingProxyType({})
    with_: Sequence[str] = ()
    data: str = DEFAULT_DATA
    model: str | None = None  # None: the source's default model (datamodel.data_model)
    args: Sequence[str] = ()


class Plan(NamedTuple):
    """A resolved request: the recipes in application order and every parameter's value."""

    target: Recipe
    recipes: tuple[Recipe, ...]
    params: dict[str, Param]
    values: dict[str, Any]
    owners: dict[str, str]
    setup: DataModel = DataModel()
    inapplicable: Mapping[str, Param] = MappingProxyType({})  # not for this --data source
    given: Mapping[str, Any] = MappingProxyType({})  # the values the request named, typed
    with_: tuple[str, ...] = ()  # the --with names as the request gave them

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.recipes)

    def command(self) -> str:
        """The `snippetgen render ...` command that gives this plan (for the header)."""
        words = ["snippetgen", "render", self.target.name, *self.setup.options()]
        for name in self.with_:
            words += ["--with", name]
        for name, value in self.given.items():
            words += [self.params[name].option, paramcode.cli_text(self.params[name], value)]
        return " ".join(shell_word(w) for w in words)


def plan(request: RenderRequest, catalog: Catalog) -> Plan:
    """Resolve the request: recipes, conflicts, parameters. Raises UserError subclasses."""
    target = catalog.get(request.recipe)
    setup = data_model(request.data, request.model)
    recipes = _recipes(request, target, setup, catalog)
    params, owners = _declared(recipes)
    inapplicable = _inapplicable(params, request.params, setup.data)
    given = _given(request, target, params, inapplicable, setup.data)
    values = _values(recipes, params, given)
    _check_limits(recipes, values)
    return Plan(
        target,
        tuple(recipes),
        params,
        values,
        owners,
        setup,
        inapplicable,
        MappingProxyType(given),
        tuple(request.with_),
    )


def _inapplicable(
    params: dict[str, Param], named: Mapping[str, Any], data: str
) -> dict[str, Param]:
    """Take out of `params` those not for the `data` source, and return them; a value
    `named` for one of them is refused."""
    inapplicable = {n: p for n, p in params.items() if p.data and data not in p.data}
    for name, param in inapplicable.items():
        del params[name]
        if name in named:
            raise not_for_source(param.option, param.data, data)
    return inapplicable


def _given(
    request: RenderRequest,
    target: Recipe,
    params: Mapping[str, Param],
    inapplicable: Mapping[str, Param],
    data: str,
) -> dict[str, Any]:
    """The values the request names (as values or as command-line words), typed and checked."""
    for name in request.params:
        if name not in params:
            raise UnknownParamError(
                option=f"--{name}", recipe=target.name, known=[p.option for p in params.values()]
            )
    given = {name: coerce(params[name], value) for name, value in request.params.items()}
    if request.args:
        given |= parse_cli_args(
            params,
            list(request.args),
            recipe=target.name,
            inapplicable=inapplicable,
            data=data,
        )
    return given


def _values(
    recipes: Sequence[Recipe], params: Mapping[str, Param], given: Mapping[str, Any]
) -> dict[str, Any]:
    """Every parameter's value: the one given, else the last default a recipe gives it (a
    feature may change the base recipe's default), else the parameter's own."""
    defaults: dict[str, Any] = {}
    for recipe in recipes:
        defaults.update({k: v for k, v in recipe.defaults.items() if k in params})
    return {
        name: given[name] if name in given else coerce(param, defaults.get(name, param.default))
        for name, param in params.items()
    }


def _recipes(
    request: RenderRequest, target: Recipe, setup: DataModel, catalog: Catalog
) -> list[Recipe]:
    """The recipes a render applies, in order: a snippet alone, or the base recipe and the
    features (the target and those named by --with), which must not conflict."""
    if target.kind == "snippet":
        if request.with_:
            raise CompositionError(
                f"Recipe {target.name!r} is a standalone snippet; --with only combines features."
            )
        if not setup.is_default:
            raise CompositionError(
                f"Recipe {target.name!r} is a standalone snippet; --data and --model choose "
                "the data and model of a training script."
            )
        return [target]
    chosen: dict[str, Recipe] = {BASE_RECIPE: catalog.base, target.name: target}
    for name in request.with_:
        extra = catalog.get(name)
        if extra.kind != "feature":
            raise CompositionError(
                f"Recipe {extra.name!r} is a standalone snippet and cannot be added with --with."
            )
        chosen[extra.name] = extra
    recipes = sorted(chosen.values(), key=lambda r: (r.name != BASE_RECIPE, r.order, r.name))
    _check_conflicts(recipes)
    return recipes


def _declared(recipes: Sequence[Recipe]) -> tuple[dict[str, Param], dict[str, str]]:
    """Every parameter the recipes declare, and which recipe declares it (once only)."""
    params: dict[str, Param] = {}
    owners: dict[str, str] = {}
    for recipe in recipes:
        for param in recipe.params:
            if param.name in params:
                raise RecipeBug(
                    recipe=recipe.name,
                    problem=f"parameter {param.option} is also declared by {owners[param.name]!r}",
                )
            params[param.name] = param
            owners[param.name] = recipe.name
    return params, owners


def _check_limits(recipes: Sequence[Recipe], values: Mapping[str, Any]) -> None:
    for recipe in recipes:
        for limit in recipe.limits:
            value = values[limit.param]
            if limit.applies(values) and not value < limit.bound(values):
                bound = (
                    f"less than {limit.bound_text()} ({limit.bound(values)})"
                    if isinstance(limit.below, str)
                    else f"< {limit.bound_text()}"
                )
                raise ParamValueError(
                    param=limit.param,
                    value=value,
                    reason=f"it must be {bound} with {limit.condition_text()} ({limit.why})",
                )


def _check_conflicts(recipes: Sequence[Recipe]) -> None:
    names = {r.name for r in recipes}
    for recipe in recipes:
        for conflict in recipe.conflicts:
            if conflict.recipe in names:
                raise ConflictError(first=recipe.name, second=conflict.recipe, why=conflict.why)


def make_header(plan_: Plan, command: str) -> str:
    """The comment lines that start a render: the command that made it, what it needs.

    Each is one line whatever ``command`` holds (see :func:`snippetgen.codegen.quoting.comment`):
    a line break in a folder name or an API caller's text cannot end the comment.
    """
    from snippetgen import __version__

    lines = [comment(f"Generated by snippetgen {__version__}: {command}")]
    requires = sorted(
        {req for r in plan_.recipes for req in r.requires} | set(plan_.setup.requirements)
    )
    if requires:
        lines.append(
            comment(f"Requires: {', '.join(requires)} (beyond the standard library and torch)")
        )
    return "\n".join(lines) + "\n"


def render(
    request: RenderRequest, catalog: Catalog | None = None, *, command: str | None = None
) -> str:
    """Render a request into checked, black-formatted Python source (see render_plan)."""
    return render_plan(plan(request, catalog or load_catalog()), command=command)


def _cache_key(
    plan_: Plan, command: str | None, digests: Callable[[Path], str] = folder_digest
) -> tuple[str, str]:
    """The header of a render and its render-cache key."""
    header = make_header(plan_, command or plan_.command())
    key = cache.render_key(
        header, [r.path for r in plan_.recipes], {**plan_.values, "": list(plan_.setup)}, digests
    )
    return header, key


def render_key(
    plan_: Plan, *, command: str | None = None, digests: Callable[[Path], str] = folder_digest
) -> str:
    """The render-cache key of render_plan(plan_, command=command): equal keys, equal renders.
    `digests` gives the recipe folders' digests (a FolderDigests in a long-running process)."""
    return _cache_key(plan_, command, digests)[1]


def cached_render(plan_: Plan, *, command: str | None = None, key: str | None = None) -> str | None:
    """What render_plan would return, if the render cache holds it; else None (no rendering).
    `key`, when given, is render_key(plan_, command=command), already computed."""
    return cache.load(key or render_key(plan_, command=command))


def render_plan(
    plan_: Plan, *, command: str | None = None, digests: Callable[[Path], str] = folder_digest
) -> str:
    """A resolved plan as checked, black-formatted Python source; `command` (default: the
    plan's own `snippetgen render ...`) goes into the header; `digests` as for render_key.

    A render that passed every check is kept in the render cache (snippetgen.codegen.cache),
    keyed by everything it depends on; a repeated request is served from there without Jinja
    or black.
    """
    header, key = _cache_key(plan_, command, digests)
    cached = cache.load(key)
    if cached is not None:
        return cached
    from snippetgen.codegen.codecheck import CodeProblem, verify  # not needed on a cache hit
    from snippetgen.codegen.templating import render_source

    source = render_source(plan_, header)
    try:
        code = verify(source)
    except CodeProblem as exc:
        raise RecipeBug(recipe=plan_.target.name, problem=str(exc)) from None
    cache.store(key, code)
    return code
