"""Checks every render must pass before it is shown: parse, names, black, stability."""

from __future__ import annotations

import ast
import builtins
import symtable

LINE_LENGTH = 88  # black's line length, which every render is formatted with
_BUILTINS = set(dir(builtins)) | {"__file__", "__name__", "__doc__", "__spec__", "__builtins__"}


class CodeProblem(ValueError):
    """Generated code that fails a check; the message says what and where."""


# Python's parser and compiler give up on deeply nested code with RecursionError (or, in
# the parser, MemoryError); black recurses over its syntax tree the same way.
_TOO_DEEP = "its expressions or blocks nest too deeply for Python's compiler"


def _walk(table: symtable.SymbolTable) -> list[symtable.SymbolTable]:
    out = [table]
    for child in table.get_children():
        out.extend(_walk(child))
    return out


def name_problems(source: str) -> list[str]:
    """Undefined names and unused imports, found with the compiler's own symbol tables."""
    top = symtable.symtable(source, "<generated>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    defined |= {s.get_name() for t in _walk(top) for s in t.get_symbols() if s.is_declared_global()}
    used_globals = _used_globals(top)
    problems = [
        f"undefined name {name!r}"
        for name in used_globals
        if name not in defined and name not in _BUILTINS
    ]
    for sym in top.get_symbols():
        if sym.is_imported() and sym.get_name() not in used_globals:
            if sym.get_name() != "annotations":
                problems.append(f"unused import {sym.get_name()!r}")
    return sorted(set(problems))


def _used_globals(top: symtable.SymbolTable) -> set[str]:
    """The global names the module reads: at its top level, or declared or found global
    in a function."""
    return {
        sym.get_name()
        for table in _walk(top)
        for sym in table.get_symbols()
        if sym.is_referenced() and (table is top or sym.is_global())
    }


def check_source(source: str) -> None:
    """Parse and name-check ``source``; raise CodeProblem on the first failure.

    The compiler's symbol-table pass parses the source itself, so one pass finds syntax
    errors and name problems alike.
    """
    try:
        problems = name_problems(source)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        raise CodeProblem(f"syntax error{where}: {exc.msg}") from None
    except ValueError as exc:  # e.g. a null byte in the source (a SyntaxError from 3.12)
        raise CodeProblem(f"it does not compile: {exc}") from None
    except (RecursionError, MemoryError):
        raise CodeProblem(_TOO_DEEP) from None
    if problems:
        raise CodeProblem("; ".join(problems))


def format_source(source: str) -> str:
    """Format with black and prove the result stable and equivalent."""
    import black

    mode = black.Mode(target_versions={black.TargetVersion.PY310}, line_length=LINE_LENGTH)
    try:
        formatted = black.format_str(source, mode=mode)
    except (RecursionError, MemoryError):
        raise CodeProblem(_TOO_DEEP) from None
    except Exception as exc:  # black raises several types for unparsable input
        raise CodeProblem(f"black could not format it: {exc}") from None
    if formatted == source:  # already black's fixed point: stable and unchanged by definition
        return formatted
    try:
        if black.format_str(formatted, mode=mode) != formatted:
            raise CodeProblem("black output is not stable")
        if ast.dump(ast.parse(formatted)) != ast.dump(ast.parse(source)):
            raise CodeProblem("black changed the meaning of the code")
    except (RecursionError, MemoryError):
        raise CodeProblem(_TOO_DEEP) from None
    return formatted


def verify(source: str) -> str:
    """Full check: returns black-formatted source that parses and has clean names.

    The names are checked once, before formatting: `format_source` proves the formatted
    code has the same AST, hence the same symbol tables.
    """
    check_source(source)
    return format_source(source)
