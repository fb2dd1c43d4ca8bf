"""Channels 2 and 3: hostile folder names for `new`, and answers files."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path

from probing.common import ACCEPTED, PY, Tally, Verdict, refusal, short, worst
from probing.context import Probe
from probing.files import diff, markers, payload, snapshot, structure

# --- 2. hostile folder names for `new` and 3. answers files ------------------------------------


IMPORT_CHECK = r"""
import importlib.util, json, sys
for folder, package in json.loads(sys.argv[1]):
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location("probe_test_project", folder + "/tests/test_project.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(json.dumps([folder, "ok"]), flush=True)
    except BaseException as exc:
        print(json.dumps([folder, f"{type(exc).__name__}: {exc}"[:200]]), flush=True)
    finally:
        sys.path.remove(folder)
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
"""


def project_shapes(folder: Path, package: str, everything: bool = False) -> dict[str, str | None]:
    shapes = {}
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder).as_posix()
        for prefix in ("", ".snippetgen/pristine/"):  # the package, and `update`'s copy of it
            if rel.startswith(prefix + package + "/"):
                rel = prefix + "PKG" + rel[len(prefix + package) :]
        shapes[rel] = structure(path.read_bytes(), everything=everything, package=package)
    return shapes


def reference_project(
    p: Probe, with_: tuple[str, ...]
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """The .py structures of `new proj [--with ...]`: (strings blanked, every constant blanked)."""

    def make() -> tuple[dict[str, str | None], dict[str, str | None]]:
        cwd = p.fresh("ref-project")
        run = p.cli(
            ["new", "proj", *[w for r in with_ for w in ("--with", r)]],
            cwd=cwd,
            timeout=p.runner.cli_timeout * 2,
        )
        if run.rc != 0:
            raise SystemExit(f"snippetgen new proj failed: {run.errtext[-400:]}")
        return project_shapes(cwd / "proj", "proj"), project_shapes(cwd / "proj", "proj", True)

    return p.memo(("ref-project", with_), make)


def check_project(p: Probe, folder: Path, everything: bool) -> tuple[Verdict | None, str | None]:
    """Parse every .toml, compare every .py with the reference project; (verdict, package)."""
    try:
        answers = tomllib.loads((folder / ".snippetgen.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return Verdict(
            "unsafe", f"its .snippetgen.toml does not parse ({short(str(exc), 60)})"
        ), None
    for toml_file in folder.rglob("*.toml"):
        try:
            tomllib.loads(toml_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return Verdict(
                "unsafe", f"{toml_file.name} does not parse ({short(str(exc), 60)})"
            ), None
    package = answers.get("package")
    recipes = answers.get("recipes", [])
    if not isinstance(package, str) or not package.isidentifier():
        return Verdict("unsafe", f"package {package!r} in .snippetgen.toml"), None
    ref = reference_project(p, tuple(recipes))[1 if everything else 0]
    got = project_shapes(folder, package, everything)
    if got.keys() != ref.keys():
        extra = sorted(set(got) ^ set(ref))
        return Verdict(
            "unsafe", f"project files differ from the reference: {short(extra, 80)}"
        ), package
    for rel, shape in got.items():
        if shape is None:
            return Verdict("unsafe", f"{rel} does not parse"), package
        if shape != ref[rel]:
            return Verdict(
                "unsafe", f"{rel} differs in structure from the reference project"
            ), package
    return None, package


def import_projects(
    p: Probe, projects: dict[str, tuple[Path, str]], tally_cwd: Path
) -> dict[str, str]:
    """Import tests/test_project.py of every project in one interpreter; label -> problem."""
    if not projects:
        return {}
    items = [[str(folder), package] for folder, package in projects.values()]
    run = p.runner.run(
        [PY, "-c", IMPORT_CHECK, json.dumps(items)],
        cwd=tally_cwd,
        timeout=p.runner.train_timeout + 5 * len(items),
    )
    by_folder = {str(folder): label for label, (folder, _) in projects.items()}
    problems = {}
    seen = set()
    for line in run.out.decode(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            folder, status = json.loads(line)
            seen.add(folder)
            if status != "ok":
                problems[by_folder[folder]] = (
                    f"its test module does not import ({short(status, 80)})"
                )
    for folder, label in by_folder.items():
        if folder not in seen:
            problems[label] = "hang" if run.timed_out else "the import check died before it"
    return problems


def marker_verdicts(root: Path, tags: dict[str, str]) -> dict[str, Verdict]:
    """Label -> verdict for every marker file below `root` (tags: marker tag -> case label)."""
    found = {}
    for marker in markers(root):
        label = tags.get(marker.name.removeprefix("PWNED-"), marker.name)
        found[label] = Verdict("unsafe", f"payload ran: {marker.name} appeared")
    return found


NEW_NAMES = [  # the first ones are what --quick runs
    ("newline-payload", "x\n{P}\n#"),
    ("cr-payload", "x\r{P}\r#"),
    ("u2028-payload", "x\u2028{P}\u2028#"),
    ("formfeed-payload", "x\x0c{P}\x0c#"),
    ("nel-payload", "x\x85{P}\x85#"),
    ("triple-dquote-payload", 'x"""\n{P}\n"""'),
    ("shell", "x$(touch PWNED-{T})"),
    ("backtick", "x`touch PWNED-{T}`"),
    ("non-utf8", "p\udcff\udcfe"),
    ("long-300", "a" * 300),
    ("dot", "."),
    ("dash-option", "-rf"),
    ("package-payload", "--package\0x\n{P}"),
    ("quote", "x'y"),
    ("newline", "a\nb"),
    ("triple-squote-payload", "x'''\n{P}\n'''"),
    ("dquote", 'x"y'),
    ("hash", "x#y"),
    ("backslash", "x\\y"),
    ("long-200", "a" * 200),
    ("non-ascii", "é项目"),
    ("jinja", "x{{ 7*7 }}{% raw %}"),
    ("stdlib", "os"),
    ("digits", "123"),
    ("dash-after-sep", "--/-rf"),
    ("space", " lead and trail "),
    ("tab", "a\tb"),
    ("ansi", "x\x1b[2Jy"),
    ("package-payload-semicolon", "--package\0x;{P}"),
    ("package-keyword", "--package\0class"),
    ("package-dunder", "--package\0__init__"),
]


def channel_new_names(p: Probe, tally: Tally) -> None:
    tags = {f"n{i}": label for i, (label, _) in enumerate(NEW_NAMES)}
    cases = p.select(
        [(label, tag, name) for tag, (label, name) in zip(tags, NEW_NAMES, strict=True)],
        p.sizes["new_names"],
    )
    projects: dict[str, tuple[Path, str]] = {}
    lock = threading.Lock()

    def case(label: str, tag: str, name: str) -> Verdict:
        cwd = p.fresh("new")
        name = name.replace("{P}", payload(tag)).replace("{T}", tag)
        if name.startswith("--package\0"):
            argv, target = ["new", "proj", "--package", name.split("\0", 1)[1]], "proj"
        elif name.startswith("--/"):
            argv, target = ["new", "--", name[3:]], name[3:]
        else:
            argv, target = ["new", name], name
        run = p.cli(argv, cwd=cwd, timeout=p.runner.cli_timeout * 2)
        found = refusal(run)
        if found is not None:
            left = [e.name for e in cwd.iterdir()]
            if found.outcome == "refused" and left:
                return Verdict("unsafe", f"refused but left {short(left, 60)}")
            return found
        folder = (cwd / target).resolve()
        if not folder.is_dir():
            return Verdict("other", f"exit 0 but no folder {target!r}")
        extra = [e.name for e in cwd.iterdir() if e.resolve() != folder and folder != cwd.resolve()]
        if extra:
            return Verdict("unsafe", f"left beside the project: {short(extra, 60)}")
        verdict, package = check_project(p, folder, everything=False)
        if package is not None:
            with lock:
                projects[label] = (folder, package)
        return verdict or ACCEPTED

    verdicts = p.map(tally, case, cases, add=False)
    problems = import_projects(p, projects, p.fresh("import-cwd"))
    marks = marker_verdicts(p.root, tags)
    for label, *_ in cases:
        if label not in verdicts:
            continue
        late = Verdict("other", problems[label]) if label in problems else None
        if late is not None and late.why == "hang":
            late = Verdict("hang", "importing its test module did not finish")
        tally.add(label, worst(marks.get(label), verdicts[label], late))


def _answers(text: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "answers.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return make


def _answers_bytes(data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "answers.toml"
        path.write_bytes(data)
        return path

    return make


def _fifo(folder: Path) -> Path:
    path = folder / "answers.toml"
    os.mkfifo(path)
    return path


def _folder(folder: Path) -> Path:
    path = folder / "answers.toml"
    path.mkdir()
    return path


def _loop(folder: Path) -> Path:
    path = folder / "answers.toml"
    path.symlink_to("answers.toml")
    return path


def _huge(folder: Path) -> Path:
    path = folder / "answers.toml"
    with path.open("w") as handle:
        handle.write("recipes = []\n# " + "x" * (48 << 20) + "\n")
    return path


ANSWERS: list[tuple[str, Callable[[Path], Path]]] = [
    ("bad-toml-open", _answers("recipes = [\n")),
    ("bad-toml-eq", _answers("= 1\n")),
    ("bad-toml-dupkey", _answers("[params]\nepochs = 5\nepochs = 6\n")),
    ("not-utf8", _answers_bytes(b'package = "\xff\xfe"\n')),
    ("nul-byte", _answers_bytes(b'package = "a\x00b"\n')),
    ("bom", _answers_bytes(b"\xef\xbb\xbfrecipes = []\n")),
    ("recipes-str", _answers('recipes = "mixup"\n')),
    ("recipes-ints", _answers("recipes = [1, 2]\n")),
    ("params-int", _answers("params = 5\n")),
    ("package-int", _answers("package = 7\n")),
    ("version-float", _answers("snippetgen_version = 1.0\n")),
    ("unknown-key", _answers("evil = 1\n")),
    ("epochs-bool", _answers("[params]\nepochs = true\n")),
    ("epochs-float", _answers("[params]\nepochs = 5.5\n")),
    ("epochs-i64", _answers("[params]\nepochs = 9223372036854775807\n")),
    ("epochs-str-payload", _answers(f'[params]\nepochs = "5\\n{payload("epochs-str-payload")}"\n')),
    ("lr-nan", _answers("[params]\nlr = nan\n")),
    ("lr-inf", _answers("[params]\nlr = -inf\n")),
    ("lr-datetime", _answers("[params]\nlr = 1979-05-27T07:32:00Z\n")),
    ("lr-time", _answers("[params]\nlr = 07:32:00\n")),
    ("epochs-list", _answers("[params]\nepochs = [1, 2]\n")),
    ("epochs-table", _answers("[params]\nepochs = { a = 1 }\n")),
    ("param-unknown", _answers("[params]\nnope = 1\n")),
    ("param-payload-name", _answers(f'[params]\n"x\\n{payload("param-payload-name")}" = 1\n')),
    (
        "optimizer-payload",
        _answers(f'[params]\noptimizer = "sgd\\n{payload("optimizer-payload")}"\n'),
    ),
    ("milestones-junk", _answers('recipes = ["lr-schedule"]\n[params]\nmilestones = [0, -1]\n')),
    ("package-payload", _answers(f'package = "x\\n{payload("package-payload")}"\n')),
    ("package-os", _answers('package = "os"\n')),
    ("package-dotted", _answers('package = "a.b"\n')),
    ("package-unicode", _answers('package = "é"\n')),
    ("package-empty", _answers('package = ""\n')),
    ("recipes-path", _answers('recipes = ["../../etc/passwd"]\n')),
    ("recipes-newline", _answers('recipes = ["mixup\\n"]\n')),
    ("recipes-snippet", _answers('recipes = ["one-hot"]\n')),
    ("recipes-dup", _answers('recipes = ["mixup", "mixup"]\n')),
    ("version-payload", _answers(f'snippetgen_version = "0\\n{payload("version-payload")}"\n')),
    ("deep-arrays", _answers("recipes = " + "[" * 3000 + "]" * 3000 + "\n")),
    ("deep-tables", _answers("[params]\nepochs = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n")),
    ("fifo", _fifo),
    ("folder", _folder),
    ("symlink-loop", _loop),
    ("dev-null", lambda folder: Path("/dev/null")),
    ("missing", lambda folder: folder / "nope.toml"),
    ("huge-48MB", _huge),
]


def channel_answers(p: Probe, tally: Tally) -> None:
    # the first cases of the list are spread over the families for --quick
    order = ANSWERS[::3] + ANSWERS[1::3] + ANSWERS[2::3]
    cases = p.select(order, p.sizes["answers"])
    projects: dict[str, tuple[Path, str]] = {}
    lock = threading.Lock()

    def case(label: str, make: Callable[[Path], Path]) -> Verdict:
        cwd = p.fresh("answers")
        source = make(cwd)
        before = snapshot(cwd)
        run = p.cli(
            ["new", "--from", str(source), "proj"], cwd=cwd, timeout=p.runner.cli_timeout * 2
        )
        found = refusal(run)
        if found is not None:
            changed, added = diff(before, snapshot(cwd))
            if found.outcome == "refused" and (changed or added):
                return Verdict("unsafe", f"refused but changed {short(changed + added, 60)}")
            return found
        verdict, package = check_project(p, cwd / "proj", everything=True)
        if package is not None:
            with lock:
                projects[label] = (cwd / "proj", package)
        return verdict or ACCEPTED

    verdicts = p.map(tally, case, cases, add=False)
    problems = import_projects(p, projects, p.fresh("import-cwd"))
    marks = marker_verdicts(p.root, {label: label for label, _ in cases})
    for label, _ in cases:
        if label in verdicts:
            late = Verdict("other", problems[label]) if label in problems else None
            tally.add(label, worst(marks.get(label), verdicts[label], late))
