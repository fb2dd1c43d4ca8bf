"""Python code as highlighted HTML (Pygments), for the recipe pages and the composer's preview."""

from __future__ import annotations

from typing import Any


def code_html(code: str) -> str:
    """Python code as highlighted HTML (Pygments escapes every character it is given).

    Keywords, strings, comments, numbers, builtins and the names a def or class introduces
    are coloured; plain names and punctuation are left as text, which keeps a preview's HTML
    under half the size of colouring every token. A span never crosses a line break, so the
    HTML's lines are the code's lines (the first also opens the block, the last closes it)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    lexer = PythonLexer()
    lexer.add_filter(_plain_filter())
    return str(highlight(code, lexer, HtmlFormatter(cssclass="code")))


def _plain_filter() -> Any:
    from pygments.filter import Filter
    from pygments.token import Name, Operator, Punctuation, Text, Token

    coloured = (Name.Builtin, Name.Function, Name.Class, Name.Decorator, Name.Exception)

    class Plain(Filter):
        def filter(self, lexer: Any, stream: Any) -> Any:
            for kind, value in stream:
                plain = (
                    (kind in Name and not any(kind in c for c in coloured))
                    or kind in Punctuation
                    or (kind in Operator and kind not in Operator.Word)
                    or kind in Text
                )
                yield (Token.Text if plain else kind), value

    return Plain()


def code_css() -> str:
    """The style sheet of code_html's classes."""
    from pygments.formatters import HtmlFormatter

    return str(HtmlFormatter(cssclass="code").get_style_defs(".code"))
