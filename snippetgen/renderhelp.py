"""The page of ``snippetgen render RECIPE --help``: the recipe's parameters with their types,
defaults and ranges, and the render options, laid out by Click's help formatter like every
other --help page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from snippetgen.recipes.catalog import load_catalog
from snippetgen.recipes.datamodel import BUILTIN_MODELS, DATA_SOURCES, data_model
from snippetgen.recipes.recipe import Recipe

if TYPE_CHECKING:
    from snippetgen.codegen.rendering import Plan

NBSP = "\N{NO-BREAK SPACE}"  # joins words that line wrapping must keep together


def render_help(recipe_name: str, data: str | None = None, model: str | None = None) -> str:
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
    parts = usage_parts(recipe)
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
        formatter.write_dl([param_row(resolved, name, keep) for name in resolved.params])
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


def usage_parts(recipe: Recipe) -> list[str]:
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


def param_row(resolved: Plan, name: str, keep: dict[int, int]) -> tuple[str, str]:
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
