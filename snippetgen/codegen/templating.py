"""Running a plan's templates with Jinja: a snippet's own template, or the training-script
skeleton with the features' slot macros filling its named slots (and, for ``snippetgen new``,
a project's own templates).

The text that comes out is not yet checked or formatted (that is
:func:`snippetgen.codegen.rendering.render_plan`'s job). Any error in a template is the recipe's bug
(:class:`~snippetgen.errors.RecipeBug`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snippetgen.codegen.slots import SLOTS
from snippetgen.errors import RecipeBug
from snippetgen.recipes.catalog import BASE_RECIPE
from snippetgen.recipes.params import code as paramcode
from snippetgen.recipes.recipe import template_file

if TYPE_CHECKING:  # rendering imports this module; Jinja loads only when a template runs
    from snippetgen.codegen.rendering import Plan
    from snippetgen.codegen.template_env import Code

# The folder of a project's own templates (snippetgen new), beside the recipes; its name
# starts with "_", so the catalog does not take it for a recipe.
PROJECT_TEMPLATES = "_project"
# Patterns, not compiled objects: only a cache miss needs them (re compiles them on first use).
_WHITESPACE_LINE = r"(?m)^[ \t]+\n"
_BLANKS_IN_BLOCK = r"\n{3,}(?=[ \t])"  # 2+ blank lines before an indented line
_BLANKS_AT_TOP = r"\n{4,}(?=\S)"  # 3+ blank lines before a top-level line


def _tidy(body: str) -> str:
    """Undo what empty slots leave behind (lines of bare indentation, runs of blank lines),
    so that output already in black's style is formatted in one pass, not two."""
    body = re.sub(_WHITESPACE_LINE, "", body)
    body = re.sub(_BLANKS_IN_BLOCK, "\n\n", body)
    return re.sub(_BLANKS_AT_TOP, "\n\n\n", body)


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
        from snippetgen.codegen.template_env import indent_code

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
        from snippetgen.codegen.template_env import Code

        self.blocks.append(block)
        return Code(f"{self._marker}{len(self.blocks) - 1}\0")

    def columned(self, lines: Callable[[int], str]) -> Callable[..., Code]:
        """A skeleton function for generated lines: ``f()`` gives them at the column of the
        line it stands on, ``f(width)`` at an explicit column."""
        from snippetgen.codegen.template_env import Code

        def call(width: int | None = None) -> Code:
            return Code(lines(width)) if width is not None else self.defer(lines)

        return call

    def slot(self, name: str, width: int | None = None, caller: Any = None) -> Code:
        """``slot(name)`` in the skeleton; ``width`` is for copies of the skeleton written
        when slots were given their column; ``caller`` is the default body of a call block."""
        from snippetgen.codegen.template_env import Code, indent_code

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
    from snippetgen.codegen.template_env import Code

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

    from snippetgen.codegen.template_env import make_env

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
    from snippetgen.codegen.template_env import indent_code

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
