"""The command line: a thin Typer layer over the library API.

Every command runs inside :func:`_guard`, which turns snippetgen errors into one
sentence on stderr and an exit code (2 for bad input); the group (snippetgen.usage) turns
Ctrl-C into exit 130 and a closed stdout into a quiet exit 141. The console script starts in
snippetgen.launch, which covers the imports of this module too.
"""

import functools
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from snippetgen.completion import RecipeCommand, complete_feature, complete_recipe
from snippetgen.errors import OverwriteError, SnippetgenError, UserError
from snippetgen.output import Color, atomic_write, check_output, highlight, use_color
from snippetgen.recipes.catalog import Catalog, load_catalog
from snippetgen.recipes.datamodel import (
    BUILTIN_MODELS,
    DATA_SOURCES,
    DEFAULT_DATA,
    DEFAULT_MODEL,
    data_model,
)
from snippetgen.recipes.recipe import BUILT_IN, Recipe
from snippetgen.usage import OneLineErrors

if TYPE_CHECKING:  # rendering is imported by the commands that render
    from snippetgen.codegen.rendering import Plan

app = typer.Typer(
    cls=OneLineErrors,
    name="snippetgen",
    help="Look up PyTorch training recipes and render them into runnable scripts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])
DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        help=f"training data: {'|'.join(DATA_SOURCES)} (default {DEFAULT_DATA}); "
        "the script reads it from --data-path",
        autocompletion=lambda: list(DATA_SOURCES),
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help=f"architecture: {'|'.join(BUILTIN_MODELS)}, timm:NAME or torchvision:NAME "
        f"(default {DEFAULT_MODEL}; mlp for --data csv)",
        autocompletion=lambda: list(BUILTIN_MODELS),
    ),
]
NBSP = "\N{NO-BREAK SPACE}"  # joins words that line wrapping must keep together


def err(message: str) -> None:
    typer.echo(message, err=True)


def _guard(func: F) -> F:
    """One sentence for a snippetgen error (Ctrl-C and closed pipes: see OneLineErrors)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except SnippetgenError as exc:
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _catalog(quiet: Iterable[str | None] = (), *, only: Iterable[str] | None = None) -> Catalog:
    """Load the recipes (with `only`, just those: see load_catalog); warn about broken ones
    (except those in `quiet`, which the command reports as its error); on a terminal, note
    every recipe that overrides another."""
    catalog = load_catalog(names=only)
    hush = {id(catalog.shadowed[n]) for n in quiet if n in catalog.shadowed}
    for problem in catalog.broken:
        if id(problem) not in hush:
            err(f"warning: skipped: {problem}")
    if sys.stderr.isatty():  # a hint for people; scripts see the override in `list`/`which`
        from snippetgen.recipes.userrecipes import override_notes

        for note in override_notes(catalog):
            err(note)
    return catalog


def _emit(text: str, color: Color, *, code: bool = False) -> None:
    if code and use_color(color):
        text = highlight(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _rows(rows: list[tuple[str, str]]) -> str:
    """Rows of (head, text), one line each; on a terminal, wrapped to its width with the
    continuation lines under the text (a narrow terminal: under a small indent)."""
    if not sys.stdout.isatty():  # piped: one record a line, for scripts
        return "\n".join(head + text for head, text in rows)
    import shutil
    import textwrap

    columns = shutil.get_terminal_size().columns
    out = []
    for head, text in rows:
        indent = " " * (len(head) if columns - len(head) >= 30 else 4)
        out.append(
            textwrap.fill(
                text,
                width=max(columns, len(head) + 1),
                initial_indent=head,
                subsequent_indent=indent,
                break_on_hyphens=False,
            )
        )
    return "\n".join(out)


@app.command("list")
@_guard
def list_recipes(
    tag: Annotated[str | None, typer.Option("--tag", help="only recipes with this tag")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """List every recipe: name, kind, summary and tags (on a terminal, wrapped to its width)."""
    catalog = _catalog()
    recipes = [r for r in catalog if tag is None or tag in r.tags]
    if tag is not None and not recipes:
        raise _no_such_tag(tag, catalog)
    if as_json:
        rows = [
            {**r.to_json(), "overrides": [str(o.path) for o in catalog.overridden.get(r.name, [])]}
            for r in recipes
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not recipes:
        err("No recipes found.")
        return
    width = max(len(r.name) for r in recipes)
    lines = [
        (
            f"{r.name:<{width}}  {r.kind:<7}  ",
            f"{r.summary}  ({', '.join(r.tags)}){_notes(r, catalog)}",
        )
        for r in recipes
    ]
    _emit(_rows(lines), Color.never)


def _no_such_tag(tag: str, catalog: Catalog) -> UserError:
    from snippetgen.errors import closest

    near = closest(tag.lower(), {t for r in catalog for t in r.tags})
    hint = f" Did you mean {' or '.join(repr(t) for t in near)}?" if near else ""
    return UserError(
        f"No recipe has the tag {tag!r}.{hint} Run 'snippetgen list' to see every recipe's tags."
    )


def _notes(recipe: Recipe, catalog: Catalog) -> str:
    """What a listed recipe needs, and where it comes from when it is not built in."""
    extra = f"  [needs {', '.join(recipe.requires)}]" if recipe.requires else ""
    if recipe.source != BUILT_IN:
        overrides = " overriding the built-in" if recipe.name in catalog.overridden else ""
        extra += f"  [yours: {recipe.path}{overrides}]"
    return extra


@app.command()
@_guard
def search(
    query: Annotated[list[str], typer.Argument(help="words to look for (English or Chinese)")],
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="at most this many results")] = 5,
) -> None:
    """Find recipes by name, alias, tag and description, best match first."""
    from snippetgen.lookup.search import search as run_search

    text = " ".join(query)
    hits = run_search(_catalog(), text, limit=limit)
    if not hits:
        err(f"No recipe matches {text!r}; run 'snippetgen list' to see them all.")
    if as_json:
        rows = [
            {
                "name": h.recipe.name,
                "score": round(h.score, 3),
                "kind": h.recipe.kind,
                "summary": h.recipe.summary,
            }
            for h in hits
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not hits:
        return
    width = max(len(h.recipe.name) for h in hits)
    typer.echo(_rows([(f"{h.recipe.name:<{width}}  ", h.recipe.summary) for h in hits]))


@app.command(
    cls=RecipeCommand, context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
@_guard
def show(
    ctx: typer.Context,
    recipe: Annotated[str, typer.Argument(help="recipe name", autocompletion=complete_recipe)],
    color: Annotated[Color, typer.Option("--color", help="colour the code")] = Color.auto,
) -> None:
    """Explain a recipe: what, when, pitfalls, parameters and the essential code.

    Parameters given as --NAME VALUE are shown in the code (and, for warmup and
    lr-schedule, in the learning-rate curve): show warmup --warmup-epochs 3 --epochs 20.
    """
    from snippetgen.codegen.rendering import RenderRequest, plan
    from snippetgen.lookup.cheatsheet import cheatsheet

    catalog = _catalog(quiet=[recipe])
    found = catalog.get(recipe)
    values = plan(RenderRequest(found.name, args=list(ctx.args)), catalog).values
    # not typer.echo: it strips colour codes whenever stdout is not a terminal (--color always)
    _emit(cheatsheet(found, catalog, color=use_color(color), values=values), color)


def _render_help(recipe_name: str, data: str | None = None, model: str | None = None) -> str:
    """``render RECIPE --help``, laid out by Click's help formatter like every other --help
    page: wrapped to the terminal's width (COLUMNS, else the terminal; at most 80)."""
    import shutil
    import textwrap

    try:  # Typer >= 0.20 vendors Click; older Typer uses the click package
        from typer._click.formatting import HelpFormatter
    except ImportError:
        from click.formatting import HelpFormatter  # type: ignore[assignment]

    from snippetgen.codegen.rendering import RenderRequest, plan

    catalog = load_catalog(names=[recipe_name])
    recipe = catalog.get(recipe_name)
    setup = data_model(data, model) if recipe.kind == "feature" else data_model()
    resolved = plan(RenderRequest(recipe.name, data=setup.data, model=setup.model), catalog)
    width = max(min(shutil.get_terminal_size().columns, 80) - 2, 30)
    keep = str.maketrans(" ", NBSP)  # a range or a default is never split across lines
    formatter = HelpFormatter(width=width)
    prog = f"snippetgen render {recipe.name}"
    parts = _usage_parts(recipe)
    head = f"Usage: {prog} "
    if width - len(head) < max(len(p) for p in parts):  # too narrow: the parts go below
        formatter.write(head.rstrip() + "\n")
        head = ""
    formatter.write(
        textwrap.fill(
            " ".join(p.translate(keep) for p in parts),
            width=width,
            initial_indent=head or "    ",
            subsequent_indent=" " * len(head) if head else "    ",
            break_on_hyphens=False,
        )
        + "\n"
    )
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(f"{recipe.title}: {recipe.summary}")
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(
            "Parameters (each becomes the generated script's argparse default):"
            if recipe.kind == "feature"
            else "Parameters (each becomes a constant of the generated script):"
        )
    with formatter.indentation():
        formatter.write_dl([_param_row(resolved, name, keep) for name in resolved.params])
    if recipe.kind == "feature":
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(
                "Render options (the script holds that source's loader and that model):"
            )
            formatter.write_dl(
                [
                    ("--data SOURCE", f"{' | '.join(DATA_SOURCES)}; now {setup.data}"),
                    (
                        "--model ARCH",
                        f"{' | '.join(BUILTIN_MODELS)} | timm:NAME | torchvision:NAME; "
                        f"now {setup.model}",
                    ),
                ]
            )
    return formatter.getvalue().replace(NBSP, " ")


def _usage_parts(recipe: Recipe) -> list[str]:
    """The options of ``render RECIPE``'s usage line, after the program name."""
    return [
        "[--PARAM VALUE ...]",
        *(
            ["[--with RECIPE ...]", "[--data SOURCE]", "[--model ARCH]"]
            if recipe.kind == "feature"
            else []
        ),
        "[-o FILE [--force]]",
        "[--format py|ipynb]",
        "[--color auto|always|never]",
    ]


def _param_row(resolved: "Plan", name: str, keep: dict[int, int]) -> tuple[str, str]:
    """A parameter's line of ``render RECIPE --help``: its option and type, then its help,
    default, range and (for another recipe's parameter) the recipe; a short default or range
    keeps ``keep``'s unbreakable spaces."""
    from snippetgen.recipes.params.code import cli_text

    param = resolved.params[name]
    rng = param.range_text()
    owner = resolved.owners[name]
    default = f"default {cli_text(param, resolved.values[name])}"
    return (
        f"{param.option} {param.type.upper()}",
        f"{param.help}; {default.translate(keep) if len(default) <= 30 else default}"
        + (f"; {rng.translate(keep)}" if rng and len(rng) <= 30 else f"; {rng}" if rng else "")
        + (f" [{owner}]" if owner != resolved.target.name else ""),
    )


def _write_output(output: Path, code: str, *, force: bool) -> None:
    """Write a render to ``-o FILE`` (atomically); a refusal is one sentence."""
    try:
        atomic_write(output, code, overwrite=force)
    except FileExistsError:  # made while rendering
        raise OverwriteError(path=str(output)) from None
    except OSError as exc:  # a full disk, no permission, a name too long, ...
        raise UserError(f"Cannot write {output}: {exc.strerror or exc}.") from None
    err(f"wrote {output}")


def _notebook_format(fmt: str | None, output: Path | None) -> bool:
    """Whether --format (or, without it, an -o FILE ending in .ipynb) asks for a notebook;
    a notebook needs nbformat, checked before any work."""
    if fmt is not None and fmt not in ("py", "ipynb"):
        raise UserError(f"--format must be py or ipynb, not {fmt!r}.")
    wanted = fmt == "ipynb" or (
        fmt is None and output is not None and output.suffix.lower() == ".ipynb"
    )
    if wanted:
        from snippetgen.project.notebook import require_nbformat

        require_nbformat()
    return wanted


def _write_or_print(text: str, output: Path | None, *, force: bool) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        _write_output(output, text, force=force)


@app.command(
    cls=RecipeCommand,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
@_guard
def render(
    ctx: typer.Context,
    recipe: Annotated[
        str | None, typer.Argument(help="recipe to render", autocompletion=complete_recipe)
    ] = None,
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with", help="add another feature (repeatable)", autocompletion=complete_feature
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write to FILE instead of stdout")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace an existing -o FILE (a regular file only)")
    ] = False,
    color: Annotated[Color, typer.Option("--color", help="highlight the code")] = Color.auto,
    data: DataOption = None,
    model: ModelOption = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="py (a script) or ipynb (a notebook); default py, or ipynb for -o FILE.ipynb",
            autocompletion=lambda: ["py", "ipynb"],
        ),
    ] = None,
    show_help: Annotated[bool, typer.Option("--help", "-h", help="show parameters")] = False,
) -> None:
    """Render a recipe into a runnable script: render RECIPE [--PARAM V ...] [--with R ...]."""
    from snippetgen.codegen.rendering import RenderRequest, plan, render_plan

    if recipe is None or recipe.startswith("-"):
        if show_help or recipe is None:
            typer.echo(ctx.get_help())
            return
    assert recipe is not None
    if show_help:
        typer.echo(_render_help(recipe, data, model), nl=False)
        return
    from snippetgen.recipes.recipecheck import check_templates

    notebook = _notebook_format(fmt, output)
    with_ = with_ or []
    catalog = _catalog(quiet=[recipe, *with_], only=[recipe, *with_])
    setup = data_model(data, model)
    request = RenderRequest(recipe, {}, with_, setup.data, setup.model, list(ctx.args))
    resolved = plan(request, catalog)  # every value is parsed and checked here, once
    check_templates(resolved.recipes)
    if output is not None:
        check_output(output, force=force)  # before the render: no work for a refused FILE
    code = render_plan(resolved)
    if notebook:
        from snippetgen.project.notebook import script_notebook

        notebook_json = script_notebook(code, resolved, resolved.command(), dict(resolved.given))
        _write_or_print(notebook_json, output, force=force)
    elif output is None:
        _emit(code, color, code=True)
    else:
        _write_output(output, code, force=force)
    from snippetgen.lookup.lrplot import no_decay_warning

    warning = no_decay_warning([r.name for r in resolved.recipes], resolved.values)
    if warning:
        err(warning)


@app.command()
@_guard
def which(
    recipe: Annotated[str, typer.Argument(help="recipe name", autocompletion=complete_recipe)],
) -> None:
    """Print the folder a recipe comes from (the last line is the path)."""
    from snippetgen.recipes.userrecipes import where

    folder, notes = where(_catalog(quiet=[recipe]), recipe)
    for note in notes:
        typer.echo(note)
    typer.echo(str(folder))


@app.command()
@_guard
def copy(
    recipe: Annotated[str, typer.Argument(help="recipe to copy", autocompletion=complete_recipe)],
    directory: Annotated[Path, typer.Argument(help="recipes folder to copy it into")],
    name: Annotated[
        str | None, typer.Option("--name", help="name of the copy (default: the same name)")
    ] = None,
) -> None:
    """Copy a recipe's folder as the start of your own (DIR/NAME; add DIR to SNIPPETGEN_PATH)."""
    from snippetgen.recipes.catalog import PATH_ENV
    from snippetgen.recipes.userrecipes import copy_recipe, on_path, path_hint

    catalog = _catalog(quiet=[recipe])
    target = copy_recipe(catalog, recipe, directory, name)
    err(f"copied {catalog.get(recipe).name} to {target}")
    if not on_path(directory):
        err(f"to use it, add the folder to {PATH_ENV}: {path_hint(directory)}")
    elif target.name in catalog.recipes:
        err(f"note: it overrides the recipe {target.name!r} from now on")
    typer.echo(str(target))


@app.command(
    cls=RecipeCommand,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
@_guard
def new(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="folder to create (must be new or empty)")],
    with_: Annotated[
        list[str] | None,
        typer.Option("--with", help="add a feature (repeatable)", autocompletion=complete_feature),
    ] = None,
    from_: Annotated[
        Path | None, typer.Option("--from", help="answers file of an earlier project")
    ] = None,
    package: Annotated[
        str | None, typer.Option("--package", help="import name (default: from the folder name)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="list the files it would write; write nothing")
    ] = False,
    data: DataOption = None,
    model: ModelOption = None,
    notebook: Annotated[
        bool,
        typer.Option("--notebook", help="add notebook.ipynb, which trains with the package"),
    ] = False,
) -> None:
    """Create a training project: new DIR [--with R ...] [--PARAM V ...] [--from ANSWERS]."""
    from snippetgen.project.scaffold import (
        build_project,
        check_target,
        next_steps,
        read_answers,
        version_note,
        write_project,
    )

    check_target(directory)  # a non-empty DIR is refused before anything is read
    if notebook:
        _notebook_format("ipynb", None)
    answers = read_answers(from_) if from_ is not None else None
    note = version_note(answers) if answers is not None else ""
    if note:
        err(f"note: {from_} {note}")
    catalog = _catalog(quiet=[*(answers.recipes if answers else ()), *(with_ or [])])
    project = build_project(
        catalog,
        directory,
        with_=with_ or [],
        cli_args=list(ctx.args),
        package=package,
        answers=answers,
        data=data,
        model=model,
        notebook=notebook,
    )
    if dry_run:
        for relative, text in project.files.items():
            typer.echo(f"{directory / relative}  ({len(text.encode())} bytes)")
        err(f"dry run: nothing was written to {directory}")
        return
    write_project(project)
    err(f"created {directory} (package {project.package}); next: {next_steps(directory)}")


@app.command(
    cls=RecipeCommand,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
@_guard
def update(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="project folder made by 'snippetgen new'")
    ] = Path(),
    with_: Annotated[
        list[str] | None,
        typer.Option("--with", help="add a feature (repeatable)", autocompletion=complete_feature),
    ] = None,
    without: Annotated[
        list[str] | None, typer.Option("--without", help="remove a feature (repeatable)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the plan; write nothing")
    ] = False,
    diff: Annotated[bool, typer.Option("--diff", help="print the unified diffs")] = False,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="run even with uncommitted git changes")
    ] = False,
    data: DataOption = None,
    model: ModelOption = None,
) -> None:
    """Re-render a project and merge the changes into your edited files (git merge-file):
    update [DIR] [--with R ...] [--without R ...] [--PARAM V ...]. Exit 1 on conflicts."""
    import os

    from snippetgen.project.update import check_clean, diff_text, plan_update, summary
    from snippetgen.project.update_writing import apply_update, lock_project

    if not allow_dirty and directory.is_dir():
        check_clean(directory)
    held = lock_project(directory) if directory.is_dir() and not dry_run else None
    try:
        catalog = _catalog(quiet=[*(with_ or []), *(without or [])])
        plan = plan_update(
            catalog,
            directory,
            with_=with_ or [],
            without=without or [],
            cli_args=list(ctx.args),
            data=data,
            model=model,
        )
        for warning in plan.warnings:
            err(f"warning: {warning}")
        for note in plan.notes:
            err(f"note: {note}")
        for change in plan.listed():
            note = f"  ({change.note})" if change.note else ""
            typer.echo(f"{change.action:<10}  {change.path}{note}")
            if diff and change.before != change.after:
                sys.stdout.write(diff_text(change))
        counts = ", ".join(f"{n} {a}" for a, n in summary(plan).items() if n)
        if dry_run:
            err(f"dry run: {counts or 'nothing to change'}; nothing was written to {directory}")
        else:
            apply_update(plan)
            err(f"updated {directory}: {counts or 'nothing changed'}")
    finally:
        if held is not None:
            os.close(held)
    if plan.conflicts:
        for path in plan.conflicts:
            err(f"conflict: {directory / path}")
        verb = "would have" if dry_run else "have"
        err(
            f"error: {len(plan.conflicts)} files {verb} conflicts: edit the blocks between "
            "<<<<<<< and >>>>>>> in them, then run your tests."
        )
        raise typer.Exit(1)


def main() -> None:
    import gc

    from snippetgen.codegen import cache

    # One command runs, then the process exits, so what is imported by now (Typer and
    # snippetgen's modules) lives until then: freeze it, and the cyclic collector stops
    # rescanning it in every full collection while rendering allocates (black's parse
    # trees). That was a sixth of a cold render's CPU time (docs/performance.md).
    gc.freeze()

    try:
        app()
    finally:
        cache.flush()  # keep the parsed recipe.toml files for the next run (best effort)
