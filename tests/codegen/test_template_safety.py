"""Templates that cannot misbehave: sandboxed, strict, checked before anything is printed.

User recipes in a temporary SNIPPETGEN_PATH folder try to reach Python internals, use
undefined names, crash mid-render or produce invalid Python. Each is reported as a bug in
that recipe (exit 3) in one sentence naming the recipe, with the template line where there
is one; nothing reaches stdout or a file, and no traceback. Every built-in recipe renders
with its defaults (a broken built-in recipe fails the suite).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import pytest

from snippetgen import load_catalog
from snippetgen.codegen.rendering import RenderRequest, render

CATALOG = load_catalog()

META = """\
name = "{name}"
kind = "{kind}"
title = "Probe"
summary = "A recipe written to misbehave."
"""


@pytest.fixture()
def user_dir(tmp_path, monkeypatch):
    """A SNIPPETGEN_PATH folder; add(name, template, kind) writes one recipe into it."""
    root = tmp_path / "recipes"
    root.mkdir()
    monkeypatch.setenv("SNIPPETGEN_PATH", str(root))

    def add(name: str, template: str, kind: str = "snippet") -> None:
        folder = root / name
        folder.mkdir()
        (folder / "recipe.toml").write_text(META.format(name=name, kind=kind))
        file = "snippet.py.j2" if kind == "snippet" else "feature.py.j2"
        (folder / file).write_text(textwrap.dedent(template))

    add.root = root  # type: ignore[attr-defined]
    return add


def _bug_sentence(result, recipe: str) -> str:
    code, out, err = result
    assert code == 3, (code, out, err)
    assert out == "", "a failed render prints no code"
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith(f"error: Recipe {recipe!r} rendered invalid code")
    assert line.endswith("This is a bug in the recipe.")
    return line


def _refused_sentence(result, recipe: str) -> str:
    """A recipe refused either when the catalog loads it (a broken recipe, exit 2) or when it
    renders (a bug in the recipe, exit 3): one line naming it, nothing printed."""
    code, out, err = result
    if code == 3:
        return _bug_sentence(result, recipe)
    assert code == 2, (code, out, err)
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Broken recipe at "), err
    assert f"/{recipe}/" in lines[0]
    return lines[0]


ESCAPES = {
    "class-of-str": "{{ ''.__class__.__mro__ }}",
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "params-class": "{{ p.__class__ }}",
    "attr-filter": "{{ p|attr('__class__') }}",
    "function-globals": "{{ lipsum.__globals__ }}",
    "type-init": "{{ cycler.__init__.__globals__ }}",
    "mutate-list": "{% set xs = [1] %}{{ xs.append(2) }}",
    "mutate-params": "{{ p.update({'a': 1}) }}",
}


@pytest.mark.parametrize("payload", list(ESCAPES.values()), ids=list(ESCAPES))
def test_sandbox_escapes_are_refused(user_dir, cli, payload):
    user_dir("escape", f"x = 1\n{payload}\n")
    line = _bug_sentence(cli("render", "escape"), "escape")
    assert "unsafe" in line and "snippet.py.j2 line 2" in line


def test_undefined_name_reported_with_recipe_and_template_line(user_dir, cli):
    user_dir(
        "undefined",
        """\
        \"\"\"Uses a name the template never gets.\"\"\"

        X = 1
        Y = {{ not_a_parameter }}
    """,
    )
    line = _bug_sentence(cli("render", "undefined"), "undefined")
    assert "'not_a_parameter' is undefined" in line
    assert "undefined/snippet.py.j2 line 4" in line


def test_missing_parameter_attribute_is_undefined_too(user_dir, cli):
    user_dir("missing-param", "X = {{ p.nope }}\n")
    line = _bug_sentence(cli("render", "missing-param"), "missing-param")
    assert "has no attribute 'nope'" in line and "line 1" in line


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("def f(:\n    pass\n", "syntax error at line"),
        ("import os\n", "unused import 'os'"),
        ("print(undefined_thing)\n", "undefined name 'undefined_thing'"),
        ("x = 1\n{% if %}\n", "template syntax error in"),
        ("x = {{ 1 / 0 }}\n", "ZeroDivisionError"),
        ("{% for i in range(10**9) %}{% endfor %}\n", "Range too big"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}\n", "RecursionError"),
        ("{% include '../../../etc/passwd' %}\n", "no template '../../../etc/passwd'"),
        ("{% include 'train/feature.py.j2' %}\n", "no template 'train/feature.py.j2'"),
        ("x = {{ ''.format_map }}\n", "cannot insert a function"),
        ("x = {{ 9 ** (9 ** 9) }}\n", "power too large"),
        ("x = {{ 'a' * 10**9 }}\n", "repetition too long"),
        (
            "{% set ns = namespace(x=3) %}{% for i in range(64) %}"
            "{% set ns.x = ns.x * ns.x %}{% endfor %}x = {{ ns.x }}\n",
            "product too large",
        ),
    ],
    ids=[
        "syntax",
        "unused-import",
        "undefined-name",
        "jinja-syntax",
        "zero-division",
        "huge-range",
        "recursion",
        "include-outside",
        "include-other-recipe",
        "non-literal",
        "huge-power",
        "huge-repetition",
        "squaring-loop",
    ],
)
def test_bad_templates_are_recipe_bugs_never_printed(user_dir, cli, template, problem):
    user_dir("broken", template)
    line = _refused_sentence(cli("render", "broken"), "broken")
    if problem == "template syntax error in":  # caught when the catalog loads, or by Jinja
        assert "line 2" in line
    else:
        assert problem in line


def test_feature_macro_that_is_not_a_slot_is_refused(user_dir, cli):
    user_dir(
        "odd-feature",
        """\
        {% macro not_a_slot() %}
        x = 1
        {% endmacro %}
    """,
        kind="feature",
    )
    line = _refused_sentence(cli("render", "odd-feature"), "odd-feature")
    assert "'not_a_slot' is not a" in line and "slot" in line


def test_feature_code_that_breaks_the_script_is_refused(user_dir, cli):
    user_dir(
        "bad-loss",
        """\
        {% macro loss() %}
        loss = loss * scale_that_does_not_exist
        {% endmacro %}
    """,
        kind="feature",
    )
    line = _bug_sentence(cli("render", "bad-loss"), "bad-loss")
    assert "undefined name 'scale_that_does_not_exist'" in line


def test_recipe_bug_writes_no_file(user_dir, cli, tmp_path):
    user_dir("escape", "{{ ''.__class__ }}\n")
    target = tmp_path / "out.py"
    _bug_sentence(cli("render", "escape", "-o", str(target)), "escape")
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["recipes"]


def test_values_are_data_to_jinja_not_template_code(user_dir, cli):
    """A str value full of Jinja is inserted as a literal, never rendered."""
    root = user_dir.root
    user_dir("echo", "LABEL = {{ p.label }}\nprint(LABEL)\n")
    (root / "echo" / "recipe.toml").write_text(
        META.format(name="echo", kind="snippet")
        + """
[[params]]
name = "label"
type = "str"
default = "x"
help = "text"
"""
    )
    code, out, err = cli("render", "echo", "--label", "{{ ''.__class__ }}{% raw %}")
    assert code == 0, err
    assert "LABEL = \"{{ ''.__class__ }}{% raw %}\"" in out


def test_broken_user_recipe_is_skipped_with_one_warning(user_dir, cli):
    root = user_dir.root
    (root / "bad-meta").mkdir()
    (root / "bad-meta" / "recipe.toml").write_text(
        'name = "bad-meta"\nkind = "snippet"\nunknown = 1\n'
    )
    code, out, err = cli("list")
    assert code == 0 and "bad-meta" not in out
    assert err.count("warning: skipped: Broken recipe at") == 1
    code, out, err = cli("render", "bad-meta")
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and "bad-meta" in err


def test_a_recipe_bug_is_one_sentence_in_a_real_process(user_dir, tmp_path):
    user_dir("escape", "{{ ''.__class__.__mro__ }}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "snippetgen", "render", "escape"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "access to attribute '__class__' of 'str' object is unsafe" in proc.stderr


DEEP = {
    "unary-minus": ("x = {% for i in range(20000) %}-{% endfor %}1\nprint(x)\n", "nest too deeply"),
    "long-sum": (
        "x = 1{% for i in range(20000) %} + 1{% endfor %}\n\nprint(x)\n",
        "nest too deeply",
    ),
    "attribute-chain": ("x = print{% for i in range(5000) %}.a{% endfor %}\n\n", "nest too deeply"),
    "parentheses": ("x = " + "(" * 300 + "1" + ")" * 300 + "\n", "too many nested parentheses"),
    "null-byte": ("x = 1\x00\nprint(x)\n", "null bytes"),
}


@pytest.mark.parametrize("case", list(DEEP), ids=list(DEEP))
def test_code_the_compiler_cannot_take_is_a_recipe_bug(user_dir, cli, case):
    """Deep nesting overflows Python's parser, compiler and black by recursion: the code check
    reports it as the recipe's bug (exit 3), in one sentence, without a traceback."""
    template, problem = DEEP[case]
    user_dir(case, template)
    line = _bug_sentence(cli("render", case), case)
    assert problem in line


def test_a_template_cannot_include_a_file_through_a_link_out_of_its_folder(user_dir, tmp_path):
    """Links leading out are refused when the catalog loads a user recipe; one made after that
    (or in a built-in folder) is refused by the template loader itself when it renders."""
    from snippetgen.errors import RecipeBug

    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET = 'from outside'\n")
    user_dir("includer", "{% include 'includer/helper.j2' %}\nprint(SECRET)\n")
    helper = user_dir.root / "includer" / "helper.j2"
    helper.write_text("SECRET = 'inside'\n")
    catalog = load_catalog()
    assert "SECRET = " in render(RenderRequest("includer"), catalog)  # a file inside: fine
    helper.unlink()
    helper.symlink_to(secret)
    with pytest.raises(RecipeBug, match="is a link to a file outside its recipe folder"):
        render(RenderRequest("includer"), catalog)
    (user_dir.root / "includer" / "inner").mkdir()
    (user_dir.root / "includer" / "inner" / "ok.j2").write_text("SECRET = 'inside'\n")
    helper.unlink()
    helper.symlink_to(user_dir.root / "includer" / "inner" / "ok.j2")  # a link that stays inside
    assert 'SECRET = "inside"' in render(RenderRequest("includer"), catalog)
    helper.unlink()
    os.mkfifo(helper)
    with pytest.raises(RecipeBug, match="is a named pipe"):  # not read: no writer would come
        render(RenderRequest("includer"), catalog)


def test_no_builtin_recipe_is_broken():
    assert CATALOG.broken == [], [str(b) for b in CATALOG.broken]


def _pyflakes(code: str) -> str:
    from pyflakes.api import check
    from pyflakes.reporter import Reporter

    out = io.StringIO()
    check(code, "<render>", Reporter(out, out))
    return out.getvalue()


@pytest.mark.parametrize("name", [r.name for r in CATALOG])
def test_every_builtin_recipe_renders_with_its_defaults(name):
    code = render(RenderRequest(name), CATALOG)  # parse, names, black, stability
    assert (
        code.startswith("# Generated by snippetgen ") and f"render {name}" in code.splitlines()[0]
    )
    assert _pyflakes(code) == ""
    assert "\x1b[" not in code
