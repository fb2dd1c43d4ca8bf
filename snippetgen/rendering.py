"""Rendering: compose recipes, fill the training-script skeleton, check, format.

A *snippet* renders its own ``snippet.py.j2``. A *feature* renders the base recipe's
skeleton (``train/feature.py.j2``) with every selected feature's macros filling the
skeleton's named slots. Features are applied in their declared ``order``, so the
output does not depend on the order of ``--with`` options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from snippetgen import cache
from snippetgen.catalog import BASE_RECIPE, Catalog, load_catalog
from snippetgen.datamodel import (
    DEFAULT_DATA,
    DataModel,
    data_model,
    not_for_source,
)
from snippetgen.errors import (
    CompositionError,
    ConflictError,
    ParamValueError,
    RecipeBug,
    UnknownParamError,
)
from snippetgen.params import code as paramcode
from snippetgen.params.parse import coerce, parse_cli_args
from snippetgen.params.schema import Param
from snippetgen.quoting import comment, shell_word
from snippetgen.recipe import Recipe, template_file
from snippetgen.slots import SLOTS

if TYPE_CHECKING:  # Jinja is imported only when a template is rendered (not on a cache hit)
    from snippetgen.template_env import Code

# Patterns, not compiled objects: only a cache miss needs them (re compiles them on first use).
# The folder of a project's own templates (snippetgen new), beside the recipes; its name
# starts with "_", so the catalog does not take it for a recipe.
PROJECT_TEMPLATES = "_project"
_WHITESPACE_LINE = r"(?m)^[ \t]+\n"
_BLANKS_IN_BLOCK = r"\n{3,}(?=[ \t])"  # 2+ blank lines before an indented line
_BLANKS_AT_TOP = r"\n{4,}(?=\S)"  # 3+ blank lines before a top-level line


def _tidy(body: str) -> str:
    """Undo what empty slots leave behind (lines of bare indentation, runs of blank lines),
    so that output already in black's style is formatted in one pass, not two."""
    body = re.sub(_WHITESPACE_LINE, "", body)
    body = re.sub(_BLANKS_IN_BLOCK, "\n\n", body)
    return re.sub(_BLANKS_AT_TOP, "\n\n\n", body)


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


class _Slots:
    """Calls the features' macros for a named slot and joins what they return.

    ``slot(name)`` leaves a marker where it stands; :meth:`place` then puts the slot's code
    there, every line after its first indented like the line the marker stands on (so the
    skeleton never counts columns, and a ``filter indent`` around a slot is taken into
    account). ``{% call slot(name) %}default{% endcall %}`` carries the code used when no
    feature fills the slot, at the column of that default body.
    """

    def __init__(self, modules: list[tuple[str, Any]]) -> None:
        self.modules = modules
        for recipe, module in modules:
            for attr in dir(module):
                if (
                    not attr.startswith("_")
                    and attr not in SLOTS
                    and callable(getattr(module, attr))
                ):
                    raise ValueError(f"{recipe}: macro {attr!r} is not a known slot")
        import secrets  # a render that is not served from the cache only

        self.blocks: list[Callable[[int], str]] = []
        self._marker = f"\0{secrets.token_hex(8)}:"  # never in a template's own text

    def providers(self, name: str) -> list[tuple[str, Any]]:
        if name not in SLOTS:
            raise ValueError(f"unknown slot {name!r}")
        return [(r, getattr(m, name)) for r, m in self.modules if hasattr(m, name)]

    def provides(self, name: str) -> bool:
        return bool(self.providers(name))

    def code(self, name: str) -> str:
        """The features' code for a slot, joined, dedented and not yet indented."""
        from snippetgen.template_env import indent_code

        found = self.providers(name)
        if SLOTS[name].one_feature and len(found) > 1:
            owners = ", ".join(r for r, _ in found)
            raise ValueError(f"slot {name!r} is filled by several recipes ({owners})")
        parts: list[str] = [indent_code(str(macro()), 0) for _, macro in found]
        if name == "imports":  # two features may need the same import
            lines = [ln for part in parts for ln in part.splitlines()]
            parts = list(dict.fromkeys(ln for ln in lines if ln.strip()))
        # module-level definitions are two blank lines apart, as black puts them
        joiner = "\n\n\n" if name == "helpers" else "\n"
        return joiner.join(p for p in parts if p)

    def defer(self, block: Callable[[int], str]) -> Code:
        """A marker that :meth:`place` replaces with ``block(column of the marker's line)``."""
        from snippetgen.template_env import Code

        self.blocks.append(block)
        return Code(f"{self._marker}{len(self.blocks) - 1}\0")

    def columned(self, lines: Callable[[int], str]) -> Callable[..., Code]:
        """A skeleton function for generated lines: ``f()`` gives them at the column of the
        line it stands on, ``f(width)`` at an explicit column."""
        from snippetgen.template_env import Code

        def call(width: int | None = None) -> Code:
            return Code(lines(width)) if width is not None else self.defer(lines)

        return call

    def slot(self, name: str, width: int | None = None, caller: Any = None) -> Code:
        """``slot(name)`` in the skeleton; ``width`` is for copies of the skeleton written
        when slots were given their column; ``caller`` is the default body of a call block."""
        from snippetgen.template_env import Code, indent_code

        code = self.code(name)
        if caller is None:
            return self.columned(lambda column: indent_code(code, column))(width)
        if SLOTS[name].kind == "expression":
            raise ValueError(f"slot {name!r} holds an expression and has no default body")
        default = str(caller())
        if not self.provides(name):
            code = default
        # the call tag's own indentation is stripped (lstrip_blocks): the default body's is used
        column = min(
            (len(ln) - len(ln.lstrip(" ")) for ln in default.splitlines() if ln.strip()), default=0
        )
        return Code(" " * column + self.defer(lambda width: indent_code(code, width)) + "\n")

    def place(self, body: str) -> str:
        """The rendered skeleton with every marker replaced by its code."""

        def fill(match: re.Match[str]) -> str:
            line = body[body.rfind("\n", 0, match.start()) + 1 : match.start()]
            return self.blocks[int(match[1])](len(line) - len(line.lstrip(" ")))

        return re.sub(re.escape(self._marker) + r"(\d+)\0", fill, body)


def _context(plan_: Plan) -> dict[str, Any]:
    from snippetgen.template_env import Code

    values = {plan_.params[n].dest: v for n, v in plan_.values.items()}
    return {
        "p": values,
        "features": list(plan_.names),
        "has": lambda name: name in plan_.names,
        "feature_list": Code(", ".join(plan_.names)),
        "data": plan_.setup.data,
        "model": plan_.setup.model,
        "model_library": plan_.setup.library,
        "model_arch": plan_.setup.arch,
        "model_template": plan_.setup.template,
        "project": False,
    }


def render_source(plan_: Plan, header: str) -> str:
    """Run Jinja for a plan; returns unformatted source. Raises RecipeBug on template errors."""
    return _render_templates(plan_, header, {})[""]


def render_project_sources(
    plan_: Plan, header: str, package: str, project_dir: Path, docs: Mapping[str, Code]
) -> dict[str, str]:
    """Run Jinja for the files of a project (``snippetgen new``): {relative path: text}.

    ``train.py`` is the skeleton rendered with ``project`` true (the data source, the model
    and ``fail`` imported from the package); every other file is a template in
    ``project_dir`` (``templates/_project``), whose ``package/`` folder becomes the package.
    ``docs`` are the modules' docstrings (checked literals). Unformatted and unchecked;
    raises RecipeBug on template errors.
    """
    extra = {**docs, "project": True, "package": package, "project_dir": project_dir}
    return _render_templates(plan_, header, extra)


def _render_templates(plan_: Plan, header: str, extra: Mapping[str, Any]) -> dict[str, str]:
    from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError
    from jinja2.exceptions import SecurityError, UndefinedError

    from snippetgen.template_env import make_env

    project_dir = extra.get("project_dir")
    folders = {r.name: r.path for r in plan_.recipes}
    if project_dir is not None:
        folders[PROJECT_TEMPLATES] = project_dir
    env = make_env(folders)
    context = _context(plan_) | {k: v for k, v in extra.items() if k != "project_dir"}
    running = [plan_.target.name]  # the recipe whose template is being run
    try:
        if plan_.target.kind == "snippet":
            template = f"{running[0]}/{template_file(plan_.target.kind)}"
            return {"": header + _tidy(env.get_template(template).render(context))}
        slots = _slot_context(plan_, env, context, running)
        body = env.get_template(f"{BASE_RECIPE}/{template_file('feature')}").render(context)
        files = {"": header + _tidy(slots.place(body))}
        if project_dir is not None:
            running[0] = PROJECT_TEMPLATES
            for path in sorted(Path(project_dir).rglob("*.j2")):
                relative = path.relative_to(project_dir).as_posix()
                text = env.get_template(f"{PROJECT_TEMPLATES}/{relative}").render(context)
                files[relative.removesuffix(".j2")] = text
        return files
    except TemplateSyntaxError as exc:
        raise RecipeBug(
            recipe=running[0],
            problem=f"template syntax error in {exc.name} line {exc.lineno}: {exc.message}",
        ) from None
    except TemplateNotFound as exc:
        raise RecipeBug(
            recipe=running[0],
            problem=f"template error{_template_line(exc)}: no template {exc.name!r} among "
            "the recipes being rendered",
        ) from None
    except (TemplateError, SecurityError, UndefinedError, ValueError, TypeError) as exc:
        where = _template_line(exc)
        raise RecipeBug(recipe=running[0], problem=f"template error{where}: {exc}") from None
    except Exception as exc:  # e.g. 1/0, a too-big range, endless recursion: still the recipe's bug
        where = _template_line(exc)
        problem = f"template error{where}: {type(exc).__name__}: {exc}"
        raise RecipeBug(recipe=running[0], problem=problem) from None


def _slot_context(plan_: Plan, env: Any, context: dict[str, Any], running: list[str]) -> _Slots:
    """Load every feature's slot macros and add the skeleton's functions to `context`;
    `running` names the recipe being loaded (for error messages)."""
    from snippetgen.template_env import indent_code

    modules = []
    for recipe in plan_.recipes:
        if recipe.name == BASE_RECIPE:
            continue
        running[0] = recipe.name
        template = env.get_template(f"{recipe.name}/{template_file(recipe.kind)}")
        modules.append((recipe.name, template.make_module(context)))
    slots = _Slots(modules)
    base_params = [plan_.params[n] for n in plan_.params]
    context |= {
        "slot": slots.slot,
        "provides": slots.provides,
        "arguments": slots.columned(
            lambda width: indent_code(
                paramcode.argparse_lines(base_params, plan_.values, width), width
            )
        ),
        "checks": slots.columned(
            lambda width: indent_code(
                paramcode.check_lines(base_params, [x for r in plan_.recipes for x in r.limits]),
                width,
            )
        ),
        "list_parsers": paramcode.list_types_used(base_params),
    }
    running[0] = BASE_RECIPE
    return slots


def _template_line(exc: BaseException) -> str:
    tb = exc.__traceback__
    found = ""
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            found = f" in {name} line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


def make_header(plan_: Plan, command: str) -> str:
    """The comment lines that start a render: the command that made it, what it needs.

    Each is one line whatever ``command`` holds (see :func:`snippetgen.quoting.comment`):
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


def render_plan(plan_: Plan, *, command: str | None = None) -> str:
    """A resolved plan as checked, black-formatted Python source; `command` (default: the
    plan's own `snippetgen render ...`) goes into the header.

    A render that passed every check is kept in the render cache (snippetgen.cache), keyed
    by everything it depends on; a repeated request is served from there without Jinja or black.
    """
    header = make_header(plan_, command or plan_.command())
    key = cache.render_key(
        header, [r.path for r in plan_.recipes], {**plan_.values, "": list(plan_.setup)}
    )
    cached = cache.load(key)
    if cached is not None:
        return cached
    from snippetgen.codecheck import CodeProblem, verify  # not needed on a cache hit

    source = render_source(plan_, header)
    try:
        code = verify(source)
    except CodeProblem as exc:
        raise RecipeBug(recipe=plan_.target.name, problem=str(exc)) from None
    cache.store(key, code)
    return code
