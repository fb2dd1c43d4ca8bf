"""A fast CLI: the look-up commands import nothing heavy.

Each command runs in a fresh interpreter, which then reports which heavy packages
ended up in sys.modules. `list`, `search`, `show` and `--help` never need black, torch,
numpy, Jinja or Pygments (the last only for --color); `render RECIPE --help` reads the
schema without Jinja or black.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = {"black", "torch", "numpy", "jinja2", "pygments"}

PROBE = """
import json, sys
from snippetgen.cli import app
try:
    app(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(HEAVY)))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def loaded_after(*args: str) -> tuple[int, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.replace("HEAVY", repr(json.dumps(sorted(HEAVY)))), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["code"], report["heavy"]


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["list", "--json"],
        ["search", "label", "smoothing"],
        ["search", "标签平滑"],
        ["show", "mixup", "--color", "never"],
        ["show", "train"],
        ["--help"],
        ["render", "--help"],
        ["render", "mixup", "--help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_lookup_commands_import_nothing_heavy(args):
    code, heavy = loaded_after(*args)
    assert code in (0, None)
    assert heavy == []


def test_the_probe_does_see_heavy_imports():
    """Guard on the probe itself: a real render does load Jinja and black."""
    code, heavy = loaded_after("render", "mixup", "--color", "never")
    assert code in (0, None)
    assert "jinja2" in heavy and "black" in heavy and "torch" not in heavy


def test_importing_the_package_is_light():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, snippetgen, snippetgen.rendering, snippetgen.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'black', 'torch', 'jinja2', 'pygments'}))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def test_public_names_load_on_first_use():
    import snippetgen
    import snippetgen.rendering

    assert snippetgen.render is snippetgen.rendering.render  # the function, not a module
    assert snippetgen.RenderRequest is snippetgen.rendering.RenderRequest
    assert set(snippetgen.__all__) <= set(dir(snippetgen))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = snippetgen.nope  # type: ignore[attr-defined]
