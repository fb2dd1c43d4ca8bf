"""The CLI's own behaviour: colour, stdout hygiene, layout on a terminal, and every bad input.

Each bad input gives exit 2, one sentence on stderr, nothing on stdout and no file
written. Most tests run in-process (CliRunner); some run a real interpreter where the
process boundary is the point (a terminal, python -m snippetgen). `-o FILE` is in
test_output_file.py, pipes and Ctrl-C in test_interrupts.py.
"""

from __future__ import annotations

import ast
import json
import os
import re
import textwrap

import pytest

from processes import assert_one_sentence, on_a_terminal, run_cli

ANSI = "\x1b["


@pytest.fixture()
def user_recipes(recipes_root):
    """A snippet and a feature that conflicts with mixup, on SNIPPETGEN_PATH."""
    root = recipes_root
    (root / "demo-snippet").mkdir(parents=True)
    (root / "demo-snippet" / "recipe.toml").write_text(
        textwrap.dedent("""\
        name = "demo-snippet"
        kind = "snippet"
        title = "Demo"
        summary = "A standalone demo."
    """)
    )
    (root / "demo-snippet" / "snippet.py.j2").write_text('print("demo")\n')
    (root / "rival-mix").mkdir()
    (root / "rival-mix" / "recipe.toml").write_text(
        textwrap.dedent("""\
        name = "rival-mix"
        kind = "feature"
        title = "Rival"
        summary = "Another batch mixer."

        [[conflicts]]
        recipe = "mixup"
        why = "both mix the batch"
    """)
    )
    (root / "rival-mix" / "feature.py.j2").write_text("")
    return root


# --- colour and stdout ------------------------------------------------------------------------


def test_color_always_never_auto_and_no_color(cli, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    code, plain, err = cli("render", "mixup", "--color", "never")
    assert code == 0 and err == "" and ANSI not in plain
    code, colored, _ = cli("render", "mixup", "--color", "always")
    assert code == 0 and ANSI in colored
    assert colored != plain
    code, auto, _ = cli("render", "mixup")  # auto: stdout is not a terminal here
    assert code == 0 and auto == plain
    # --color always wins over NO_COLOR (an explicit flag overrides the environment)
    code, forced, _ = cli("render", "mixup", "--color", "always", env={"NO_COLOR": "1"})
    assert ANSI in forced
    code, out, _ = cli("show", "mixup", "--color", "always")
    assert code == 0 and ANSI in out
    code, out, _ = cli("show", "mixup", "--color", "never")
    assert code == 0 and ANSI not in out
    code, out, err = cli("render", "mixup", "--color", "sometimes")
    assert code == 2 and out == "" and "--color" in err


def test_auto_colours_a_terminal_unless_no_color(monkeypatch):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert ANSI in on_a_terminal(["render", "mixup"], env=env)
    assert ANSI not in on_a_terminal(["render", "mixup"], env={**env, "NO_COLOR": "1"})


def test_piped_render_is_plain_valid_python_and_stderr_is_empty(tmp_path):
    proc = run_cli("render", "mixup", "--alpha", "0.3")  # python -m snippetgen, stdout a pipe
    assert proc.returncode == 0 and proc.stderr == ""
    assert ANSI not in proc.stdout
    ast.parse(proc.stdout)
    assert proc.stdout.splitlines()[0].endswith("snippetgen render mixup --alpha 0.3")
    assert list(tmp_path.iterdir()) == []


# --- layout: wrapped to a terminal's width, one record a line when piped ---------------------


def _on_a_terminal_of(columns: int, args: list[str]) -> list[str]:
    """The lines `python -m snippetgen ARGS` prints on a pseudo-terminal `columns` wide."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    text = on_a_terminal(args, env=env, columns=columns)
    return text.replace("\r\n", "\n").splitlines()


@pytest.mark.parametrize("columns", [60, 100])
def test_list_wraps_to_the_terminal_width(columns):
    names = [r["name"] for r in json.loads(run_cli("list", "--json").stdout)]
    lines = _on_a_terminal_of(columns, ["list"])
    assert max(len(line) for line in lines) <= columns
    firsts = [line.split()[0] for line in lines if not line.startswith(" ")]
    assert firsts == names  # one record each, continuation lines indented
    assert len(lines) > len(names)


def test_piped_list_and_search_are_one_record_a_line():
    names = [r["name"] for r in json.loads(run_cli("list", "--json").stdout)]
    proc = run_cli("list", env={**os.environ, "COLUMNS": "40"})
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == names
    assert max(len(line) for line in lines) > 40  # not wrapped: one line per recipe for scripts
    proc = run_cli("search", "warmup", env={**os.environ, "COLUMNS": "40"})
    assert proc.stdout.splitlines()[0].startswith("warmup ")
    assert all(not line.startswith(" ") for line in proc.stdout.splitlines())


def test_search_wraps_on_a_terminal():
    lines = _on_a_terminal_of(50, ["search", "warmup", "--limit", "3"])
    assert max(len(line) for line in lines) <= 50 and lines[0].startswith("warmup ")


@pytest.mark.parametrize("recipe", ["warmup", "lr-schedule", "one-hot"])
def test_render_help_wraps_to_the_width(recipe):
    proc = run_cli("render", recipe, "--help", env={**os.environ, "COLUMNS": "60"})
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert lines[0].startswith(f"Usage: snippetgen render {recipe}")
    for part in ["[--PARAM VALUE ...]", "[-o FILE [--force]]", "[--color auto|always|never]"]:
        assert part in proc.stdout  # a bracket is never split
    options = re.findall(r"^  (--[\w-]+) [A-Z_]+\b", proc.stdout, re.M)
    assert options and len(options) == len(set(options))
    assert re.search(r"(^|; ) *\d+ <= x <= \d+", proc.stdout, re.M)  # nor is a range
    terminal = _on_a_terminal_of(70, ["render", recipe, "--help"])
    assert max(len(line) for line in terminal) <= 70
    assert re.findall(r"^  (--[\w-]+) [A-Z_]+\b", "\n".join(terminal), re.M) == options


def test_python_dash_m_help_and_list():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "render" in proc.stdout and proc.stderr == ""
    proc = run_cli("list")
    assert proc.returncode == 0 and proc.stderr == ""
    assert any(line.startswith("mixup ") for line in proc.stdout.splitlines())


def test_stdout_carries_only_the_payload(cli, tmp_path):
    code, out, err = cli("render", "mixup")
    assert code == 0 and err == "" and out.startswith("# Generated by snippetgen")
    code, out, err = cli("render", "mixup", "-o", "train.py")
    assert code == 0 and out == "" and err == "wrote train.py\n"
    code, out, err = cli("list", "--json")
    assert code == 0 and err == "" and out.lstrip().startswith("[")


# --- bad inputs ------------------------------------------------------------------------------

BAD_INPUTS = {
    "unknown-recipe": (["render", "mixpu"], ["Unknown recipe 'mixpu'", "'mixup'"]),
    "unknown-recipe-show": (["show", "mixpu"], ["Unknown recipe 'mixpu'", "'mixup'"]),
    "unknown-parameter": (["render", "mixup", "--alpah", "0.3"], ["'--alpah'", "'--alpha'"]),
    "unknown-parameter-train": (["render", "train", "--epoch", "3"], ["'--epoch'", "'--epochs'"]),
    "wrong-type": (["render", "train", "--epochs", "three"], ["--epochs", "integer"]),
    "float-for-int": (["render", "train", "--epochs", "2.5"], ["--epochs", "integer"]),
    "out-of-range": (["render", "train", "--epochs", "0"], ["--epochs", "1 <= x"]),
    "out-of-range-exclusive": (["render", "mixup", "--alpha", "0"], ["--alpha", "0 < x"]),
    "non-finite-nan": (["render", "train", "--lr", "nan"], ["--lr"]),
    "non-finite-inf": (["render", "train", "--lr", "1e999"], ["--lr", "finite"]),
    "not-a-choice": (["render", "train", "--optimizer", "adam"], ["--optimizer", "sgd, adamw"]),
    "missing-value": (["render", "train", "--lr"], ["--lr needs a value"]),
    "stray-argument": (["render", "train", "extra"], ["'extra'"]),
    "with-unknown": (["render", "train", "--with", "mixpu"], ["'mixpu'", "'mixup'"]),
    "with-a-snippet": (
        ["render", "train", "--with", "demo-snippet"],
        ["'demo-snippet'", "snippet"],
    ),
    "snippet-with-feature": (
        ["render", "demo-snippet", "--with", "mixup"],
        ["'demo-snippet'", "--with"],
    ),
    "conflicting-features": (
        ["render", "train", "--with", "rival-mix", "--with", "mixup"],
        ["'rival-mix'", "'mixup'", "both mix the batch"],
    ),
    "output-folder-missing": (["render", "mixup", "-o", "no/such/dir/x.py"], ["no/such/dir"]),
    "output-is-a-folder": (["render", "mixup", "-o", ".", "--force"], ["folder"]),
    "output-is-a-folder-no-force": (["render", "mixup", "-o", "."], ["it is a folder"]),
    # errors click finds while parsing the command line, in the same one-sentence form
    "unknown-command": (
        ["rendr", "mixup"],
        ["No such command 'rendr'", "'render'", "'snippetgen --help'"],
    ),
    "unknown-option": (["list", "--bogus"], ["--bogus", "'snippetgen list --help'"]),
    "missing-argument": (["show"], ["Missing argument", "'snippetgen show --help'"]),
    "bad-option-type": (["search", "x", "--limit", "abc"], ["--limit", "'abc'"]),
    "option-needs-value": (["render", "train", "--with"], ["--with", "'snippetgen render --help'"]),
    "bad-color": (["render", "mixup", "--color", "maybe"], ["--color", "'maybe'"]),
    "unknown-tag": (
        ["list", "--tag", "schedule"],
        ["tag 'schedule'", "'scheduler'", "'lr-schedule'"],
    ),
    "unknown-tag-json": (["list", "--tag", "chekpoint", "--json"], ["'chekpoint'", "'checkpoint'"]),
}


@pytest.mark.parametrize(("args", "fragments"), list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_is_one_sentence_exit_2_nothing_written(
    cli, user_recipes, tmp_path, args, fragments
):
    assert_one_sentence(cli(*args), *fragments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["render", "train", "--lr", "inf"], "--lr"), (["lst"], "did you mean 'list'?")],
    ids=["bad-value", "unknown-command"],
)
def test_bad_input_in_a_real_process_has_no_traceback(tmp_path, args, fragment):
    proc = run_cli(*args, cwd=tmp_path)
    assert_one_sentence((proc.returncode, proc.stdout, proc.stderr), fragment)
    assert list(tmp_path.iterdir()) == []
