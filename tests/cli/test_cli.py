"""The CLI's own behaviour: colour, stdout hygiene, -o files, Ctrl-C, and every bad input.

Each bad input gives exit 2, one sentence on stderr, nothing on stdout and no file
written. Most tests run in-process (CliRunner); many run a real interpreter where the
process boundary is the point: pipes (a reader that went away), a terminal, real signals
(SIGINT at chosen moments, from the first import on; SIGKILL mid-write), FIFOs, sockets and
symlinks as -o targets, a full disk (RLIMIT_FSIZE), python -m snippetgen.
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import pytest

from helpers import ROOT, on_a_terminal

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


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 120)
    return subprocess.run(
        [sys.executable, "-m", "snippetgen", *args],
        capture_output=True,
        text=True,
        **kwargs,
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


def test_force_replaces_with_the_usual_permissions_not_the_old_ones(cli, tmp_path):
    target = tmp_path / "train.py"
    target.write_text("old\n")
    target.chmod(0o4751)  # setuid and executable: never carried over to generated code
    code, out, err = cli("render", "mixup", "-o", "train.py", "--force")
    assert code == 0 and out == "" and err == "wrote train.py\n"
    assert target.read_text().startswith("# Generated by snippetgen")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o7777 == 0o666 & ~umask
    assert _leftovers(tmp_path) == []


def _make_special(tmp_path, kind):
    """A non-regular file named `target` in tmp_path; returns (the -o argument, a check
    that it is still there as it was)."""
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
        return str(target), lambda: stat.S_ISFIFO(target.lstat().st_mode)
    if kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(target))
        sock.close()
        return str(target), lambda: stat.S_ISSOCK(target.lstat().st_mode)
    if kind == "char-device":
        return "/dev/null", lambda: stat.S_ISCHR(Path("/dev/null").stat().st_mode)
    if kind == "dangling-symlink":
        target.symlink_to(tmp_path / "nowhere.py")
        return str(target), lambda: target.is_symlink() and not (tmp_path / "nowhere.py").exists()
    if kind == "symlink-to-a-file":
        (tmp_path / "real.py").write_text("precious\n")
        target.symlink_to(tmp_path / "real.py")
        return str(
            target
        ), lambda: target.is_symlink() and (tmp_path / "real.py").read_text() == "precious\n"
    raise AssertionError(kind)


SPECIAL = {
    "fifo": "a named pipe (FIFO)",
    "socket": "a socket",
    "char-device": "a character device",
    "dangling-symlink": "a symbolic link",
    "symlink-to-a-file": "a symbolic link",
}


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("kind", list(SPECIAL))
def test_output_only_ever_replaces_a_regular_file(tmp_path, kind, force):
    """A real process (a FIFO must not block it): refused in one sentence naming what the
    target is, --force or not, and the target is left exactly as it was."""
    argument, unchanged = _make_special(tmp_path, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = run_cli(
        "render", "mixup", "-o", argument, *(["--force"] if force else []), cwd=tmp_path, timeout=60
    )
    assert_one_sentence(
        (proc.returncode, proc.stdout, proc.stderr),
        f"it is {SPECIAL[kind]}",
        "only writes regular files",
    )
    assert unchanged()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _limit_file_size():
    """In the child: writes past 2000 bytes fail with EFBIG, as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ("x" * 300 + ".py", "File name too long"),
        ("plain-file/train.py", "plain-file is not a folder"),
        ("plain-file/deeper/train.py", "plain-file is not a folder"),
        ("/sys/snippetgen-test.py", "Cannot write /sys/snippetgen-test.py: "),
        ("full-disk/train.py", "File too large"),
    ],
    ids=["name-too-long", "parent-is-a-file", "grandparent-is-a-file", "unwritable", "full-disk"],
)
def test_output_that_cannot_be_written_is_one_sentence_and_leaves_nothing(
    tmp_path, where, fragment
):
    (tmp_path / "plain-file").write_text("mine\n")
    (tmp_path / "full-disk").mkdir()
    before = {p: p.read_bytes() if p.is_file() else None for p in tmp_path.rglob("*")}
    proc = subprocess.run(
        [sys.executable, "-m", "snippetgen", "render", "mixup", "-o", where],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_file_size if where.startswith("full-disk") else None,
    )
    assert_one_sentence((proc.returncode, proc.stdout, proc.stderr), fragment)
    assert {p: p.read_bytes() if p.is_file() else None for p in tmp_path.rglob("*")} == before
    assert not list(Path("/sys").glob(".snippetgen-test.py.*"))


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


# A wrapper that runs the real CLI (from snippetgen.launch, as the console script does) and,
# at the first call of OWNER.NAME, says "paused" on stderr and waits for stdin to close (or a
# signal): the test then acts at exactly that moment.
PAUSE_DURING = textwrap.dedent("""\
    import importlib, os, sys
    owner = importlib.import_module({module!r})
    for part in {within!r}:
        owner = getattr(owner, part)
    real = getattr(owner, {name!r})
    calls = []

    def paused(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            os.write(2, b"paused\\n")
            os.read(0, 1)
        return real(*args, **kwargs)

    setattr(owner, {name!r}, paused)
    from snippetgen.launch import main
    sys.argv = ["snippetgen", *sys.argv[1:]]
    main()
""")


def start_paused(tmp_path, where, *args, cwd=None):
    """Start the CLI; return it once it has paused in `where` ("module:Class.function")."""
    module, _, attribute = where.partition(":")
    *within, name = attribute.split(".")
    wrapper = tmp_path.parent / f"{tmp_path.name}-pause-{name}.py"
    wrapper.write_text(PAUSE_DURING.format(module=module, within=within, name=name))
    proc = subprocess.Popen(
        [sys.executable, str(wrapper), *args],
        cwd=cwd or tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr.readline() == "paused\n"
    return proc


def _temps(folder) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".snippetgen.tmp"))


def test_a_write_killed_midway_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    """SIGKILL gives no chance to clean up: the temporary stays, never the target. Its lock
    died with the writer, so the next write into the folder removes it (once it is older
    than a writer needs to start: a young one may be a writer that has not locked it yet)."""
    (tmp_path / "train.py").write_text("precious\n")
    proc = start_paused(tmp_path, "os:fsync", "render", "mixup", "-o", "train.py", "--force")
    (temp,) = _temps(tmp_path)
    assert temp.name.startswith(".train.py.") and temp.stat().st_size > 1000
    proc.kill()
    proc.communicate(timeout=60)
    assert (tmp_path / "train.py").read_text() == "precious\n"
    assert _temps(tmp_path) == [temp]

    assert run_cli("render", "mixup", "-o", "young.py", cwd=tmp_path).returncode == 0
    assert _temps(tmp_path) == [temp]  # too young to tell from a writer that is starting

    # an old temporary still locked by a live writer is left alone
    held = tmp_path / ".other.py.abcdefgh.snippetgen.tmp"
    held.write_text("being written\n")
    with held.open() as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        for path in (temp, held):
            os.utime(path, (time.time() - 3600, time.time() - 3600))
        assert run_cli("render", "mixup", "-o", "later.py", cwd=tmp_path).returncode == 0
        assert _temps(tmp_path) == [held]
    assert (tmp_path / "train.py").read_text() == "precious\n"
    assert (tmp_path / "later.py").read_text().startswith("# Generated by snippetgen")


def test_a_file_made_while_rendering_is_not_overwritten(tmp_path):
    """-o without --force never replaces a file, even one that appears after the check."""
    proc = start_paused(tmp_path, "os:fsync", "render", "mixup", "-o", "train.py")
    (tmp_path / "train.py").write_text("made meanwhile\n")
    out, err = proc.communicate("", timeout=60)
    assert proc.returncode == 2 and out == ""
    assert err == "error: train.py already exists; pass --force to overwrite it.\n"
    assert (tmp_path / "train.py").read_text() == "made meanwhile\n"
    assert _leftovers(tmp_path) == []


# --- closed pipes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["new", "proj", "--dry-run"],
        ["render", "mixup"],
        ["which", "mixup"],
        ["--help"],
        ["render", "mixup", "--help"],
        ["show", "mixup"],
    ],
    ids=" ".join,
)
def test_a_reader_that_went_away_ends_the_command_quietly(tmp_path, args):
    """stdout is a pipe whose reader has gone (`| head -1` once head exits): no traceback,
    no "Exception ignored" at shutdown, nothing written; exit 141 like any tool stopped by
    SIGPIPE."""
    reader, writer = os.pipe()
    os.close(reader)  # closed before the command starts: every write to stdout fails
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "snippetgen", *args],
            cwd=tmp_path,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)
    assert (proc.returncode, proc.stderr) == (141, "")
    assert list(tmp_path.iterdir()) == []


def test_a_closed_stderr_still_delivers_stdout(tmp_path):
    reader, writer = os.pipe()
    os.close(reader)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "snippetgen", "new", "proj", "--dry-run"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=writer,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)
    # the last file `new` lists: the pristine copy's last (see snippetgen.project.pristine)
    assert proc.stdout.splitlines()[-1].startswith("proj/.snippetgen/pristine/.gitignore")
    assert proc.returncode == 141


# --- Ctrl-C at any moment --------------------------------------------------------------------


def console_script(folder: Path) -> Path:
    """The script `pip install` makes from [project.scripts] (the same text pip writes)."""
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["snippetgen"]
    module, func = entry.split(":")
    script = folder / "snippetgen-console-script"
    script.write_text(
        "import re\nimport sys\n"
        f"from {module} import {func}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({func}())\n"
    )
    return script


# Stands in for typer: says "importing" and waits, so that a signal lands mid-import.
TYPER_SHIM = 'import os\nos.write(2, b"importing typer\\n")\nos.read(0, 1)\n'


@pytest.mark.parametrize("how", ["console-script", "python-m"])
def test_ctrl_c_while_the_cli_is_imported(tmp_path, how):
    shim = tmp_path.parent / f"{tmp_path.name}-shim"
    (shim / "typer").mkdir(parents=True)
    (shim / "typer" / "__init__.py").write_text(TYPER_SHIM)
    start = (
        [sys.executable, str(console_script(shim))]
        if how == "console-script"
        else [sys.executable, "-m", "snippetgen"]
    )
    proc = subprocess.Popen(
        [*start, "list"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(shim)},
    )
    assert proc.stderr.readline() == "importing typer\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (130, "", "interrupted\n")


MOMENTS = {
    "parsing-arguments": ("snippetgen.usage:OneLineErrors.resolve_command", ["render", "mixup"]),
    "loading-recipes": ("snippetgen.recipes.catalog:load_catalog", ["render", "mixup"]),
    "rendering": ("snippetgen.codegen.codecheck:format_source", ["render", "mixup"]),
    "writing": ("os:fsync", ["render", "mixup", "-o", "train.py"]),
    "saving-the-cache-on-exit": ("snippetgen.codegen.cache:flush", ["render", "mixup"]),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_at_any_moment_says_interrupted_and_exits_130(tmp_path, monkeypatch, moment):
    monkeypatch.setenv("SNIPPETGEN_NO_CACHE", "1")  # so black really runs
    where, args = MOMENTS[moment]
    proc = start_paused(tmp_path, where, *args)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err == "interrupted\n", err
    if moment == "saving-the-cache-on-exit":  # the render was complete and printed by then
        assert out.startswith("# Generated by snippetgen")
    else:
        assert out == ""
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_after_the_output_is_flushed(tmp_path):
    """The command has finished and its output is out: a Ctrl-C now still ends the process
    with "interrupted" and 130, never a traceback from interpreter shutdown."""
    wrapper = tmp_path.parent / f"{tmp_path.name}-late.py"
    wrapper.write_text(
        textwrap.dedent("""\
        import os, signal, sys
        real = signal.signal

        def installs_then_interrupts(signum, handler):
            previous = real(signum, handler)
            os.kill(os.getpid(), signal.SIGINT)  # lands just after launch's last handler
            return previous

        signal.signal = installs_then_interrupts
        from snippetgen.launch import main
        sys.argv = ["snippetgen", "which", "mixup"]
        main()
    """)
    )
    proc = subprocess.run(
        [sys.executable, str(wrapper)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 130 and proc.stderr == "interrupted\n"
    assert proc.stdout.splitlines()[-1].endswith("mixup")
