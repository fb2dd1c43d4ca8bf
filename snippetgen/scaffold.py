"""Scaffolding: ``snippetgen new DIR`` turns a composed training script into a project.

The training script is rendered as usual (``train`` plus the chosen features, checked and
black-formatted), then split by its top-level definitions with :mod:`ast` into a package:

- ``data.py``: ``build_datasets`` and the helpers only it needs,
- ``model.py``: ``SmallCNN``, ``build_model``, ``load_matching_weights`` and their helpers,
- ``utils.py`` (only when needed): helpers that both of those use,
- ``train.py``: everything else, with ``main``; it imports from the modules above.

Each module gets exactly the imports its code uses, and every ``.py`` file of the project
passes the same checks as a render (:func:`snippetgen.codecheck.verify`). The project is
written into a temporary folder beside DIR and renamed into place only when all of it
succeeded; a non-empty DIR is refused before anything is written. The answers file
(``.snippetgen.toml``) records the snippetgen version, the features and every parameter
value, so ``snippetgen new --from DIR/.snippetgen.toml OTHER`` re-creates the project.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import os
import re
import shutil
import symtable
import sys
import tempfile
import textwrap
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snippetgen.catalog import BASE_RECIPE, Catalog
from snippetgen.datamodel import DEFAULT_DATA, DEFAULT_MODEL, DataModel, data_model
from snippetgen.errors import RecipeBug, UserError
from snippetgen.params.code import cli_text
from snippetgen.quoting import docstring, escape, shell_word, toml_string
from snippetgen.safefile import FileRefused, read_text

ANSWERS_FILE = ".snippetgen.toml"
# How a new project gets pytest (its `test` extra, see _pyproject) into the interpreter
# that then runs `python -m pytest`.
INSTALL_FOR_TESTS = 'python -m pip install -e ".[test]"'
ANSWERS_LIMIT = 1 << 20  # bytes of an answers file
_ANSWER_KEYS = {"snippetgen_version", "package", "recipes", "data", "model", "params"}
_ANSWER_KEYS |= {"recipe_hashes", "defaults"}  # for `snippetgen update` (snippetgen.update)
_BUILTINS = set(dir(builtins)) | {"__file__", "__name__", "__doc__"}
# Top-level definitions that seed each module; the rest of the script stays in train.py.
SEEDS = {
    "data": ("build_datasets",),
    "model": ("SmallCNN", "build_model", "load_matching_weights"),
}
_RESERVED = {"torch", "snippetgen", "tests", "data", "model", "train", "utils", "setup"}
_DOCS = {
    "data": (
        "The data: build_datasets(args) returns (train_dataset, val_dataset).\n\n"
        "Replace the synthetic default with your own datasets and keep the signature: items\n"
        "are (image tensor, class index) pairs, and args carries every command-line option."
    ),
    "model": (
        "The model: build_model(args) returns the network to train.\n\n"
        "Replace SmallCNN with your own model; keep the classifier head named `fc`\n"
        "(--pretrained and the fine-tuning options rely on that name)."
    ),
    "utils": "Helpers shared by the data, model and training code.",
}


class ScaffoldError(UserError):
    """A project that cannot be created as asked (one sentence, exit 2)."""


@dataclass(frozen=True)
class Answers:
    """What a project was made from: enough to make it again."""

    package: str
    recipes: tuple[str, ...]
    params: dict[str, Any]
    version: str = ""
    data: str = DEFAULT_DATA
    model: str = DEFAULT_MODEL
    # for `snippetgen update`: each recipe's content hash, each parameter's default
    hashes: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass
class Project:
    directory: Path
    package: str
    answers: Answers
    files: dict[str, str] = field(default_factory=dict)  # relative path -> text


# --- names ------------------------------------------------------------------------------------


def package_name(directory: Path, package: str | None = None) -> str:
    """The import name: --package, else the folder name made into an identifier."""
    if package is None:
        base = re.sub(r"[^0-9a-zA-Z]+", "_", directory.resolve().name).strip("_").lower()
        package = ("p_" + base if base[:1].isdigit() else base) or "project"
        hint = "; choose one with --package NAME"
    else:
        hint = ""
    if not package.isidentifier() or not package.isascii() or keyword.iskeyword(package):
        raise ScaffoldError(f"Package name {package!r} is not a Python identifier{hint}.")
    if package in sys.stdlib_module_names or package in _RESERVED:
        raise ScaffoldError(
            f"Package name {package!r} would shadow the module of that name{hint or '; choose another'}."
        )
    return package


def _dist_name(package: str) -> str:
    return package.replace("_", "-")


# --- splitting the script ---------------------------------------------------------------------


@dataclass
class _Block:
    node: ast.stmt
    text: str
    names: tuple[str, ...]  # top-level names it defines
    uses: set[str]  # free global names it refers to
    declares_global: set[str]


def _walk(table: symtable.SymbolTable) -> list[symtable.SymbolTable]:
    out = [table]
    for child in table.get_children():
        out.extend(_walk(child))
    return out


def _free_globals(code: str) -> tuple[set[str], set[str]]:
    """Global names `code` reads (not defined in it) and names its functions declare global."""
    top = symtable.symtable(code, "<block>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    used: set[str] = set()
    declared: set[str] = set()
    for table in _walk(top):
        for sym in table.get_symbols():
            if sym.is_declared_global():
                declared.add(sym.get_name())
            if sym.is_referenced() and (table is top or sym.is_global()):
                used.add(sym.get_name())
    return used - defined - _BUILTINS, declared


def _bound_names(node: ast.stmt) -> tuple[str, ...]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return (node.name,)
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    names: list[str] = []

    def collect(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for item in target.elts:
                collect(item)
        elif isinstance(target, ast.Starred):
            collect(target.value)

    for target in targets:
        collect(target)
    return tuple(names)


def _import_bindings(node: ast.Import | ast.ImportFrom) -> list[tuple[str, ast.alias]]:
    out = []
    for alias in node.names:
        if alias.asname:
            bound = alias.asname
        elif isinstance(node, ast.Import):
            bound = alias.name.split(".")[0]
        else:
            bound = alias.name
        out.append((bound, alias))
    return out


def _is_main_guard(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def _imports_for(imports: list[ast.Import | ast.ImportFrom], used: set[str]) -> list[str]:
    """The import lines that bind names in `used`: standard library first, then the rest."""
    groups: tuple[list[str], list[str]] = ([], [])
    for node in imports:
        kept = [alias for bound, alias in _import_bindings(node) if bound in used]
        if not kept:
            continue
        if isinstance(node, ast.Import):
            copy: ast.stmt = ast.Import(names=kept)
            top = kept[0].name.split(".")[0]
        else:
            copy = ast.ImportFrom(module=node.module, names=kept, level=node.level)
            top = (node.module or "").split(".")[0]
        groups[0 if top in sys.stdlib_module_names else 1].append(ast.unparse(copy))
    ordered = [
        sorted(g, key=lambda line: (line.startswith("from "), line.split()[1].lower()))
        for g in groups
    ]
    return [line for group in ordered if group for line in [*group, ""]]


def split_script(source: str, package: str, header: str, train_doc: str) -> dict[str, str]:
    """Split a rendered training script into {module name: source} (data, model, train...)."""
    tree = ast.parse(source)
    lines = source_lines(source)
    body = list(tree.body)
    previous_end = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        previous_end = body[0].end_lineno or 0
        body = body[1:]  # the module docstring: train.py gets its own
    imports: list[ast.Import | ast.ImportFrom] = []
    blocks: list[_Block] = []
    for node in body:
        start = (previous_end or 0) + 1
        assert node.end_lineno is not None
        text = "\n".join(lines[start - 1 : node.end_lineno]).strip("\n")
        previous_end = node.end_lineno
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
            continue
        uses, declared = _free_globals(text + "\n")
        blocks.append(_Block(node, text, _bound_names(node), uses, declared))

    owner: dict[str, int] = {}
    for index, block in enumerate(blocks):
        for name in block.names:
            owner[name] = index
    home: dict[int, str] = {}
    for module, seeds in SEEDS.items():
        for seed in seeds:
            if seed in owner:
                home[owner[seed]] = module
    for required in ("build_datasets", "build_model", "main"):
        if required not in owner:
            raise RecipeBug(
                recipe=BASE_RECIPE, problem=f"the training script defines no {required}()"
            )
    # which of data/model need each other block (directly or through other helpers)
    needed_by: dict[int, set[str]] = {}
    for module, seeds in SEEDS.items():
        stack = [owner[s] for s in seeds if s in owner]
        seen: set[int] = set()
        while stack:
            index = stack.pop()
            if index in seen:
                continue
            seen.add(index)
            for name in blocks[index].uses:
                dep = owner.get(name)
                if dep is None or dep in seen:
                    continue
                if home.get(dep, module) != module:
                    continue  # another module's seed: imported from there
                needed_by.setdefault(dep, set()).add(module)
                stack.append(dep)
    # a helper of data or model that train.py also uses goes to utils.py with the shared ones
    rest = [b for i, b in enumerate(blocks) if i not in home and i not in needed_by]
    used_by_train = {owner[n] for b in rest for n in b.uses if n in owner}
    for index, needers in needed_by.items():
        if index not in home:
            alone = len(needers) == 1 and index not in used_by_train
            home[index] = next(iter(needers)) if alone else "utils"
    # and so do the helpers a shared helper needs (utils.py imports from no other module)
    shared = [i for i, module in home.items() if module == "utils"]
    while shared:
        for name in blocks[shared.pop()].uses:
            dep = owner.get(name)
            if dep in needed_by and home[dep] != "utils":
                home[dep] = "utils"
                shared.append(dep)
    for index in range(len(blocks)):
        home.setdefault(index, "train")
    order = ["utils", "data", "model", "train"]
    for index, block in enumerate(blocks):
        for name in block.uses | block.declares_global:
            dep = owner.get(name)
            if dep is None:
                continue
            if order.index(home[dep]) > order.index(home[index]) or (
                name in block.declares_global and home[dep] != home[index]
            ):
                raise RecipeBug(
                    recipe=BASE_RECIPE,
                    problem=f"cannot split the script: {home[index]}.py would need "
                    f"{name!r} from {home[dep]}.py",
                )

    docs = dict(_DOCS, train=train_doc)
    modules: dict[str, str] = {}
    for module in order:
        members = [i for i in range(len(blocks)) if home[i] == module]
        if not members and module == "utils":
            continue
        used = set().union(*(blocks[i].uses for i in members)) if members else set()
        doc = docs[module] + ("\n" if "\n" in docs[module] else "")
        parts = [header + docstring(doc), ""]
        parts += _imports_for(imports, used)
        for other in sorted(order):
            if other == module:
                continue
            names = sorted(
                {n for n in used if n in owner and home[owner[n]] == other},
                key=str.lower,
            )
            if names:
                parts.append(f"from {package}.{other} import {', '.join(names)}")
        parts.append("\n")
        parts += [blocks[i].text + "\n\n" for i in members]
        modules[module] = "\n".join(parts).rstrip() + "\n"
    return modules


# --- the other files --------------------------------------------------------------------------


def source_lines(source: str) -> list[str]:
    """The lines of Python source as the tokenizer numbers them (\\n, \\r\\n or \\r end a
    line; str.splitlines would also split at \\x0c, \\x1c, \\u2028 and others)."""
    return re.split(r"\r\n|\r|\n", source.removesuffix("\n").removesuffix("\r"))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def answers_text(answers: Answers) -> str:
    lines = [
        "# The answers `snippetgen new` was given. Re-create this project with:",
        f"#   snippetgen new --from {ANSWERS_FILE} NEW_FOLDER",
        f"snippetgen_version = {_toml_value(answers.version)}",
        f"package = {_toml_value(answers.package)}",
        f"recipes = {_toml_value(list(answers.recipes))}",
        f"data = {_toml_value(answers.data)}",
        f"model = {_toml_value(answers.model)}",
        "",
        "[params]",
    ]
    lines += [f"{name} = {_toml_value(value)}" for name, value in answers.params.items()]
    for table, entries in (("recipe_hashes", answers.hashes), ("defaults", answers.defaults)):
        if entries:
            lines += ["", f"[{table}]"]
            lines += [f"{toml_string(k)} = {_toml_value(v)}" for k, v in entries.items()]
    return "\n".join(lines) + "\n"


def read_answers(path: Path) -> Answers:
    """Read an answers file; a missing or malformed one is a ScaffoldError naming it."""
    shown = escape(str(path))
    try:
        data = tomllib.loads(read_text(path, limit=ANSWERS_LIMIT))  # a regular file only: no FIFO
    except FileRefused as exc:
        if exc.missing:
            raise ScaffoldError(f"Answers file {shown} does not exist.") from None
        raise ScaffoldError(f"Cannot read answers file {shown}: it {exc.reason}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScaffoldError(f"Cannot read answers file {shown}: {exc}.") from None
    except (RecursionError, MemoryError):
        raise ScaffoldError(f"Cannot read answers file {shown}: it nests too deeply.") from None
    unknown = set(data) - _ANSWER_KEYS
    recipes = data.get("recipes", [])
    params = data.get("params", {})
    package = data.get("package", "")
    version = data.get("snippetgen_version", "")
    source = data.get("data", DEFAULT_DATA)
    model = data.get("model", DEFAULT_MODEL)
    hashes = data.get("recipe_hashes", {})
    defaults = data.get("defaults", {})
    if (
        unknown
        or not isinstance(recipes, list)
        or not all(isinstance(r, str) for r in recipes)
        or not isinstance(params, dict)
        or not isinstance(package, str)
        or not isinstance(version, str)
        or not isinstance(source, str)
        or not isinstance(model, str)
        or not isinstance(hashes, dict)
        or not all(isinstance(h, str) for h in hashes.values())
        or not isinstance(defaults, dict)
    ):
        raise ScaffoldError(
            f"Answers file {shown} is malformed: expected snippetgen_version, package, "
            "recipes (a list of names), data, model and a [params] table."
        )
    try:
        setup = data_model(source, model)
    except UserError as exc:
        raise ScaffoldError(f"Answers file {shown}: {exc}") from None
    return Answers(
        package=package,
        recipes=tuple(recipes),
        params=dict(params),
        version=version,
        data=setup.data,
        model=setup.model,
        hashes=dict(hashes),
        defaults=dict(defaults),
    )


def version_note(answers: Answers) -> str:
    """A note when an answers file comes from another snippetgen version, else ''."""
    from snippetgen import __version__

    if answers.version and answers.version != __version__:
        return f"was written by snippetgen {answers.version}; this is {__version__}"
    return ""


def _columns(rows: Sequence[tuple[str, str]]) -> list[str]:
    """Two columns, the second aligned two spaces past the longest first cell."""
    width = max(len(left) for left, _ in rows) + 2
    return [f"{left:<{width}}{right}".rstrip() for left, right in rows]


def next_steps(directory: Path) -> str:
    """The commands that run a new project's tests, from where `new` was run."""
    return f"cd {shell_word(str(directory))} && {INSTALL_FOR_TESTS} && python -m pytest"


def _readme(
    project: Project,
    catalog: Catalog,
    values: Mapping[str, Any],
    params: Mapping[str, Any],
    command: str,
) -> str:
    pkg = project.package
    name = project.directory.resolve().name
    features = [catalog.get(r) for r in project.answers.recipes]
    layout = [
        (f"{pkg}/data.py", "build_datasets(args) -> (train_dataset, val_dataset)"),
        (f"{pkg}/model.py", "build_model(args) -> the network (classifier head: `fc`)"),
        (f"{pkg}/train.py", "options, optimizer, scheduler, training loop, main()"),
        *(
            [(f"{pkg}/utils.py", "helpers the modules share")]
            if f"{pkg}/utils.py" in project.files
            else []
        ),
        ("tests/", "a tiny training run; `python -m pytest`"),
        (ANSWERS_FILE, "the answers this project was generated from"),
    ]
    lines = [
        f"# {escape(name)}",
        "",
        "A PyTorch training project generated by "
        f"[snippetgen](https://pypi.org/project/snippetgen/) {project.answers.version}:",
        "",
        "```sh",
        command,
        "```",
        "",
        "It trains a small image classifier on synthetic data out of the box; replace the data",
        "and the model with your own (see *Adapt it*)." + (" Features:" if features else ""),
        "",
    ]
    lines += [f"- **{r.name}**: {r.summary}" for r in features]
    lines += [
        "" if features else "",
        "## Layout",
        "",
        "```",
        *_columns(layout),
        "```",
        "",
        "## Run it",
        "",
        "```sh",
        *_columns(
            [
                (INSTALL_FOR_TESTS, "# torch and pytest (or use an environment that has them)"),
                (f"python -m {pkg} --output-dir runs/first", ""),
                (f"python -m {pkg} --help", "# every option and its default"),
            ]
        ),
        "```",
        "",
        f"After `python -m pip install -e .` the same is `{_dist_name(pkg)}-train`. Each run writes",
        "`metrics.jsonl` (one JSON object per epoch: epoch, train_loss, val_loss, val_acc, lr)",
        "and `model.pt` (the final state_dict) into `--output-dir` (default: `runs/<timestamp>`).",
        "An `--output-dir` that already holds a run is refused unless you pass `--overwrite`.",
        "",
        "## Resume",
        "",
    ]
    if "checkpoint" in project.answers.recipes:
        lines += [
            "The checkpoint feature saves `last.pt` (and `best.pt` by val_acc) in the output",
            "folder. After a crash or Ctrl-C, continue where it stopped:",
            "",
            "```sh",
            f"python -m {pkg} --output-dir runs/first --resume",
            "```",
        ]
    else:
        lines += [
            "This project saves only the final weights. To resume interrupted runs, generate it",
            "again with the checkpoint feature and move your changes over:",
            "",
            "```sh",
            f"snippetgen new --from {ANSWERS_FILE} {shell_word(f'../{name}-v2')} --with checkpoint",
            "```",
        ]
    lines += [
        "",
        "## Adapt it",
        "",
        f"- Data: rewrite `build_datasets` in `{pkg}/data.py`; items are `(image, label)`.",
        f"- Model: rewrite `build_model` in `{pkg}/model.py`; keep the head named `fc`.",
        "- Options: the defaults below are the values this project was generated with; change",
        "  them on the command line, or in `parse_args` in `train.py`.",
        "- Run `python -m pytest` after each change: the tests train for a few tiny batches.",
        "",
        "| option | default | meaning |",
        "| --- | --- | --- |",
    ]
    for param_name, param in params.items():
        lines.append(
            f"| `--{param_name}` | `{_cell(cli_text(param, values[param_name]))}` | {_cell(param.help)} |"
        )
    lines += [
        "",
        "## Re-generate",
        "",
        f"`{ANSWERS_FILE}` records the snippetgen version, features and every option value.",
        "`snippetgen new --from .snippetgen.toml NEW_FOLDER` writes the same project again",
        "(add `--with NAME` or `--OPTION VALUE` to change it), to compare with your edited copy.",
        "",
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text for a cell of a Markdown table: one line, no column break."""
    return escape(text).replace("|", "\\|")


def _pyproject(package: str, requires: Sequence[str], description: str) -> str:
    deps = ["torch>=2.4", *requires]
    if not any(re.match(r"numpy\b", dep) for dep in requires):
        deps.insert(1, "numpy>=1.24")  # without it torch warns on every import
    return textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = {_toml_value(_dist_name(package))}
        version = "0.1.0"
        description = {_toml_value(description)}
        readme = "README.md"
        requires-python = ">=3.10"
        dependencies = {_toml_value(deps)}

        [project.optional-dependencies]
        test = ["pytest>=8"]

        [project.scripts]
        {_dist_name(package)}-train = {_toml_value(package + ".__main__:run")}

        [tool.setuptools]
        packages = [{_toml_value(package)}]

        [tool.pytest.ini_options]
        testpaths = ["tests"]
        pythonpath = ["."]
    """)


def _tests(package: str) -> str:
    return textwrap.dedent(f'''\
        """Tests of the project: a few tiny batches prove data, model and training fit together.

        Run them with `python -m pytest` (from the project folder) after every change.
        """

        import json

        import torch

        from {package}.data import build_datasets
        from {package}.model import build_model
        from {package}.train import main, parse_args

        # tiny data, one batch per epoch: seconds on a CPU
        TINY = [
            "--train-size", "32", "--val-size", "16", "--batch-size", "8",
            "--max-batches", "1", "--device", "cpu",
        ]


        def test_datasets_hold_images_and_labels():
            args = parse_args(TINY)
            train_dataset, val_dataset = build_datasets(args)
            assert len(train_dataset) == 32 and len(val_dataset) == 16
            image, label = train_dataset[0]
            assert image.dim() == 3
            assert 0 <= int(label) < args.num_classes


        def test_model_gives_one_score_per_class():
            args = parse_args(TINY)
            model = build_model(args).eval()
            images = torch.stack([build_datasets(args)[1][i][0] for i in range(2)])
            with torch.no_grad():
                assert model(images).shape == (2, args.num_classes)


        def test_training_writes_metrics_and_weights(tmp_path):
            history = main([*TINY, "--output-dir", str(tmp_path)])
            lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
            rows = [json.loads(line) for line in lines if line.strip()]
            assert rows and rows == history
            assert [row["epoch"] for row in rows] == list(range(1, len(rows) + 1))
            for row in rows:
                assert {{"epoch", "train_loss", "val_loss", "val_acc", "lr"}} <= row.keys()
            state = torch.load(tmp_path / "model.pt", weights_only=True)
            assert state.keys() == build_model(parse_args(TINY)).state_dict().keys()
    ''')


def _main_module(package: str) -> str:
    return textwrap.dedent(f'''\
        """Train: `python -m {package} [options]` (the `{_dist_name(package)}-train` command)."""

        from {package}.train import run_cli


        def run():
            """Run the training from the command line (Ctrl-C: exit 130, SIGTERM: 143)."""
            run_cli()


        if __name__ == "__main__":
            run()
    ''')


# --- building and writing ---------------------------------------------------------------------


def _command(
    directory: Path, recipes: Sequence[str], changed: Mapping[str, str], setup: DataModel
) -> str:
    words = ["snippetgen", "new", directory.resolve().name, *setup.options()]
    for name in recipes:
        words += ["--with", name]
    for option, text in changed.items():
        words += [option, text]
    return " ".join(shell_word(w) for w in words)


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
    """Render and split everything in memory; raises UserError before any file is touched.

    `answers` (from an answers file) gives the starting recipes, values, data source, model
    and package; `with_`, `params` (typed values), `cli_args` (``--NAME VALUE`` words),
    `data`, `model` and `package` add to or override them. `notebook` adds notebook.ipynb.
    """
    from snippetgen import __version__
    from snippetgen.codecheck import CodeProblem, verify
    from snippetgen.pristine import pristine_files, recipe_hashes
    from snippetgen.rendering import RenderRequest, plan, render
    from snippetgen.userrecipes import check_templates

    directory = Path(directory)
    recipes = list(dict.fromkeys([*(answers.recipes if answers else ()), *with_]))
    for name in recipes:
        recipe = catalog.get(name)
        if recipe.kind != "feature":
            raise ScaffoldError(
                f"Recipe {recipe.name!r} is a standalone snippet; a project combines features "
                f"(render it with 'snippetgen render {recipe.name}')."
            )
    recipes = [catalog.get(name).name for name in recipes if catalog.get(name).name != BASE_RECIPE]
    setup = data_model(
        data or (answers.data if answers else None), model or (answers.model if answers else None)
    )

    def request(values: Mapping[str, Any]) -> RenderRequest:
        return RenderRequest(BASE_RECIPE, values, recipes, setup.data, setup.model)

    given = {**(answers.params if answers else {}), **(params or {})}
    base = plan(request({}), catalog)
    if answers is not None and data is not None:  # answers kept for another data source
        given = {name: value for name, value in given.items() if name not in base.inapplicable}
    if cli_args:
        from snippetgen.params.parse import parse_cli_args

        given.update(
            parse_cli_args(
                base.params,
                list(cli_args),
                recipe=BASE_RECIPE,
                inapplicable=base.inapplicable,
                data=setup.data,
            )
        )
    pkg = package_name(
        directory, package or (answers.package if answers and answers.package else None)
    )
    resolved = plan(request(given), catalog)
    check_templates(resolved.recipes)
    defaults = base.values
    changed = {
        resolved.params[n].option: cli_text(resolved.params[n], v)
        for n, v in resolved.values.items()
        if v != defaults[n]
    }
    command = _command(directory, recipes, changed, setup)
    script = render(request(resolved.values), catalog, command=command)
    header_lines = []
    for line in source_lines(script):
        if not line.startswith("#"):
            break
        header_lines.append(line)
    header = "\n".join(header_lines) + "\n"
    # the script's first docstring line: into docstrings and TOML only as a checked literal
    title = ((ast.get_docstring(ast.parse(script)) or "").splitlines() or [""])[0].strip()
    title = title or "Train a model."
    train_doc = (
        f"{title}\n\n"
        f"Run it with `python -m {pkg}` (or `{_dist_name(pkg)}-train` once installed); --help\n"
        f"lists every option. The data comes from {pkg}.data.build_datasets and the model from\n"
        f"{pkg}.model.build_model: replace those with your own. Outputs go to --output-dir:\n"
        "metrics.jsonl (one JSON object per epoch) and model.pt (the final state_dict)."
    )
    modules = split_script(script, pkg, header, train_doc)
    version = __version__
    project = Project(
        directory=directory,
        package=pkg,
        answers=Answers(
            pkg,
            tuple(recipes),
            dict(resolved.values),
            version,
            setup.data,
            setup.model,
            recipe_hashes(resolved.recipes),
            dict(defaults),
        ),
    )
    requires = sorted({req for r in resolved.recipes for req in r.requires})
    python_files = {f"{pkg}/{name}.py": text for name, text in modules.items()}
    python_files[f"{pkg}/__init__.py"] = (
        docstring(f"{title.rstrip('.')}: generated by snippetgen {version}.") + "\n"
    )
    python_files[f"{pkg}/__main__.py"] = _main_module(pkg)
    python_files["tests/test_project.py"] = _tests(pkg)
    for path, text in python_files.items():
        try:
            project.files[path] = verify(text)
        except CodeProblem as exc:
            raise RecipeBug(recipe=BASE_RECIPE, problem=f"{path}: {exc}") from None
    project.files["pyproject.toml"] = _pyproject(pkg, requires, title)
    project.files["README.md"] = _readme(
        project, catalog, resolved.values, resolved.params, command
    )
    project.files[ANSWERS_FILE] = answers_text(project.answers)
    project.files[".gitignore"] = "__pycache__/\n*.egg-info/\nruns/\n"
    if notebook:
        from snippetgen.notebook import example_args, project_notebook

        project.files["notebook.ipynb"] = project_notebook(
            pkg, title, f"{command} --notebook", example_args(resolved)
        )
    project.files.update(
        pristine_files(project.files, ANSWERS_FILE)
    )  # the base of `snippetgen update`
    return project


def check_target(directory: Path) -> None:
    """Refuse a target that is not a new or an empty folder: a file, a symbolic link (even
    one to a folder), a FIFO, socket or device, or a folder with anything in it (a dangling
    link too). Only a temporary left there by a killed `new` does not count (see write_project)."""
    import stat

    from snippetgen.output import is_abandoned_temp, kind_of

    try:
        mode = directory.lstat().st_mode
    except FileNotFoundError:
        return
    except NotADirectoryError:
        blocker = next(
            (f for f in reversed(directory.parents) if f.exists() and not f.is_dir()), None
        )
        raise ScaffoldError(
            f"Cannot create {directory}: {blocker or 'a folder on its path'} is not a folder; "
            "nothing was written."
        ) from None
    except OSError as exc:  # a name too long, no permission
        raise ScaffoldError(f"Cannot create {directory}: {exc.strerror or exc}.") from None
    if not stat.S_ISDIR(mode):
        raise ScaffoldError(
            f"{directory} exists and is not a folder (it is {kind_of(mode)}); nothing was written."
        )
    try:
        entries = [e for e in directory.iterdir() if not is_abandoned_temp(e)]
    except OSError as exc:
        raise ScaffoldError(f"Cannot read {directory}: {exc.strerror or exc}.") from None
    if entries:
        raise ScaffoldError(f"{directory} is not empty; choose a new folder (nothing was written).")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_project(project: Project) -> Path:
    """Write into a temporary folder, then rename it into place (or, when the target is an
    existing empty folder such as ".", move its entries in); on any failure remove it all.

    The staging folder (".NAME.XXXXXXXX.snippetgen.tmp") is locked while in use; one that a
    killed process left behind is removed by the next `new` into the same folder."""
    from snippetgen.output import TEMP_SUFFIX, lock, remove_stale_temps, temp_prefix

    target = project.directory.absolute()
    check_target(target)
    missing = []
    parent = target.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise ScaffoldError(f"Cannot create {target}: {parent} is not a folder.")
    fill = target.is_dir()
    staging: Path | None = None
    held: int | None = None
    moved: list[Path] = []
    done = False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        home = target if fill else target.parent
        remove_stale_temps(home)  # what a killed `new` left here
        staging = Path(
            tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=TEMP_SUFFIX, dir=home)
        )
        held = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        lock(held)  # in use: another `new` in this folder leaves it alone
        for relative, text in project.files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if fill:
            for entry in sorted(staging.iterdir()):
                entry.rename(target / entry.name)
                moved.append(target / entry.name)
        else:
            staging.chmod(0o777 & ~_umask())  # mkdtemp made it private
            staging.rename(target)
            staging = None
        done = True
    except OSError as exc:
        raise ScaffoldError(f"Cannot create {target}: {exc.strerror or exc}.") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if held is not None:
            os.close(held)
        if not done:
            for path in moved:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            for folder in missing:  # folders made for it, innermost first
                try:
                    folder.rmdir()
                except OSError:
                    break
    return target
