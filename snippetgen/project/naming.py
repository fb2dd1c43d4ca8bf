"""The names of a project: its import package and its distribution."""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import Path

from snippetgen.errors import ScaffoldError

# Names a package must not take: what the project imports, and its own modules.
_RESERVED = {"torch", "snippetgen", "tests", "data", "model", "train", "utils", "setup"}


def package_name(
    directory: Path, package: str | None = None, *, hint: str = "; choose one with --package NAME"
) -> str:
    """The import name: --package, else the folder name made into an identifier (`hint`
    ends the sentence that refuses a folder name giving no usable package name)."""
    if package is None:
        base = re.sub(r"[^0-9a-zA-Z]+", "_", directory.resolve().name).strip("_").lower()
        package = ("p_" + base if base[:1].isdigit() else base) or "project"
    else:
        hint = ""
    if not package.isidentifier() or not package.isascii() or keyword.iskeyword(package):
        raise ScaffoldError(f"Package name {package!r} is not a Python identifier{hint}.")
    if package in sys.stdlib_module_names or package in _RESERVED:
        raise ScaffoldError(
            f"Package name {package!r} would shadow the module of that name{hint or '; choose another'}."
        )
    return package


def dist_name(package: str) -> str:
    return package.replace("_", "-")
