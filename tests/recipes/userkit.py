"""User recipes written by the tests: a small feature recipe, its folder, and the one-line
refusal a broken one gets."""

from __future__ import annotations

import textwrap
from pathlib import Path

FEATURE = textwrap.dedent("""\
    name = "{name}"
    kind = "feature"
    title = "Scale the loss"
    summary = "Multiply the reported loss by a constant."
    tags = ["demo"]
    aliases = ["loss scaling demo", "损失缩放示例"]
    essential = ["loss"]

    [[params]]
    name = "loss-scale"
    type = "float"
    default = 1.0
    min = 0
    min_exclusive = true
    max = 10
    help = "factor applied to the loss"
""")


MACRO = "{% macro loss() %}\nloss = loss * args.loss_scale\n{% endmacro %}\n"


def make_recipe(root: Path, name: str, toml: str | None = None, template: str = MACRO) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "recipe.toml").write_text(toml if toml is not None else FEATURE.format(name=name))
    (folder / "feature.py.j2").write_text(template)
    return folder


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def one_error(result, *fragments: str, code: int = 2) -> str:
    exit_code, out, err = result
    assert exit_code == code, (exit_code, out, err)
    assert out == "" and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert len(err.splitlines()) == 1, err  # one sentence, no separate warning
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]
