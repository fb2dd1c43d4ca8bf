"""The answers file of a project (``.snippetgen.toml``): what it was made from.

It records the snippetgen version, the package name, the features, the data source, the
model and every parameter value, so ``snippetgen new --from DIR/.snippetgen.toml OTHER``
makes the same project again. Values are written as TOML literals only.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snippetgen.codegen.quoting import escape, toml_string
from snippetgen.errors import ScaffoldError, UserError
from snippetgen.recipes.datamodel import DEFAULT_DATA, DEFAULT_MODEL, data_model
from snippetgen.safefile import FileRefused, read_text

ANSWERS_FILE = ".snippetgen.toml"
ANSWERS_LIMIT = 1 << 20  # bytes of an answers file
# each key an answers file may have, and the type of its value
_ANSWER_TYPES: dict[str, type] = {
    "snippetgen_version": str,
    "package": str,
    "recipes": list,  # of names
    "data": str,
    "model": str,
    "params": dict,
    "recipe_hashes": dict,  # of strings; with "defaults", for `snippetgen update`
    "defaults": dict,
}


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


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def answers_text(answers: Answers) -> str:
    lines = [
        "# The answers `snippetgen new` was given. Re-create this project with:",
        f"#   snippetgen new --from {ANSWERS_FILE} NEW_FOLDER",
        f"snippetgen_version = {toml_value(answers.version)}",
        f"package = {toml_value(answers.package)}",
        f"recipes = {toml_value(list(answers.recipes))}",
        f"data = {toml_value(answers.data)}",
        f"model = {toml_value(answers.model)}",
        "",
        "[params]",
    ]
    lines += [f"{name} = {toml_value(value)}" for name, value in answers.params.items()]
    for table, entries in (("recipe_hashes", answers.hashes), ("defaults", answers.defaults)):
        if entries:
            lines += ["", f"[{table}]"]
            lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in entries.items()]
    return "\n".join(lines) + "\n"


def read_answers(path: Path) -> Answers:
    """Read an answers file; a missing or malformed one is a ScaffoldError naming it."""
    shown = escape(str(path))
    data = _load(path, shown)
    if not _well_formed(data):
        raise ScaffoldError(
            f"Answers file {shown} is malformed: expected snippetgen_version, package, "
            "recipes (a list of names), data, model and a [params] table."
        )
    try:
        setup = data_model(data.get("data", DEFAULT_DATA), data.get("model", DEFAULT_MODEL))
    except UserError as exc:
        raise ScaffoldError(f"Answers file {shown}: {exc}") from None
    return Answers(
        package=data.get("package", ""),
        recipes=tuple(data.get("recipes", [])),
        params=dict(data.get("params", {})),
        version=data.get("snippetgen_version", ""),
        data=setup.data,
        model=setup.model,
        hashes=dict(data.get("recipe_hashes", {})),
        defaults=dict(data.get("defaults", {})),
    )


def _load(path: Path, shown: str) -> dict[str, Any]:
    """The answers file's TOML tables; a file that cannot be read or parsed is a ScaffoldError."""
    try:
        return tomllib.loads(read_text(path, limit=ANSWERS_LIMIT))  # a regular file only: no FIFO
    except FileRefused as exc:
        if exc.missing:
            raise ScaffoldError(f"Answers file {shown} does not exist.") from None
        raise ScaffoldError(f"Cannot read answers file {shown}: it {exc.reason}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScaffoldError(f"Cannot read answers file {shown}: {exc}.") from None
    except (RecursionError, MemoryError):
        raise ScaffoldError(f"Cannot read answers file {shown}: it nests too deeply.") from None


def _well_formed(data: dict[str, Any]) -> bool:
    """Whether the answers have only known keys, each with a value of its type (the recipes
    and the recipe hashes strings)."""
    if not all(isinstance(value, _ANSWER_TYPES.get(key, ())) for key, value in data.items()):
        return False
    recipes = data.get("recipes", [])
    hashes = data.get("recipe_hashes", {})
    return all(isinstance(r, str) for r in recipes) and all(
        isinstance(h, str) for h in hashes.values()
    )


def version_note(answers: Answers) -> str:
    """A note when an answers file comes from another snippetgen version, else ''."""
    from snippetgen import __version__

    if answers.version and answers.version != __version__:
        return f"was written by snippetgen {answers.version}; this is {__version__}"
    return ""
