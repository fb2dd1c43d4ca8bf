"""The CLI's own behaviour: colour, stdout hygiene, -o files, Ctrl-C, and every bad input.

Each bad input gives exit 2, one sentence on stderr, nothing on stdout and no file
written. Most tests run in-process (CliRunner); a few run a real interpreter where the
process boundary is the point (pipes, a terminal, SIGINT, python -m snippetgen).
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import textwrap
import time

import pytest

from conftest import ROOT

ANSI = "\x1b["


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Run every command in an empty folder, so 'nothing written' can be checked."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def recipes_root(tmp_path, monkeypatch):
    """Frozen copies of train and mixup first on SNIPPETGEN_PATH: tests compare two renders,
    and other work may edit the built-in templates while the suite runs."""
    root = tmp_path.parent / f"{tmp_path.name}-recipes"
    for name in ("train", "mixup"):
        shutil.copytree(ROOT / "templates" / name, root / name)
    monkeypatch.setenv("SNIPPETGEN_PATH", str(root))
    return root


@pytest.fixture()
def user_recipes(recipes_root):
    """A snippet and a feature that conflicts with mixup, on SNIPPETGEN_PATH."""
    root = recipes_root
    (root / "demo-snippet").mkdir(parents=True)
    (root / "demo-snippet" / "recipe.toml").write_text(textwrap.dedent("""\
        name = "demo-snippet"
        kind = "snippet"
        title = "Demo"
        summary = "A standalone demo."
    """))
    (root / "demo-snippet" / "snippet.py.j2").write_text('print("demo")\n')
    (root / "rival-mix").mkdir()
    (root / "rival-mix" / "recipe.toml").write_text(textwrap.dedent("""\
        name = "rival-mix"
        kind = "feature"
        title = "Rival"
        summary = "Another batch mixer."

        [[conflicts]]
        recipe = "mixup"
        why = "both mix the batch"
    """))
    (root / "rival-mix" / "feature.py.j2").write_text("")
    return root


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snippetgen", *args], capture_output=True, text=True,
        timeout=120, **kwargs,
    )


def assert_one_sentence(result, *fragments: str, exit_code: int = 2) -> str:
    code, out, err = result
    assert code == exit_code, (code, out, err)
    assert out == "", "errors never reach stdout"
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


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


def _run_on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run `python -m snippetgen ARGS` with stdout on a pseudo-terminal; return what it printed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "snippetgen", *args], stdout=follower,
        stderr=subprocess.DEVNULL, env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode()


def test_auto_colours_a_terminal_unless_no_color(monkeypatch):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert ANSI in _run_on_a_terminal(["render", "mixup"], env)
    assert ANSI not in _run_on_a_terminal(["render", "mixup"], {**env, "NO_COLOR": "1"})


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
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "snippetgen", *args], stdout=follower,
        stderr=subprocess.DEVNULL, env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode().replace("\r\n", "\n").splitlines()


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
    "with-a-snippet": (["render", "train", "--with", "demo-snippet"], ["'demo-snippet'", "snippet"]),
    "snippet-with-feature": (["render", "demo-snippet", "--with", "mixup"], ["'demo-snippet'", "--with"]),
    "conflicting-features": (
        ["render", "train", "--with", "rival-mix", "--with", "mixup"],
        ["'rival-mix'", "'mixup'", "both mix the batch"],
    ),
    "output-folder-missing": (["render", "mixup", "-o", "no/such/dir/x.py"], ["no/such/dir"]),
    "output-is-a-folder": (["render", "mixup", "-o", ".", "--force"], ["folder"]),
    "output-is-a-folder-no-force": (["render", "mixup", "-o", "."], ["it is a folder"]),
    # errors click finds while parsing the command line, in the same one-sentence form
    "unknown-command": (["rendr", "mixup"], ["No such command 'rendr'", "'render'",
                                             "'snippetgen --help'"]),
    "unknown-option": (["list", "--bogus"], ["--bogus", "'snippetgen list --help'"]),
    "missing-argument": (["show"], ["Missing argument", "'snippetgen show --help'"]),
    "bad-option-type": (["search", "x", "--limit", "abc"], ["--limit", "'abc'"]),
    "option-needs-value": (["render", "train", "--with"], ["--with", "'snippetgen render --help'"]),
    "bad-color": (["render", "mixup", "--color", "maybe"], ["--color", "'maybe'"]),
    "unknown-tag": (["list", "--tag", "schedule"], ["tag 'schedule'", "'scheduler'", "'lr-schedule'"]),
    "unknown-tag-json": (["list", "--tag", "chekpoint", "--json"], ["'chekpoint'", "'checkpoint'"]),
}


@pytest.mark.parametrize(("args", "fragments"), list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_is_one_sentence_exit_2_nothing_written(cli, user_recipes, tmp_path, args, fragments):
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


# --- -o FILE ---------------------------------------------------------------------------------


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_output_writes_the_render_with_usual_permissions(cli, tmp_path):
    code, expected, _ = cli("render", "mixup", "--color", "never")
    code, out, err = cli("render", "mixup", "-o", "train.py", "--color", "always")
    assert code == 0 and out == ""
    assert (tmp_path / "train.py").read_text() == expected  # files are never coloured
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "train.py").stat().st_mode & 0o777 == 0o666 & ~umask
    assert _leftovers(tmp_path) == []


def test_refused_overwrite_leaves_the_file_untouched(cli, tmp_path):
    target = tmp_path / "train.py"
    target.write_text("precious\n")
    os.utime(target, (1_000_000, 1_000_000))
    assert_one_sentence(cli("render", "mixup", "-o", "train.py"), "already exists", "--force")
    assert target.read_text() == "precious\n"
    assert target.stat().st_mtime == 1_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.py"]


def test_force_replaces_and_keeps_the_file_mode(cli, tmp_path):
    target = tmp_path / "train.py"
    target.write_text("old\n")
    target.chmod(0o750)
    code, out, err = cli("render", "mixup", "-o", "train.py", "--force")
    assert code == 0 and out == "" and err == "wrote train.py\n"
    assert target.read_text().startswith("# Generated by snippetgen")
    assert target.stat().st_mode & 0o777 == 0o750
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("existing", [False, True], ids=["new-file", "force-over-existing"])
def test_ctrl_c_mid_write_leaves_no_partial_file(cli, tmp_path, monkeypatch, existing):
    target = tmp_path / "train.py"
    if existing:
        target.write_text("precious\n")
    written = []
    real_fsync = os.fsync

    def interrupted_fsync(fd):
        written.append(os.fstat(fd).st_size)  # the text is in the temporary file by now
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted_fsync)
    code, out, err = cli("render", "mixup", "-o", "train.py", *(["--force"] if existing else []))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert written and written[0] > 1000, "the interrupt came mid-write"
    assert code == 130 and out == "" and err == "interrupted\n"
    if existing:
        assert target.read_text() == "precious\n"
    else:
        assert not target.exists()
    assert _leftovers(tmp_path) == []


SIGINT_DURING = textwrap.dedent("""\
    import os, signal, sys
    import {module} as target
    real = target.{name}

    def {name}(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered right here
        return real(*args, **kwargs)

    target.{name} = {name}
    from snippetgen.cli import main
    sys.argv = ["snippetgen", *sys.argv[1:]]
    main()
""")


def test_real_sigint_mid_write_exits_130_without_partial_file(tmp_path):
    wrapper = tmp_path.parent / f"{tmp_path.name}-sigint.py"
    wrapper.write_text(SIGINT_DURING.format(module="os", name="fsync"))
    proc = subprocess.run(
        [sys.executable, str(wrapper), "render", "mixup", "-o", "train.py"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "interrupted\n" and proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_real_sigint_mid_render_prints_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SNIPPETGEN_NO_CACHE", "1")  # so black really runs
    wrapper = tmp_path.parent / f"{tmp_path.name}-sigint-render.py"
    wrapper.write_text(SIGINT_DURING.format(module="snippetgen.codecheck", name="format_source"))
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(wrapper), "render", "mixup"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 130 and proc.stdout == ""
    assert proc.stderr == "interrupted\n"
    assert time.monotonic() - started < 60

