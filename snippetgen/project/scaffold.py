"""Scaffolding: ``snippetgen new DIR`` writes a training project.

The project's files are rendered from templates of their own (``templates/_project``),
which include the very data-source and model templates of the training skeleton
(``templates/train/data``, ``templates/train/models``, ``templates/train/parts``):

- ``PKG/data.py``: ``build_datasets`` for the chosen data source,
- ``PKG/model.py``: the chosen architecture and ``build_model`` (the network),
- ``PKG/utils.py``: ``fail`` and what data, model and training share,
- ``PKG/train.py``: the skeleton itself, rendered with ``project`` set, so it imports those
  instead of including them,
- ``tests/test_project.py``: a tiny run on data of the project's kind.

Every ``.py`` file passes the same checks as a render (:func:`snippetgen.codegen.codecheck.verify`).
Names: :mod:`snippetgen.project.naming`; the answers file: :mod:`snippetgen.project.answers`;
README and pyproject: :mod:`snippetgen.project.docs`; writing: :mod:`snippetgen.project.writing`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snippetgen.codegen.quoting import docstring, shell_word
from snippetgen.errors import RecipeBug, ScaffoldError
from snippetgen.project.answers import (
    ANSWERS_FILE,
    ANSWERS_LIMIT,
    Answers,
    answers_text,
    read_answers,
    version_note,
)
from snippetgen.project.docs import INSTALL_FOR_TESTS, next_steps, pyproject_text, readme_text
from snippetgen.project.naming import dist_name, package_name
from snippetgen.project.writing import check_target, write_project
from snippetgen.recipes.catalog import BASE_RECIPE, Catalog
from snippetgen.recipes.datamodel import DataModel, data_model
from snippetgen.recipes.params.code import cli_text

__all__ = [
    "ANSWERS_FILE",
    "ANSWERS_LIMIT",
    "INSTALL_FOR_TESTS",
    "Answers",
    "Project",
    "ScaffoldError",
    "build_project",
    "check_target",
    "next_steps",
    "package_name",
    "read_answers",
    "version_note",
    "write_project",
]


@dataclass
class Project:
    directory: Path
    package: str
    answers: Answers
    files: dict[str, str] = field(default_factory=dict)  # relative path -> text


def _command(
    directory: Path, recipes: Sequence[str], changed: Mapping[str, str], setup: DataModel
) -> str:
    words = ["snippetgen", "new", directory.resolve().name, *setup.options()]
    for name in recipes:
        words += ["--with", name]
    for option, text in changed.items():
        words += [option, text]
    return " ".join(shell_word(w) for w in words)


def _feature_names(catalog: Catalog, names: Sequence[str]) -> list[str]:
    for name in names:
        recipe = catalog.get(name)
        if recipe.kind != "feature":
            raise ScaffoldError(
                f"Recipe {recipe.name!r} is a standalone snippet; a project combines features "
                f"(render it with 'snippetgen render {recipe.name}')."
            )
    return [catalog.get(name).name for name in names if catalog.get(name).name != BASE_RECIPE]


def _parsed(base: Any, cli_args: Sequence[str], setup: DataModel) -> dict[str, Any]:
    """The typed values of ``--NAME VALUE`` words, for the parameters of `base` (a plan)."""
    if not cli_args:
        return {}
    from snippetgen.recipes.params.parse import parse_cli_args

    return parse_cli_args(
        base.params,
        list(cli_args),
        recipe=BASE_RECIPE,
        inapplicable=base.inapplicable,
        data=setup.data,
    )


def _changed(resolved: Any, base: Any) -> dict[str, str]:
    """{--option: its text} for each value of the plan `resolved` that differs from `base`'s."""
    return {
        resolved.params[n].option: cli_text(resolved.params[n], v)
        for n, v in resolved.values.items()
        if v != base.values[n]
    }


def _title(train_source: str) -> str:
    """The first line of the training module's docstring (it reaches docstrings and TOML
    only as a checked literal)."""
    doc = ast.get_docstring(ast.parse(train_source)) or ""
    return (doc.splitlines() or [""])[0].strip() or "Train a model."


def _setup(answers: Answers | None, data: str | None, model: str | None) -> DataModel:
    """The data source and model: those asked for, else the answers file's, else the defaults."""
    return data_model(
        data or (answers.data if answers else None), model or (answers.model if answers else None)
    )


def _given(
    base: Any, answered: Mapping[str, Any], params: Mapping[str, Any], new_source: bool
) -> dict[str, Any]:
    """The values given (the answers file's, overridden by `params`); with a `new_source`,
    less those that are not parameters for that data source."""
    given = {**answered, **params}
    if new_source:
        given = {name: value for name, value in given.items() if name not in base.inapplicable}
    return given


def build_project(
    catalog: Catalog,
    directory: Path,
    *,
    with_: Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
    cli_args: Sequence[str] = (),
    package: str | None = None,
    answers: Answers | None = None,
    data: str | None = None,
    model: str | None = None,
    notebook: bool = False,
) -> Project:
    """Render everything in memory; raises UserError before any file is touched.

    `answers` (from an answers file) gives the starting recipes, values, data source, model
    and package; `with_`, `params` (typed values), `cli_args` (``--NAME VALUE`` words),
    `data`, `model` and `package` add to or override them. `notebook` adds notebook.ipynb.
    The project as generated is also kept under .snippetgen/pristine/, the base of
    `snippetgen update`.
    """
    from snippetgen import __version__
    from snippetgen.codegen.codecheck import verify
    from snippetgen.codegen.rendering import RenderRequest, make_header, plan
    from snippetgen.project.pristine import pristine_files, recipe_hashes
    from snippetgen.recipes.userrecipes import check_templates

    directory = Path(directory)
    before = answers or Answers(package="", recipes=(), params={})
    recipes = _feature_names(catalog, list(dict.fromkeys([*before.recipes, *with_])))
    setup = _setup(answers, data, model)

    def request(values: Mapping[str, Any]) -> RenderRequest:
        return RenderRequest(BASE_RECIPE, values, recipes, setup.data, setup.model)

    base = plan(request({}), catalog)
    # answers kept for another data source
    given = _given(base, before.params, params or {}, answers is not None and data is not None)
    given.update(_parsed(base, cli_args, setup))
    pkg = package_name(directory, package or before.package or None)
    resolved = plan(request(given), catalog)
    check_templates(resolved.recipes)
    command = _command(directory, recipes, _changed(resolved, base), setup)
    project = Project(
        directory=directory,
        package=pkg,
        answers=Answers(
            pkg,
            tuple(recipes),
            dict(resolved.values),
            __version__,
            setup.data,
            setup.model,
            recipe_hashes(resolved.recipes),
            dict(base.values),
        ),
    )
    project.files = _python_files(resolved, make_header(resolved, command), pkg)
    title = _title(project.files[f"{pkg}/train.py"])
    project.files[f"{pkg}/__init__.py"] = verify(
        docstring(f"{title.rstrip('.')}: generated by snippetgen {__version__}.") + "\n"
    )
    requires = sorted(
        {req for r in resolved.recipes for req in r.requires} | set(setup.requirements)
    )
    project.files["pyproject.toml"] = pyproject_text(pkg, requires, title)
    project.files["README.md"] = readme_text(
        project, catalog, resolved.values, resolved.params, command
    )
    project.files[ANSWERS_FILE] = answers_text(project.answers)
    project.files[".gitignore"] = "__pycache__/\n*.egg-info/\nruns/\n"
    if notebook:
        from snippetgen.project.notebook import example_args, project_notebook

        project.files["notebook.ipynb"] = project_notebook(
            pkg, title, f"{command} --notebook", example_args(resolved)
        )
    project.files.update(pristine_files(project.files, ANSWERS_FILE))  # `update`'s base
    return project


def _python_files(resolved: Any, header: str, pkg: str) -> dict[str, str]:
    """The project's Python files, rendered from its templates, checked and formatted."""
    from snippetgen.codegen.codecheck import CodeProblem, verify
    from snippetgen.codegen.template_env import Code
    from snippetgen.codegen.templating import PROJECT_TEMPLATES, render_project_sources
    from snippetgen.recipes.catalog import builtin_dir

    main_doc = f"Train: `python -m {pkg} [options]` (the `{dist_name(pkg)}-train` command)."
    docs = {"main_doc": Code(docstring(main_doc))}
    sources = render_project_sources(resolved, header, pkg, builtin_dir() / PROJECT_TEMPLATES, docs)
    files: dict[str, str] = {}
    for relative, text in sources.items():
        path = f"{pkg}/train.py" if relative == "" else relative
        if path.startswith("package/"):
            path = pkg + path.removeprefix("package")
        try:
            files[path] = verify(text if relative == "" else header + text)
        except CodeProblem as exc:
            raise RecipeBug(recipe=BASE_RECIPE, problem=f"{path}: {exc}") from None
    return dict(sorted(files.items()))
