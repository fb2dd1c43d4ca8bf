"""Broken user recipes: each is reported with its path and left out of list and search;
rendering it is one sentence and exit 2, never a silent fall back to the built-in recipe it
was meant to replace, and it breaks only itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT
from userkit import FEATURE, MACRO, make_recipe, one_error

BUILT_IN = ROOT / "templates"


# --- broken user recipes ----------------------------------------------------------------------

BROKEN = {  # case: (recipe name, recipe.toml or None for a good one, template, reason)
    "toml-syntax": (
        "bad-toml",
        'name = "bad-toml"\nkind = "feature\n',
        MACRO,
        "recipe.toml does not parse",
    ),
    "unknown-key": (
        "bad-key",
        'colour = "red"\n' + FEATURE.format(name="bad-key"),
        MACRO,
        "unknown key(s) colour",
    ),
    "bad-default": (
        "bad-default",
        FEATURE.format(name="bad-default").replace("default = 1.0", "default = 50.0"),
        MACRO,
        "default of parameter 'loss-scale' is invalid",
    ),
    "unclosed-if": (
        "bad-if",
        None,
        "{% macro loss() %}\n{% if p.loss_scale %}\nx = 1\n{% endmacro %}\n",
        "never closed",
    ),
    "not-a-slot": (
        "bad-slot",
        None,
        "{% macro lossy() %}\nx = 1\n{% endmacro %}\n",
        "macro 'lossy' is not a slot",
    ),
    "essential-missing": (
        "bad-essential",
        None,
        "{% macro batch() %}\nx = 1\n{% endmacro %}\n",
        "'essential' lists 'loss'",
    ),
    "not-utf8": ("bad-bytes", None, b"\xff\xfe{% macro loss() %}", "not UTF-8"),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_broken_recipe_is_reported_skipped_and_refused(cli, user_path, case):
    first, _ = user_path
    name, toml, template, reason = BROKEN[case]
    folder = first / name
    folder.mkdir()
    (folder / "recipe.toml").write_text(toml if toml is not None else FEATURE.format(name=name))
    if isinstance(template, bytes):
        (folder / "feature.py.j2").write_bytes(template)
    else:
        (folder / "feature.py.j2").write_text(template)
    code, out, err = cli("list")
    assert code == 0 and name not in out
    assert f"warning: skipped: Broken recipe at {folder}" in err and reason in err
    code, out, err = cli("search", "scale", "the", "loss")
    assert name not in out
    line = one_error(cli("render", name), f"Broken recipe at {folder}", reason)
    assert line.endswith(".")
    code, out, _ = cli("which", name)
    assert code == 0 and out.splitlines()[-1] == str(folder)
    one_error(cli("render", "train", "--with", name), str(folder))


def test_a_jinja_syntax_error_is_caught_before_rendering(cli, user_path):
    """Only Jinja itself sees this one: render refuses it as broken (exit 2), not a bug (3)."""
    first, _ = user_path
    folder = make_recipe(
        first, "odd-expr", template="{% macro loss() %}\nx = {{ p.loss_scale + }}\n{% endmacro %}\n"
    )
    one_error(cli("render", "odd-expr"), f"Broken recipe at {folder / 'feature.py.j2'}", "line 2")


def test_a_broken_override_hides_the_built_in_instead_of_falling_back(cli, user_path):
    first, _ = user_path
    shutil.copytree(BUILT_IN / "mixup", first / "mixup")
    with (first / "mixup" / "feature.py.j2").open("a") as handle:
        handle.write("{% if oops %}\n")
    code, out, err = cli("list")
    assert not any(line.startswith("mixup ") for line in out.splitlines())
    assert str(first / "mixup") in err
    one_error(cli("render", "mixup", "-o", "out.py"), str(first / "mixup"), "never closed")
    assert not Path("out.py").exists()
    one_error(cli("render", "train", "--with", "mixup"), str(first / "mixup"))


# --- a broken user recipe breaks only itself -------------------------------------------------


def _param(extra: str, *, ptype: str = "float", default: str = "1.0") -> str:
    """A feature recipe.toml whose one parameter has the given extra lines."""
    return (
        'kind = "feature"\ntitle = "Probe"\nsummary = "A probe."\n\n[[params]]\n'
        f'name = "value"\ntype = "{ptype}"\ndefault = {default}\nhelp = "a value"\n{extra}\n'
    )


def _meta(extra: str) -> str:
    return f'kind = "feature"\ntitle = "Probe"\nsummary = "A probe."\n{extra}\n'


def _write(folder: Path, name: str, toml: str, template: str | bytes = MACRO) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = f'name = "{name}"\n' + toml
    (folder / "recipe.toml").write_text(text, encoding="utf-8")
    if isinstance(template, bytes):
        (folder / "feature.py.j2").write_bytes(template)
    else:
        (folder / "feature.py.j2").write_text(template, encoding="utf-8")


def _outside(folder: Path) -> Path:
    """A file beside the recipes folder, never inside a recipe."""
    target = folder.parent.parent / "outside.txt"
    target.write_text('name = "stolen"\nkind = "snippet"\ntitle = "x"\nsummary = "x"\n')
    return target


def _builder(toml: str, template: str | bytes = MACRO):
    return lambda folder: _write(folder, folder.name, toml, template)


def _build_toml_folder(folder: Path) -> None:
    (folder / "recipe.toml").mkdir(parents=True)
    (folder / "feature.py.j2").write_text(MACRO)


def _build_fifo(file: str):
    def build(folder: Path) -> None:
        _write(folder, folder.name, _meta(""))
        (folder / file).unlink()
        os.mkfifo(folder / file)

    return build


def _build_link_out(file: str):
    def build(folder: Path) -> None:
        _write(folder, folder.name, _meta(""))
        if (folder / file).exists():
            (folder / file).unlink()
        (folder / file).symlink_to(_outside(folder))

    return build


def _build_bytes(data: bytes):
    def build(folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / "recipe.toml").write_bytes(data)
        (folder / "feature.py.j2").write_text(MACRO)

    return build


BROKEN_FILES = {  # folder name: (builder, reason fragment)
    "recipe-toml-folder": (_build_toml_folder, "recipe.toml is a folder, not a file"),
    "bad-regex": (
        _builder(_param('pattern = "([a-z"', ptype="str", default='"ab"')),
        "is not a regular expression",
    ),
    "slow-regex": (
        _builder(_param('pattern = "(a+)+$"', ptype="str", default='"aa"')),
        "not in the safe form",
    ),
    "pattern-on-int": (
        _builder(_param('pattern = "[0-9]+"', ptype="int", default="1")),
        "only for str",
    ),
    "text-max-length": (
        _builder(_param('max_length = "long"', ptype="str", default='"ab"')),
        "'max_length' of parameter 'value' must be a whole number",
    ),
    "huge-max-length": (
        _builder(_param("max_length = 1_000_000_000", ptype="str", default='"ab"')),
        "from 1 to 10000",
    ),
    "text-min": (_builder(_param('min = "0"')), "non-numeric 'min'"),
    "min-over-max": (_builder(_param("min = 5\nmax = 1")), "'min' larger than its 'max'"),
    "exclusive-text": (_builder(_param('min = 0\nmin_exclusive = "yes"')), "must be true or false"),
    "choices-string": (
        _builder(_param('choices = "abc"', ptype="choice", default='"a"')),
        "needs a list of string 'choices'",
    ),
    "choice-newline": (
        _builder(_param('choices = ["a\\nimport os", "b"]', ptype="choice", default='"b"')),
        "must be one line",
    ),
    "choices-on-float": (_builder(_param('choices = ["1"]')), "'choices' is only for type"),
    "help-escape": (
        _builder(_param("").replace('help = "a value"', 'help = "red \\u001b[31m"')),
        "'help' of parameter 'value' holds a line break or control character",
    ),
    "order-text": (_builder(_meta('order = "first"')), "'order' must be an integer"),
    "order-bool": (_builder(_meta("order = true")), "'order' must be an integer"),
    "aliases-number": (
        _builder(_meta("aliases = [1]")),
        "'aliases' must be a list of non-empty strings",
    ),
    "title-newline": (
        _builder(_meta("").replace('"Probe"', '"Probe\\nimport os"')),
        "'title' holds a line break",
    ),
    "requires-line": (
        _builder(_meta('requires = ["numpy\\nimport os"]')),
        "an entry of 'requires'",
    ),
    "requires-spec": (_builder(_meta('requires = ["numpy; os"]')), "not a module or package name"),
    "defaults-table": (
        _builder(_meta("[defaults]\nepochs = {a = 1}")),
        "'defaults' gives 'epochs'",
    ),
    "conflicts-number": (_builder(_meta("[[conflicts]]\nrecipe = 1")), "each [[conflicts]] entry"),
    "docs-number": (_builder(_meta("[docs]\nwhen = 3")), "'when' must be a string"),
    "name-newline": (_builder(_meta("")), "'name' holds a line break"),  # name rewritten below
    "param-name-newline": (
        _builder(_param("").replace('name = "value"', 'name = "value\\n"')),
        "parameter name 'value\\n' must be kebab-case",
    ),
    "deep-toml": (
        _builder(_meta("x = " + "[" * 3000 + "]" * 3000)),
        "nests its arrays or tables too deeply",
    ),
    "toml-not-utf8": (_build_bytes(b'name = "x\xff"\n'), "recipe.toml is not UTF-8 text"),
    "toml-huge": (
        _build_bytes(b"# " + b"x" * (1 << 20) + b"\n"),
        "recipe.toml is larger than 1024 KiB",
    ),
    "toml-fifo": (_build_fifo("recipe.toml"), "recipe.toml is a named pipe (FIFO)"),
    "template-fifo": (_build_fifo("feature.py.j2"), "feature.py.j2 is a named pipe (FIFO)"),
    "toml-link-out": (_build_link_out("recipe.toml"), "recipe.toml is a link to a file outside"),
    "template-link-out": (
        _build_link_out("feature.py.j2"),
        "feature.py.j2 is a link to a file outside",
    ),
    "helper-link-out": (_build_link_out("helper.j2"), "helper.j2 is a link to a file outside"),
    "unclosed-tag": (_builder(_meta(""), MACRO + "{%" + " " * 20000), "unclosed {% near line 4"),
}


def _build_broken(root: Path, case: str) -> Path:
    folder = root / case
    builder, _ = BROKEN_FILES[case]
    builder(folder)
    if case == "name-newline":  # a name that only a "$" regular expression would accept
        meta = folder / "recipe.toml"
        meta.write_text(
            meta.read_text().replace('name = "name-newline"', 'name = "name-newline\\n"')
        )
    return folder


@pytest.mark.parametrize("case", list(BROKEN_FILES), ids=list(BROKEN_FILES))
def test_each_broken_recipe_gets_its_own_sentence(cli, user_path, case):
    first, _ = user_path
    folder = _build_broken(first, case)
    _, reason = BROKEN_FILES[case]
    code, out, err = cli("list")
    assert code == 0 and "mixup" in out and case not in out
    warnings = err.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith(
        f"warning: skipped: Broken recipe at {folder}"
    ), err
    assert reason in warnings[0], (reason, warnings[0])
    line = one_error(cli("render", case), f"Broken recipe at {folder}", reason)
    assert line.endswith(".")


def _run(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "snippetgen", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_many_broken_recipes_at_once_break_nothing_else(tmp_path):
    """Every broken recipe above in one SNIPPETGEN_PATH folder, beside a good one: the real
    CLI lists, searches, shows, renders a built-in and scaffolds a project, each exiting 0,
    naming each broken recipe in exactly one warning (and nothing hangs on a FIFO)."""
    root = tmp_path / "recipes" / "mine"
    root.mkdir(parents=True)
    folders = [_build_broken(root, case) for case in BROKEN_FILES]
    make_recipe(root, "loss-scale")
    env = {**os.environ, "SNIPPETGEN_PATH": str(root), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    runs = {
        "list": ["list"],
        "search": ["search", "smoothing"],
        "show": ["show", "mixup", "--color", "never"],
        "render": ["render", "mixup", "-o", str(tmp_path / "mixup.py")],
        "new": ["new", str(tmp_path / "proj"), "--with", "loss-scale", "--with", "mixup"],
    }
    for command, args in runs.items():
        code, out, err = _run(*args, cwd=tmp_path, env=env)
        assert code == 0, (command, err)
        assert "Traceback" not in err
        warnings = [line for line in err.splitlines() if line.startswith("warning: skipped: ")]
        others = [line for line in err.splitlines() if not line.startswith("warning: skipped: ")]
        assert len(warnings) == len(folders), (command, err)
        for folder in folders:
            named = [w for w in warnings if f"at {folder}/" in w or f"at {folder}:" in w]
            assert len(named) == 1, (command, folder, err)
        assert len(others) <= 1, (command, others)  # "wrote ..." or "created ..."
        if command == "list":
            assert "loss-scale" in out and "mixup" in out
    assert (tmp_path / "mixup.py").is_file() and (tmp_path / "proj" / "proj" / "train.py").is_file()


def test_the_tag_scanner_agrees_with_the_regular_expression_it_replaces():
    """template_text finds tags with a linear scan; the lazy regular expression it replaces
    (kept here as the reference) took minutes on '{%' followed by a few thousand spaces."""
    import re
    import time

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from snippetgen.codegen.template_text import _tags, structure_problems

    old = re.compile(
        r"\{%(?P<block_sign>[-+]?)\s*(?P<statement>.*?)\s*(?P<block_end>[-+]?)%\}"
        r"|\{\{(?P<variable_sign>[-+]?)\s*(?P<expression>.*?)\s*(?P<variable_end>-?)\}\}"
        r"|\{#(?P<comment_sign>[-+]?).*?(?P<comment_end>[-+]?)#\}",
        re.S,
    )

    def reference(text: str) -> list[tuple[int, int, str, str, str, str]]:
        out = []
        for m in old.finditer(text):
            if m["statement"] is not None:
                out.append(
                    (
                        m.start(),
                        m.end(),
                        "statement",
                        m["statement"],
                        m["block_sign"],
                        m["block_end"],
                    )
                )
            elif m["expression"] is not None:
                out.append(
                    (
                        m.start(),
                        m.end(),
                        "expression",
                        m["expression"],
                        m["variable_sign"],
                        m["variable_end"],
                    )
                )
            else:
                out.append((m.start(), m.end(), "comment", "", m["comment_sign"], m["comment_end"]))
        return out

    pieces = st.sampled_from(
        ["{", "}", "%", "#", "-", "+", " ", "\n", "\t", "a", "{%", "%}", "{{", "}}", "{#", "#}"]
    )

    @settings(max_examples=1500, derandomize=True, database=None)
    @given(text=st.lists(pieces, max_size=20).map("".join))
    def check(text: str) -> None:
        assert [tuple(tag) for tag in _tags(text)] == reference(text)

    check()
    start = time.perf_counter()
    for text in ("{%" + " " * 500_000, "{%" * 500_000, "{{ {% {# " * 50_000, "{%x%}\n" * 100_000):
        structure_problems(text)
    assert time.perf_counter() - start < 5  # about a tenth of a second; the expression: hours
