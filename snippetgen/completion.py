"""Shell completion: recipe names, feature names for --with, and a recipe's parameters.

Install it once with ``snippetgen --install-completion`` (bash, zsh, fish, PowerShell).
Completion runs on every Tab press, so it reads only the recipe metadata and never
prints to stderr; a recipe folder that fails to load is simply not offered.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand

from snippetgen.recipes.recipe import BASE_RECIPE


def _catalog() -> Any:
    from snippetgen.recipes.catalog import load_catalog

    return load_catalog()


def complete_recipe(incomplete: str) -> list[tuple[str, str]]:
    """Recipe names (with their summaries) that start with what was typed."""
    return [(r.name, r.summary) for r in _catalog() if r.name.startswith(incomplete)]


def complete_feature(incomplete: str) -> list[tuple[str, str]]:
    """Feature names for --with: recipes that plug into the training script."""
    return [
        (r.name, r.summary)
        for r in _catalog().features()
        if r.name != BASE_RECIPE and r.name.startswith(incomplete)
    ]


def parameter_options(recipe: str | None, with_: list[str] | None) -> list[tuple[str, str]]:
    """The ``--NAME`` options of a render: the recipe's parameters and its features'."""
    from snippetgen.codegen.rendering import RenderRequest, plan
    from snippetgen.errors import SnippetgenError

    try:
        resolved = plan(RenderRequest(recipe or BASE_RECIPE, with_=with_ or []), _catalog())
    except SnippetgenError:
        return []
    return [(p.option, p.help) for p in resolved.params.values()]


class RecipeCommand(TyperCommand):
    """A command whose ``--NAME VALUE`` parameters depend on the recipe: completes them too."""

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        try:  # Typer >= 0.20 vendors Click; older Typer uses the click package
            from typer._click.shell_completion import CompletionItem
        except ImportError:
            from click.shell_completion import CompletionItem  # type: ignore[assignment]

        items = list(super().shell_complete(ctx, incomplete))
        if incomplete.startswith("-"):
            given = set(ctx.args or [])
            recipe = ctx.params.get("recipe")
            for option, help_text in parameter_options(recipe, ctx.params.get("with_")):
                if option.startswith(incomplete) and option not in given:
                    items.append(CompletionItem(option, help=help_text))
        return items
