"""Notebooks: `render --format ipynb` and `new --notebook`.

The notebook holds the script's lines (less its ``__main__`` blocks) in cells that run top to
bottom in a real Jupyter kernel (nbclient + ipykernel) and train exactly like the script:
the same metrics.jsonl for the same arguments. The command in the markdown cell stays one
line of a code block whatever it holds.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import load_module, read_metrics, readme_commands, readme_section, run_script
from snippetgen.project.notebook import Cells, is_main_guard, md_code_block, split_cells

TINY = ["--epochs", "2", "--train-size", "64", "--val-size", "32", "--batch-size", "16"]


def render_both(cli, tmp_path: Path, *words: str) -> tuple[Path, dict]:
    """Render the script and the notebook of `words`; returns (script path, notebook)."""
    code, script, err = cli("render", *words, "--color", "never")
    assert code == 0, err
    path = tmp_path / "script.py"
    path.write_text(script)
    code, out, err = cli("render", *words, "--format", "ipynb")
    assert code == 0, err
    notebook = nbformat.reads(out, as_version=4)
    nbformat.validate(notebook)
    return path, notebook


def without_main_blocks(script: str) -> str:
    lines = script.splitlines(keepends=True)
    for node in reversed(ast.parse(script).body):
        if is_main_guard(node):
            del lines[node.lineno - 1 : node.end_lineno]
    return "".join(lines)


def code_cells(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize(
    "words",
    [["train"], ["mixup", "--with", "warmup"], ["one-hot"], ["modulelist-vs-sequential"]],
    ids=" ".join,
)
def test_cells_hold_every_line_of_the_script_once(cli, tmp_path, words):
    path, notebook = render_both(cli, tmp_path, *words)
    script = path.read_text()
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    command = script.splitlines()[0].split(": ", 1)[1]  # the header comment's command
    assert f"```\n{command}\n```" in first.source
    cells = code_cells(notebook)
    body, last = cells[:-1], cells[-1]
    assert len(body) > 3
    for cell in body:  # each cell stands alone: parses, no __main__ block, no blank edges
        tree = ast.parse(cell)
        assert not any(is_main_guard(node) for node in tree.body)
        assert cell.strip("\n") == cell and cell.splitlines()[0].strip()
    rest = without_main_blocks(script)
    joined = "\n\n\n".join(body)
    assert ast.dump(ast.parse(joined)) == ast.dump(ast.parse(rest))
    nonblank = [line for line in joined.splitlines() if line.strip()]
    assert nonblank == [line for line in rest.splitlines() if line.strip()]
    defs = [n.name for n in ast.parse(rest).body if isinstance(n, ast.FunctionDef)]
    for name in defs:  # every function has a cell of its own
        assert sum(cell.startswith(("def " + name + "(", "@")) for cell in body) >= 1
    call = ast.parse(last).body[-1]
    if words[0] in ("one-hot", "modulelist-vs-sequential"):
        assert last == "main()"
    else:
        assert isinstance(call, ast.Assign) and isinstance(call.value, ast.Call)
        assert call.value.func.id == "main"
        assert all(isinstance(e, ast.Constant) for e in call.value.args[0].elts)


def test_split_cells_groups_imports_and_keeps_comments():
    code = (
        "# header\n"
        '"""Doc."""\n\nimport os\nimport sys\n\nX = 1\nY = 2\n\n\n'
        "# about f\n@staticmethod\ndef f():\n    return X\n\n\n"
        "# about g\n\nclass G:\n    pass\n\n\n"
        "# before main\n"
        'if __name__ == "__main__":\n    f()\n    print(os, sys)\n'
    )
    assert split_cells(code) == Cells(
        [
            '# header\n"""Doc."""\n\nimport os\nimport sys',
            "X = 1\nY = 2",
            "# about f\n@staticmethod\ndef f():\n    return X",
            "# about g\n\nclass G:\n    pass\n\n\n# before main",
        ],
        "f()\nprint(os, sys)",
    )


@pytest.mark.parametrize(
    "words",
    [
        ["train"],
        ["mixup", "--with", "warmup", "--epochs", "3", "--lr", "0.1"],
        ["checkpoint", "--with", "early-stopping"],
        ["train", "--data", "csv"],
    ],
    ids=" ".join,
)
def test_run_cell_arguments_are_valid_for_the_script(cli, tmp_path, words):
    path, notebook = render_both(cli, tmp_path, *words)
    call = ast.parse(code_cells(notebook)[-1]).body[-1]
    args = ast.literal_eval(call.value.args[0])
    assert args[:2] == ["--epochs", "3" if "3" in words else "5"]
    parsed = load_module(path).parse_args(args)
    defaults = load_module(path).parse_args([])
    assert vars(parsed) == vars(defaults)  # the shown values are the script's defaults


def test_format_choices_output_and_refusals(cli, tmp_path):
    target = tmp_path / "train.ipynb"
    code, out, err = cli("render", "train", "-o", str(target))  # the suffix picks ipynb
    assert code == 0 and out == "" and "wrote" in err
    nbformat.validate(nbformat.read(target, as_version=4))
    code, out, err = cli("render", "train", "-o", str(target))
    assert code == 2 and "--force" in err and len(err.strip().splitlines()) == 1
    as_py = tmp_path / "really.ipynb"
    assert cli("render", "train", "--format", "py", "-o", str(as_py))[0] == 0
    assert as_py.read_text().startswith("# Generated by snippetgen")
    code, _, err = cli("render", "train", "--format", "pdf")
    assert code == 2 and err.strip() == "error: --format must be py or ipynb, not 'pdf'."
    # the same request gives the same bytes (fixed cell ids)
    first = cli("render", "one-hot", "--format", "ipynb")[1]
    assert first == cli("render", "one-hot", "--format", "ipynb")[1]
    assert json.loads(first)["nbformat"] == 4


ESCAPES = st.text(alphabet=st.sampled_from("`~\n\r\t\u2028 <>&*_#[]()!\\'\"a1é标"), max_size=30)


@settings(max_examples=200, deadline=None)
@given(folder=ESCAPES, prefix=ESCAPES)
def test_command_stays_one_line_of_one_code_block(folder, prefix):
    """Whatever a folder name holds (backticks, line breaks, HTML), the command is one code
    block whose text is the header comment's command, and nothing else leaks out."""
    from markdown_it import MarkdownIt

    from snippetgen.codegen.quoting import comment, escape, shell_word

    command = f"snippetgen render train --data-path {shell_word(prefix + '/' + folder)}"
    block = md_code_block(command)
    tokens = MarkdownIt("commonmark").parse(block)
    assert [t.type for t in tokens] == ["fence"]
    assert tokens[0].content == escape(command) + "\n"
    assert comment(command) == "# " + tokens[0].content.rstrip("\n")
    # and inside the whole markdown cell: still exactly one code block, holding it
    from snippetgen.project.notebook import intro

    text = intro("T `x`\n# y", command, [], "end")
    fences = [t for t in MarkdownIt("commonmark").parse(text) if t.type == "fence"]
    assert [t.content for t in fences] == [escape(command) + "\n"]
    assert "html_block" not in {t.type for t in MarkdownIt("commonmark").parse(text)}


MISSING_PROBE = """
import sys
sys.modules["nbformat"] = None  # as if it were not installed
from snippetgen.cli import app
app(sys.argv[1:])
"""


@pytest.mark.parametrize("kind", ["render", "new"])
def test_without_nbformat_one_sentence_and_nothing_written(tmp_path, kind):
    target = tmp_path / ("t.ipynb" if kind == "render" else "proj")
    args = (
        ["render", "train", "--format", "ipynb", "-o", str(target)]
        if kind == "render"
        else ["new", str(target), "--notebook"]
    )
    proc = subprocess.run(
        [sys.executable, "-c", MISSING_PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: Writing a notebook needs the nbformat package, which is not installed; "
        "install it with: pip install 'snippetgen[notebook]'."
    ]
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_new_notebook_imports_the_package(cli, tmp_path):
    from markdown_it import MarkdownIt

    from snippetgen.codegen.quoting import escape, shell_word

    name = "my ``proj``\n<img src=x>"  # a folder name that tries to leave the code block
    project = tmp_path / name
    code, _, err = cli(
        "new", str(project), "--with", "warmup", "--package", "my_proj", "--notebook"
    )
    assert code == 0, err
    notebook = nbformat.read(project / "notebook.ipynb", as_version=4)
    nbformat.validate(notebook)
    cells = code_cells(notebook)
    assert cells[0] == "from my_proj.train import main"
    call = ast.parse(cells[-1]).body[-1]
    assert ast.literal_eval(call.value.args[0])[:2] == ["--epochs", "5"]
    command = f"snippetgen new {shell_word(name)} --with warmup --notebook"
    tokens = MarkdownIt("commonmark").parse(notebook.cells[0].source)
    assert [t.content for t in tokens if t.type == "fence"] == [escape(command) + "\n"]
    assert not {"html_block", "html_inline"} & {t.type for t in tokens}
    assert cli("new", str(tmp_path / "plain"))[0] == 0
    assert not (tmp_path / "plain" / "notebook.ipynb").exists()


# --- executed in a real kernel ----------------------------------------------------------------

SIGNALS = "import signal\nsignal_handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))"
SAME_SIGNALS = (
    "assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) "
    "== signal_handlers, 'a cell changed the signal handlers'"
)


def execute(notebook, folder: Path) -> None:
    from nbclient import NotebookClient

    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()


def with_run_cells(notebook, *calls: list[str]):
    """The notebook with its run cell's arguments edited, run once per `calls`, between
    checks that no cell changed the kernel's signal handlers."""
    v4 = nbformat.v4
    last = notebook.cells[-1].source
    head = last[: last.index("history = main(")]
    notebook.cells[-1].source = head + f"history = main({json.dumps(calls[0])})"
    extra = [v4.new_code_cell(f"history = main({json.dumps(c)})") for c in calls[1:]]
    notebook.cells = [
        v4.new_code_cell(SIGNALS),
        *notebook.cells,
        *extra,
        v4.new_code_cell(SAME_SIGNALS),
    ]
    return notebook


@pytest.mark.parametrize(
    "words", [["train"], ["mixup", "--with", "warmup", "--alpha", "0.3"]], ids=" ".join
)
def test_notebook_trains_exactly_like_the_script(cli, tmp_path, words):
    path, notebook = render_both(cli, tmp_path, *words)
    run_script(path, *TINY, "--output-dir", str(tmp_path / "py"))
    runs = [[*TINY, "--output-dir", str(tmp_path / name)] for name in ("nb", "nb-again")]
    runs.append([*runs[0], "--overwrite"])  # the first run's folder is free again
    execute(with_run_cells(notebook, *runs), tmp_path)
    expected = read_metrics(tmp_path / "py")
    assert len(expected) == 2
    assert read_metrics(tmp_path / "nb") == expected
    assert read_metrics(tmp_path / "nb-again") == expected  # main() runs again in one kernel
    assert (tmp_path / "nb" / "model.pt").is_file()


def test_snippet_notebook_prints_what_the_script_prints(cli, tmp_path):
    path, notebook = render_both(cli, tmp_path, "one-hot")
    expected = run_script(path).stdout
    notebook.cells = [nbformat.v4.new_code_cell(SIGNALS), *notebook.cells]
    notebook.cells.append(nbformat.v4.new_code_cell(SAME_SIGNALS))
    execute(notebook, tmp_path)
    printed = "".join(
        output.get("text", "")
        for output in notebook.cells[-2].outputs
        if output.output_type == "stream" and output.name == "stdout"
    )
    assert printed == expected


def test_project_notebook_runs_in_the_project_folder(cli, tmp_path):
    project = tmp_path / "proj"
    assert cli("new", str(project), "--notebook")[0] == 0
    notebook = nbformat.read(project / "notebook.ipynb", as_version=4)
    execute(with_run_cells(notebook, [*TINY, "--output-dir", "out"]), project)
    assert [m["epoch"] for m in read_metrics(project / "out")] == [1, 2]


def test_readme_notebook_commands_run_as_written(tmp_path):
    lines = readme_commands(readme_section("Notebooks"))
    assert len(lines) == 4 and all(line.startswith("snippetgen ") for line in lines)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for line in lines:
        proc = subprocess.run(
            ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, (line, proc.stderr)
    for name in ("train.ipynb", "one_hot.ipynb", "train_plain.ipynb", "nb-project/notebook.ipynb"):
        nbformat.validate(nbformat.read(tmp_path / name, as_version=4))
