"""Outside text made inert for each kind of generated file.

Folder names, paths, the echoed command line, answers-file values and recipe metadata
reach generated files only through these functions, each of which returns text that
cannot change the structure of the file it lands in:

- :func:`escape`: one printable line (line breaks, control and format characters written
  as Python-style escapes), for comments, Markdown headings and messages;
- :func:`comment`: a Python comment that stays one line for the tokenizer, for
  ``str.splitlines`` and for black;
- :func:`shell_word`: a word a POSIX shell (``$'...'`` for bash and zsh when it holds a
  non-printable character) reads back as the same word, always on one printable line;
- :func:`toml_string`: a TOML basic string;
- :func:`docstring`: a triple-quoted Python literal black leaves as it is.

"Printable" is ``str.isprintable``: it excludes every character Python's tokenizer or
``str.splitlines`` treat as a line break (``\\n``, ``\\r``, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``,
``\\x85``, ``\\u2028``, ``\\u2029``), the other control and format characters, separators
other than the space, and the lone surrogates that stand for undecodable bytes of a file name.
"""

from __future__ import annotations

import shlex

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _code_escape(ch: str, *, short: bool = True) -> str:
    if short and ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    if code < 0x80 or (short and code < 0x100):
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(text: str) -> str:
    """``text`` as one printable line: each non-printable character becomes its escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _code_escape(ch) for ch in text)


def comment(text: str) -> str:
    """A one-line Python comment holding ``text`` (escaped where it is not printable)."""
    return "# " + escape(text)


def shell_word(word: str) -> str:
    """``word`` quoted for a shell, on one printable line.

    Printable words get ``shlex.quote`` (any POSIX shell). A word with a line break or another
    non-printable character gets ANSI-C quoting, ``$'...'`` (bash, zsh, ksh): the shell reads
    the escapes back into the same characters, and a lone surrogate (an undecodable byte of a
    file name, as Python decodes it) back into that byte.
    """
    if word.isprintable():
        return shlex.quote(word)
    out = []
    for ch in word:
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:  # \u and \U stand for characters (encoded in UTF-8); \x for single bytes
            out.append(_code_escape(ch, short=ch in _SHORT))
    return "$'" + "".join(out) + "'"


def toml_string(text: str) -> str:
    """A TOML basic string that ``tomllib`` reads back as ``text``.

    A lone surrogate, which no TOML file can hold, becomes U+FFFD.
    """
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif "\ud800" <= ch <= "\udfff":
            out.append("\\ufffd")
        else:
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out) + '"'


def docstring(text: str) -> str:
    """A triple-quoted literal of ``text`` (line breaks kept), ``ast.literal_eval``-exact.

    Backslashes and non-printable characters are escaped, and so is every double quote that
    starts or ends the text or stands beside another one: no ``\"\"\"`` can end it early.
    Black leaves such a literal as it is when ``text`` neither starts nor ends with
    whitespace and its lines have no trailing whitespace (the callers' texts).
    """
    last = len(text) - 1
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"' and (i in (0, last) or text[i + 1] == '"'):
            out.append('\\"')
        elif ch == "\n" or ch.isprintable():
            out.append(ch)
        else:
            out.append(_code_escape(ch))
    return '"""' + "".join(out) + '"""'
