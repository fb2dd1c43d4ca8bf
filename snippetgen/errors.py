"""Errors that write their own one-sentence message.

Every error a user can cause is a :class:`UserError` (exit code 2 in the CLI). A
:class:`RecipeBug` means a recipe produced code that failed the render checks: it is
the recipe's fault, never printed as code.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SnippetgenError(Exception):
    """Base class of every snippetgen error."""

    exit_code = 1


class UserError(SnippetgenError):
    """Bad usage or input: one clear sentence, exit code 2."""

    exit_code = 2


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates that look most like ``name``, best first."""
    pool = sorted(set(candidates))
    found = difflib.get_close_matches(name, pool, n=n, cutoff=0.5)
    if not found:
        found = [c for c in pool if name and (name in c or c in name)][:n]
    return found


def _suggest(name: str, candidates: Iterable[str]) -> str:
    near = closest(name, candidates)
    if not near:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in near) + "?"


class UnknownRecipeError(UserError, KeyError):
    def __init__(self, *, name: str, known: Iterable[str]) -> None:
        self.name = name
        super().__init__(
            f"Unknown recipe {name!r}.{_suggest(name, known)} Run 'snippetgen list' to see them all."
        )

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class UnknownParamError(UserError, KeyError):
    def __init__(self, *, option: str, recipe: str, known: Iterable[str]) -> None:
        self.option = option
        super().__init__(
            f"Recipe {recipe!r} has no parameter {option!r}."
            f"{_suggest(option, known)} Run 'snippetgen render {recipe} --help' to list them."
        )

    def __str__(self) -> str:
        return str(self.args[0])


class ParamValueError(UserError, ValueError):
    def __init__(self, *, param: str, value: object, reason: str) -> None:
        self.param = param
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        super().__init__(f"Invalid value {shown} for --{param}: {reason}.")


class MissingValueError(UserError, ValueError):
    def __init__(self, *, param: str) -> None:
        self.param = param
        super().__init__(f"Option --{param} needs a value.")


class StrayArgumentError(UserError, ValueError):
    def __init__(self, *, token: str) -> None:
        shown = token if len(token) <= 40 else token[:37] + "..."
        super().__init__(f"Unexpected argument {shown!r}; parameters are given as --NAME VALUE.")


class ConflictError(UserError):
    def __init__(self, *, first: str, second: str, why: str) -> None:
        super().__init__(f"Recipes {first!r} and {second!r} cannot be combined: {why}.")


class CompositionError(UserError):
    """A recipe that cannot be used the way it was asked for (e.g. a snippet with --with)."""


class OverwriteError(UserError, FileExistsError):
    def __init__(self, *, path: str) -> None:
        super().__init__(f"{path} already exists; pass --force to overwrite it.")


class RecipeDefinitionError(UserError):
    """A recipe folder whose metadata or templates are malformed."""

    def __init__(self, *, path: str, reason: str) -> None:
        from snippetgen.codegen.quoting import escape

        self.path = path
        super().__init__(f"Broken recipe at {escape(path)}: {escape(reason)}.")  # one line


class RecipeBug(SnippetgenError):
    """A render failed the code checks: a defect in the recipe, never the user's input."""

    exit_code = 3

    def __init__(self, *, recipe: str, problem: str) -> None:
        self.recipe = recipe
        super().__init__(
            f"Recipe {recipe!r} rendered invalid code ({problem}); nothing was written. "
            "This is a bug in the recipe."
        )


class ScaffoldError(UserError):
    """A project that cannot be created as asked (one sentence, exit 2)."""


class UpdateError(UserError):
    """An update that cannot run as asked (one sentence, exit 2); nothing was written."""
