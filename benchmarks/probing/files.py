"""What the probe compares: file snapshots, program structure with strings blanked, marker
files, and the checks of a run folder."""

from __future__ import annotations

import ast
import json
import stat
from pathlib import Path
from typing import Any

from probing.common import short

# --- file snapshots, ASTs -------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry below `folder` (not following links): type, size and contents, or link target
    (times are left out: rewriting a file with the same bytes loses nothing)."""
    out: dict[str, tuple[Any, ...]] = {}
    if not folder.exists():
        return out
    for path in sorted(folder.rglob("*")):
        if path.name == ".lock":  # the run lock: each run rewrites it with its pid
            continue
        st = path.lstat()
        rel = str(path.relative_to(folder))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", str(path.readlink()))
        elif stat.S_ISREG(st.st_mode):
            out[rel] = ("file", st.st_size, path.read_bytes() if st.st_size < 1 << 24 else b"")
        else:
            out[rel] = (stat.S_IFMT(st.st_mode), st.st_mode)
    return out


def appended(old: tuple[Any, ...], new: tuple[Any, ...] | None) -> bool:
    """Whether a snapshot entry only grew (a file whose old bytes are a prefix of its new)."""
    return (
        new is not None
        and old[0] == new[0] == "file"
        and isinstance(new[2], bytes)
        and new[2].startswith(old[2])
    )


def diff(
    before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]
) -> tuple[list[str], list[str]]:
    """(entries changed or removed, entries added)."""
    changed = [k for k in before if after.get(k) != before[k]]
    added = [k for k in after if k not in before]
    return changed, added


class _Blank(ast.NodeTransformer):
    def __init__(self, everything: bool, package: str | None) -> None:
        self.everything = everything
        self.package = package

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str) or (self.everything and node.value is not None):
            return ast.Constant(type(node.value).__name__)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        if self.package and node.module and node.module.split(".")[0] == self.package:
            node.module = "PKG" + node.module[len(self.package) :]
        return node


def structure(
    code: str | bytes, *, everything: bool = False, package: str | None = None
) -> str | None:
    """The AST with string constants (or every constant) blanked; None if it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    return ast.dump(_Blank(everything, package).visit(tree))


def str_constants(code: str | bytes) -> set[str]:
    return {
        n.value
        for n in ast.walk(ast.parse(code))
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def markers(root: Path) -> list[Path]:
    return [p for p in root.rglob("PWNED*")]


def payload(tag: str) -> str:
    """Python that creates the marker file PWNED-<tag> in the working folder if it ever runs;
    without quotes or spaces, so that no quoting on the way can defuse it."""
    code = ",".join(str(b) for b in f"PWNED-{tag}".encode())
    return f"open(bytes(({code})).decode(),chr(119))"


# --- checks of run folders ------------------------------------------------------------------------


def _torch() -> Any:
    import torch

    torch.set_num_threads(1)
    return torch


def load_pt(path: Path) -> Any:
    return _torch().load(path, map_location="cpu", weights_only=True)


def same_state(a: Path, b: Path) -> bool:
    torch = _torch()
    try:
        x, y = load_pt(a), load_pt(b)
    except Exception:
        return False
    return (
        isinstance(x, dict)
        and isinstance(y, dict)
        and x.keys() == y.keys()
        and all(torch.is_tensor(x[k]) and torch.equal(x[k], y[k]) for k in x)
    )


def metrics(folder: Path) -> list[dict[str, Any]] | None:
    """The records of metrics.jsonl; None when a line does not parse."""
    try:
        lines = (folder / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return None


def checkpoint_problem(path: Path) -> str | None:
    """Why a checkpoint file present after an interruption does not load as one, or None."""
    try:
        ck = load_pt(path)
    except Exception as exc:
        return f"{path.name} does not load ({type(exc).__name__}: {short(str(exc), 60)})"
    if not isinstance(ck, dict) or not {"model", "optimizer", "epoch"} <= ck.keys():
        return f"{path.name} lacks model/optimizer/epoch"
    return None


def run_matches(folder: Path, reference: Path, what: str = "the uninterrupted run") -> str | None:
    """Why a finished run folder differs from the reference run, or None."""
    got, want = metrics(folder), metrics(reference) or []
    if got is None:
        return "metrics.jsonl has a line that is not JSON"
    if [r.get("epoch") for r in got] != [r["epoch"] for r in want]:
        return f"metrics epochs {[r.get('epoch') for r in got]} instead of {[r['epoch'] for r in want]}"
    if got != want:
        return f"metrics differ from {what}'s"
    if not (folder / "model.pt").exists():
        return "no model.pt"
    if not same_state(folder / "model.pt", reference / "model.pt"):
        return f"model.pt differs from {what}'s"
    return None
