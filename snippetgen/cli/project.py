"""The project commands: new (scaffold) and update (merge a re-render into your edits)."""

import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from snippetgen.cli.base import (
    RECIPE_ARGS,
    DataOption,
    ModelOption,
    WithOption,
    app,
    err,
    guard,
    load_recipes,
    notebook_format,
)
from snippetgen.completion import RecipeCommand


@app.command(
    cls=RecipeCommand,
    context_settings=RECIPE_ARGS,
)
@guard
def new(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="folder to create (must be new or empty)")],
    with_: WithOption = None,
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
        notebook_format("ipynb", None)
    answers = read_answers(from_) if from_ is not None else None
    note = version_note(answers) if answers is not None else ""
    if note:
        err(f"note: {from_} {note}")
    catalog = load_recipes(quiet=[*(answers.recipes if answers else ()), *(with_ or [])])
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
    context_settings=RECIPE_ARGS,
)
@guard
def update(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="project folder made by 'snippetgen new'")
    ] = Path(),
    with_: WithOption = None,
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
    from snippetgen.project.update import check_clean, plan_update

    if not allow_dirty and directory.is_dir():
        check_clean(directory)
    with _project_lock(directory, hold=not dry_run):
        catalog = load_recipes(quiet=[*(with_ or []), *(without or [])])
        plan = plan_update(
            catalog,
            directory,
            with_=with_ or [],
            without=without or [],
            cli_args=list(ctx.args),
            data=data,
            model=model,
        )
        _print_plan(plan, diff=diff)
        _apply(plan, directory, dry_run=dry_run)
    if plan.conflicts:
        _report_conflicts(plan.conflicts, directory, dry_run=dry_run)
        raise typer.Exit(1)


@contextlib.contextmanager
def _project_lock(directory: Path, *, hold: bool) -> Iterator[None]:
    """Hold the project's lock (an existing folder, when `hold`) while the block runs."""
    import os

    from snippetgen.project.update_writing import lock_project

    held = lock_project(directory) if hold and directory.is_dir() else None
    try:
        yield
    finally:
        if held is not None:
            os.close(held)


def _print_plan(plan: Any, *, diff: bool) -> None:
    """The warnings and notes (stderr), then a line per file (stdout), with --diff its diff."""
    from snippetgen.project.update import diff_text

    for warning in plan.warnings:
        err(f"warning: {warning}")
    for note in plan.notes:
        err(f"note: {note}")
    for change in plan.listed():
        note = f"  ({change.note})" if change.note else ""
        typer.echo(f"{change.action:<10}  {change.path}{note}")
        if diff and change.before != change.after:
            sys.stdout.write(diff_text(change))


def _apply(plan: Any, directory: Path, *, dry_run: bool) -> None:
    from snippetgen.project.update import summary
    from snippetgen.project.update_writing import apply_update

    counts = ", ".join(f"{n} {a}" for a, n in summary(plan).items() if n)
    if dry_run:
        err(f"dry run: {counts or 'nothing to change'}; nothing was written to {directory}")
    else:
        apply_update(plan)
        err(f"updated {directory}: {counts or 'nothing changed'}")


def _report_conflicts(conflicts: Sequence[str], directory: Path, *, dry_run: bool) -> None:
    for path in conflicts:
        err(f"conflict: {directory / path}")
    verb = "would have" if dry_run else "have"
    err(
        f"error: {len(conflicts)} files {verb} conflicts: edit the blocks between "
        "<<<<<<< and >>>>>>> in them, then run your tests."
    )
