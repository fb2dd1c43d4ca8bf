"""What a piece of generated Python names and calls, read from its syntax tree (never from
comments or strings), for tests that check a snippet uses the right API."""

from __future__ import annotations

import ast


def called_names(code: str) -> set[str]:
    """Names of every function or method the code calls (x.storage() gives 'storage')."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def code_only(code: str) -> str:
    """The source without comments and docstrings (which may quote a seed's bad line)."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            first.value.value = ""
    return ast.unparse(tree)


def keyword_names(code: str) -> set[str]:
    return {
        kw.arg
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call)
        for kw in node.keywords
    }


def code_names(code: str) -> set[str]:
    """Every identifier, attribute and keyword-argument name in the code (not in comments)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.name)
    return names


def top_level_names(code: str) -> set[str]:
    """The functions and classes a module defines at its top level."""
    return {
        node.name
        for node in ast.parse(code).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }
