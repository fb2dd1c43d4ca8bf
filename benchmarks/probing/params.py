"""Channel 1: junk parameter values."""

from __future__ import annotations

import itertools
import random
import re
import string
from typing import Any

from probing.common import ACCEPTED, Tally, Verdict, refusal
from probing.context import Probe
from probing.files import str_constants, structure

# --- 1. junk parameter values ------------------------------------------------------------------

JUNK = [
    "",
    " ",
    "\t",
    "   \n ",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1e999",
    "1e308",
    "1e-400",
    "9" * 30,
    "-" + "9" * 25,
    "9" * 400,
    "1" * 5000,
    "x" * 5000,
    "١٢",
    "٣.٥",
    "１２",
    "1\u200b",
    "\u202e1",
    "'",
    '"',
    "'''",
    '"""',
    "'; import os; '",
    '"); __import__("os").system("id"); ("',
    "\\",
    "\\n",
    "a\nb",
    "\n",
    "\r\n",
    "1\r",
    "\x01",
    "\x1b[31m",
    "\u2028",
    "\u2029",
    "\x85",
    "\udcff\udcfe",
    "{{ 7*7 }}",
    "{% raw %}",
    "{#",
    "{{ ''.__class__.__mro__ }}",
    "__import__('os')",
    "eval('1')",
    "lambda: 0",
    "[1, 2]",
    "(1)",
    "1 + 1",
    "1/2",
    "$(rm -rf /)",
    "`id`",
    "; rm -rf ~",
    "| cat /etc/passwd",
    "../../etc/passwd",
    "0x10",
    "0b11",
    "1_000",
    "1e",
    ".",
    "+",
    "1,",
    ",1",
    "1,,2",
    "🙂",
    "true false",
    "None",
    "null",
    "[]",
    "{}",
    "--help",
    "-o",
    "--force",
    "=",
    "-1",
    "+1",
    " 1 ",
    "01",
    "1.0",
    "0.5e1",
    "-0",
    "all\n",
    "a.b-c",
    "x#y",
    "\\N{BULLET}",
    "%(prog)s",
    "%s",
]
_POOLS = [
    string.ascii_letters,
    string.digits,
    string.punctuation,
    " \t",
    "".join(map(chr, range(1, 32))) + "\x7f",
    "éß中文ÿ",
    "\u2028\u2029\u200b\u202e\ufeff\x85",
    "🙂",
    "١٢３",
    "\udcff\udc80",
]
_TOKENS = [
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "'''",
    '"""',
    "\\",
    "\n",
    "\r\n",
    "__import__('os')",
    "$(id)",
    "`id`",
    "; rm -rf ~",
    "#",
    "\\N{BULLET}",
    "1e",
    "nan",
    "inf",
    "9" * 25,
    "-",
    "0x",
    "_",
    ",",
    ".",
    "=",
    "--",
    "0",
    "1",
    "all",
]


def random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 6)):
        if rng.random() < 0.35:
            parts.append(rng.choice(_TOKENS))
        else:
            pool = rng.choice(_POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
    return "".join(parts)


def value_args(name: str, value: str) -> list[str]:
    return [f"--{name}={value}"] if value.startswith("-") else [f"--{name}", value]


_FLOAT = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def _plain(kind: str, t: str) -> str | None:
    """The plain spelling of a stripped int, float or bool text, or None."""
    if kind == "int" and re.fullmatch(r"[+-]?[0-9]+", t):
        return str(int(t))
    if kind == "float" and re.fullmatch(_FLOAT, t):
        return repr(float(t))
    if kind == "bool" and t.lower() in _TRUE | _FALSE:
        return "true" if t.lower() in _TRUE else "false"
    return None


def canonical(param: dict[str, Any], text: str) -> str | None:
    """The plain spelling of an accepted non-str value (" 7" -> "7"), or None if none is."""
    kind = param["type"]
    try:
        if kind == "choice":
            return text if text in param.get("choices", []) else None
        if kind in ("int_list", "float_list"):
            parts = [canonical({"type": kind[:-5]}, p) for p in text.split(",")]
            return None if None in parts else ",".join(p for p in parts if p is not None)
        return _plain(kind, text.strip())
    except (ValueError, OverflowError):
        return None


def channel_junk(p: Probe, tally: Tally) -> None:
    rng = p.rng("junk")
    pool = list(JUNK)
    rng.shuffle(pool)
    listed = itertools.cycle(pool)
    per = p.sizes["junk_per_param"]
    cases: list[tuple[str, str, dict[str, Any], str]] = []
    for recipe in p.catalog():
        for param in recipe["params"]:
            for i in range(per):
                value = next(listed) if (len(cases) + i) % 2 == 0 else random_text(rng)
                cases.append(
                    (f"{recipe['name']} --{param['name']} {value!r}", recipe["name"], param, value)
                )

    def tame(recipe: str, param: dict[str, Any]) -> set[str | None]:
        def make() -> set[str | None]:
            shapes = {structure(p.render_ref(recipe).out)}
            for candidate in ("x", "0", "a1", "abc", "model_x"):
                if candidate == param["default"]:
                    continue
                run = p.render_ref(recipe, (f"--{param['name']}", candidate))
                if run.rc == 0:
                    shapes.add(structure(run.out))
                    break
            return shapes

        return p.memo(("tame", recipe, param["name"]), make)

    def case(label: str, recipe: str, param: dict[str, Any], value: str) -> Verdict:
        run = p.cli(["render", recipe, *value_args(param["name"], value)])
        found = refusal(run)
        if found is not None:
            return found
        shape = structure(run.out)
        if shape is None:
            return Verdict("unsafe", "accepted, and the output is not valid Python")
        if param["type"] == "str":
            if shape not in tame(recipe, param):
                return Verdict("unsafe", "accepted, and the program changed beyond string literals")
            if value not in str_constants(run.out):
                return Verdict(
                    "other", "accepted, but the value is not in the code as a string literal"
                )
            return ACCEPTED
        plain = canonical(param, value)
        if plain is None:
            return Verdict("other", f"accepted {value!r}, which is no plain {param['type']}")
        ref = p.render_ref(recipe, (f"--{param['name']}={plain}",))
        if ref.rc != 0 or structure(ref.out) != shape:
            return Verdict(
                "unsafe", f"accepted, and the program differs from the one for {plain!r}"
            )
        return ACCEPTED

    p.map(tally, case, p.select(cases))
