"""The hostile user recipes of channel 4."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# --- 4. hostile user recipes ---------------------------------------------------------------------

MACRO = "{% macro loss() %}\nloss = loss * 1.0\n{% endmacro %}\n"
SNIPPET_BODY = (
    '"""A probe snippet."""\n\n\ndef main():\n    print({EXPR})\n\n\n'
    'if __name__ == "__main__":\n    main()\n'
)


def meta(name: str, kind: str = "feature", /, blocks: str = "", **raw: str | None) -> str:
    """recipe.toml text; `raw` values are TOML source that replace a key's (None drops it);
    `blocks` ([[params]] tables) go at the end."""
    fields: dict[str, str | None] = {
        "name": f'"{name}"',
        "kind": f'"{kind}"',
        "title": '"Evil"',
        "summary": '"A hostile recipe."',
        "tags": '["probe"]',
    }
    if kind == "feature":
        fields["essential"] = '["loss"]'
    fields.update(raw)
    lines = [f"{key} = {value}" for key, value in fields.items() if value is not None]
    return "\n".join(lines) + "\n" + blocks


def param(**raw: str) -> str:
    base = {"name": '"x"', "type": '"int"', "default": "1", "help": '"a probe parameter"'}
    base.update(raw)
    return "\n[[params]]\n" + "\n".join(f"{k} = {v}" for k, v in base.items()) + "\n"


@dataclass
class Hostile:
    label: str
    files: dict[str, str | bytes | Callable[[Path], object]]  # relative path -> contents or maker
    render: list[str] | None  # the `render NAME ...` words, or None
    expect: str = "refuse"  # refuse | either
    path_value: Callable[[Path], str] | None = None  # SNIPPETGEN_PATH from the folder
    secret: bool = False  # the render must not contain the outside file's contents


def _snip(
    name: str, expr: str, blocks: str = ""
) -> dict[str, str | bytes | Callable[[Path], object]]:
    return {
        f"{name}/recipe.toml": meta(name, "snippet", blocks=blocks),
        f"{name}/snippet.py.j2": SNIPPET_BODY.replace("{EXPR}", expr),
    }


def _feat(
    name: str, toml: str | bytes, template: str | bytes = MACRO
) -> dict[str, str | bytes | Callable[[Path], object]]:
    return {f"{name}/recipe.toml": toml, f"{name}/feature.py.j2": template}


def _mkfifo(path: Path) -> None:
    os.mkfifo(path)


def _symlink(target: str) -> Callable[[Path], object]:
    return lambda path: path.symlink_to(target)


def _sparse(size: int) -> Callable[[Path], object]:
    def make(path: Path) -> None:
        with path.open("wb") as handle:
            handle.truncate(size)

    return make


def hostile_recipes() -> list[Hostile]:
    h: list[Hostile] = []
    # broken metadata, one field at a time
    broken_meta = {
        "toml-syntax": "name = \n",
        "name-int": meta("m", name="5"),
        "name-case": meta("m", name='"Bad_Name"'),
        "name-newline": meta("m", name='"m\\nx"'),
        "kind": meta("m", kind='"weird"'),
        "title-missing": meta("m", title=None),
        "summary-list": meta("m", summary='["x"]'),
        "tags-str": meta("m", tags='"x"'),
        "aliases-int": meta("m", aliases="[1]"),
        "unknown-key": meta("m", evil="1"),
        "params-int": meta("m", params="5"),
        "param-type": meta("m", blocks=param(type='"evil"')),
        "param-unknown-key": meta("m", blocks=param(evil="1")),
        "param-reserved": meta("m", blocks=param(name='"with"')),
        "param-script-flag": meta("m", blocks=param(name='"output-dir"')),
        "param-duplicate": meta("m", blocks=param() + param()),
        "param-choices-empty": meta(
            "m", blocks=param(type='"choice"', default='"a"', choices="[]")
        ),
        "param-min-str": meta("m", blocks=param(min='"a"')),
        "param-min-nan": meta("m", blocks=param(min="nan")),
        "param-default-range": meta("m", blocks=param(min="5")),
        "param-default-type": meta("m", blocks=param(default='"x"')),
        "param-max-length-str": meta(
            "m", blocks=param(type='"str"', default='"a"', max_length='"x"')
        ),
        "param-max-length-neg": meta(
            "m", blocks=param(type='"str"', default='"a"', max_length="-1")
        ),
        "param-exclusive-str": meta("m", blocks=param(min="0", min_exclusive='"false"')),
        "param-pattern-invalid": meta(
            "m", blocks=param(type='"str"', default='"a"', pattern='"("')
        ),
        "param-pattern-type": meta("m", blocks=param(type='"str"', default='"a"', pattern="5")),
        "requires-int": meta("m", requires="[1]"),
        "conflicts-str": meta("m", conflicts='"x"'),
        "conflicts-int": meta("m", conflicts="[{recipe = 1}]"),
        "related-int": meta("m", related="5"),
        "docs-int": meta("m", docs="1"),
        "docs-when-int": meta("m", docs="{when = 5}"),
        "order-str": meta("m", order='"x"'),
        "order-float": meta("m", order="inf"),
        "defaults-int": meta("m", defaults="1"),
        "essential-unknown": meta("m", essential='["nope"]'),
        "macro-not-slot": meta("m"),
    }
    for i, (label, toml) in enumerate(broken_meta.items()):
        name = f"evil-meta-{i}"
        template = (
            "{% macro evil() %}\nx = 1\n{% endmacro %}\n" if label == "macro-not-slot" else MACRO
        )
        h.append(
            Hostile(
                f"meta:{label}",
                _feat(name, toml.replace('"m"', f'"{name}"', 1), template),
                ["render", name],
            )
        )
    h += [
        Hostile(
            "file:catastrophic-default",
            _feat(
                "evil-redos",
                meta(
                    "evil-redos",
                    blocks=param(type='"str"', pattern='"(a+)+$"', default='"' + "a" * 40 + '!"'),
                ),
            ),
            ["render", "evil-redos"],
        ),
        Hostile(
            "file:catastrophic-value",
            _snip(
                "evil-redos-v",
                "{{ p.x }}",
                blocks=param(type='"str"', pattern='"(a+)+$"', default='"a"'),
            ),
            ["render", "evil-redos-v", "--x", "a" * 40 + "!"],
        ),
        Hostile(
            "file:recipe.toml-is-folder",
            {"evil-dir/recipe.toml/x": "", "evil-dir/feature.py.j2": MACRO},
            ["render", "evil-dir"],
        ),
        Hostile(
            "file:recipe.toml-fifo",
            {"evil-fifo/recipe.toml": _mkfifo, "evil-fifo/feature.py.j2": MACRO},
            ["render", "evil-fifo"],
        ),
        Hostile(
            "file:template-fifo",
            {"evil-tfifo/recipe.toml": meta("evil-tfifo"), "evil-tfifo/feature.py.j2": _mkfifo},
            ["render", "evil-tfifo"],
        ),
        Hostile(
            "file:toml-symlink-loop",
            {"evil-loop/recipe.toml": _symlink("recipe.toml"), "evil-loop/feature.py.j2": MACRO},
            ["render", "evil-loop"],
        ),
        Hostile(
            "file:toml-symlink-out",
            {"evil-out/recipe.toml": _symlink("/etc/hostname"), "evil-out/feature.py.j2": MACRO},
            ["render", "evil-out"],
        ),
        Hostile(
            "file:toml-not-utf8",
            _feat("evil-enc", b'name = "evil-enc\xff"\n'),
            ["render", "evil-enc"],
        ),
        Hostile(
            "file:template-not-utf8",
            _feat("evil-tenc", meta("evil-tenc"), b"\xff\xfe{% macro loss() %}"),
            ["render", "evil-tenc"],
        ),
        Hostile(
            "file:huge-toml",
            _feat("evil-big", meta("evil-big", summary='"' + "x" * (8 << 20) + '"')),
            ["render", "evil-big"],
            expect="either",
        ),
        Hostile(
            "file:huge-extra-file",
            {**_feat("evil-bigx", meta("evil-bigx")), "evil-bigx/data.bin": _sparse(256 << 20)},
            ["render", "evil-bigx"],
            expect="either",
        ),
        Hostile(
            "file:template-symlink-out",
            {
                "evil-tout/recipe.toml": meta("evil-tout"),
                "evil-tout/feature.py.j2": _symlink("../../outside.j2"),
            },
            ["render", "evil-tout"],
            expect="either",
        ),
        Hostile(
            "file:include-symlink-out",
            {
                "evil-inc/recipe.toml": meta("evil-inc", "snippet"),
                "evil-inc/snippet.py.j2": "{% include 'evil-inc/secret.j2' %}\n",
                "evil-inc/secret.j2": _symlink("../../outside-secret.txt"),
            },
            ["render", "evil-inc"],
            secret=True,
        ),
        Hostile(
            "jinja:syntax",
            _feat("evil-syn", meta("evil-syn"), "{% macro loss() %}{% if %}{% endmacro %}\n"),
            ["render", "evil-syn"],
        ),
        Hostile(
            "jinja:unbalanced",
            _feat("evil-unb", meta("evil-unb"), "{% macro loss() %}\n{% if x %}\n"),
            ["render", "evil-unb"],
        ),
        Hostile(
            "jinja:deep-if",
            {
                "evil-deep/recipe.toml": meta("evil-deep", "snippet"),
                "evil-deep/snippet.py.j2": "{% if true %}" * 1000
                + "x = 1\n"
                + "{% endif %}" * 1000,
            },
            ["render", "evil-deep"],
        ),
        Hostile(
            "jinja:deep-parens",
            _snip("evil-paren", "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"),
            ["render", "evil-paren"],
        ),
        Hostile(
            "jinja:deep-macro-recursion",
            {
                "evil-rec/recipe.toml": meta("evil-rec", "snippet"),
                "evil-rec/snippet.py.j2": "{% macro f() %}{{ f() }}{% endmacro %}x = {{ f() }}\n",
            },
            ["render", "evil-rec"],
        ),
        Hostile(
            "sandbox:mro",
            _snip("evil-mro", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
            ["render", "evil-mro"],
        ),
        Hostile(
            "sandbox:cycler-globals",
            _snip(
                "evil-cyc",
                "{{ cycler.__init__.__globals__.os.popen('touch PWNED-sandbox:cycler-globals') }}",
            ),
            ["render", "evil-cyc"],
        ),
        Hostile(
            "sandbox:lipsum-globals",
            _snip(
                "evil-lip",
                "{{ lipsum.__globals__['os'].popen('touch PWNED-sandbox:lipsum-globals').read() }}",
            ),
            ["render", "evil-lip"],
        ),
        Hostile(
            "sandbox:self-context",
            _snip("evil-self", "{{ self._TemplateReference__context }}"),
            ["render", "evil-self"],
        ),
        Hostile(
            "sandbox:format-string",
            _snip("evil-fmt", "{{ '{0.__class__.__mro__}'.format('') }}"),
            ["render", "evil-fmt"],
        ),
        Hostile(
            "sandbox:include-abs",
            _snip("evil-abs", "{% include '/etc/passwd' %}"),
            ["render", "evil-abs"],
        ),
        Hostile(
            "sandbox:include-dotdot",
            _snip("evil-dd", "{% include '../../../../../etc/passwd' %}"),
            ["render", "evil-dd"],
        ),
        Hostile(
            "sandbox:include-builtin",
            _snip("evil-cross", "{% include 'mixup/feature.py.j2' %}"),
            ["render", "evil-cross"],
        ),
        Hostile("sandbox:mutate", _snip("evil-mut", "{{ [].append(1) }}"), ["render", "evil-mut"]),
        Hostile("sandbox:pow", _snip("evil-pow", "{{ 9 ** (9 ** 9) }}"), ["render", "evil-pow"]),
        Hostile("sandbox:repeat", _snip("evil-rep", "{{ 'a' * 10 ** 9 }}"), ["render", "evil-rep"]),
        Hostile(
            "sandbox:range",
            _snip("evil-rng", "{% for i in range(10 ** 9) %}{% endfor %}1"),
            ["render", "evil-rng"],
        ),
        Hostile("sandbox:invalid-python", _snip("evil-py", "1)"), ["render", "evil-py"]),
        Hostile(
            "trusted:generates-os-system",
            _snip(
                "evil-sys", "__import__('os').system('touch PWNED-trusted-at-render-time') and 0"
            ),
            ["render", "evil-sys"],
            expect="either",
        ),
        Hostile(
            "sandbox:nested-loops",
            _snip(
                "evil-loops",
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}1",
            ),
            ["render", "evil-loops"],
        ),
    ]
    for label, value in [
        ("file", lambda r: str(r / "afile")),
        ("fifo", lambda r: str(r / "afifo")),
        ("missing", lambda r: str(r / "missing")),
        ("empty-entries", lambda r: "::::"),
        ("relative", lambda r: "."),
        ("non-utf8", lambda r: str(r / "\udcff")),
        ("very-long", lambda r: "/" + "x" * 5000),
        ("newline", lambda r: str(r / "a\nb")),
        ("slash", lambda r: "/"),
        ("dev-null", lambda r: "/dev/null"),
    ]:
        h.append(
            Hostile(
                f"path:{label}",
                {"afile": "x", "afifo": _mkfifo, "a\nb/evil-nl/recipe.toml": "="},
                None,
                expect="either",
                path_value=value,
            )
        )
    return h
