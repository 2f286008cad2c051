"""Tokens of a REPL input line, for syntax highlighting and "did you mean".

The REPL needs to know what each part of a line is while it is typed: a
`:command` and its argument, or query syntax (field prefixes, phrases,
boolean operators, negations, wildcards, ranges). This scanner is forgiving
on purpose: it runs on every key press over half-typed text, so it never
raises and an unterminated phrase or range simply runs to the end of the
line. It only colours and classifies; the real parsing stays in
`search.query` so the REPL cannot drift from the `query` command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: token kinds (also the style class names, prefixed with "q-")
WORD = "word"
FIELD = "field"  # `provider:` (the name and its colon)
VALUE = "value"  # what follows a field prefix
PHRASE = "phrase"
OPERATOR = "operator"  # AND OR NOT ANDNOT ANDMAYBE TO, boosts and fuzziness
NEGATION = "negation"  # the `-` / `!` / `NOT`-prefixed term's sign
WILDCARD = "wildcard"
RANGE = "range"
PAREN = "paren"
SPACE = "space"
COMMAND = "command"  # `:name`
UNKNOWN_COMMAND = "unknown-command"
ARGUMENT = "argument"

OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"})


@dataclass(frozen=True)
class Token:
    kind: str
    start: int
    end: int
    text: str


_FIELD = re.compile(r"([^\W\d][\w.]*):")
_WORD = re.compile(r"[^\s()\"\[\]{}]+")


def _closing(text: str, pos: int, opener: str) -> int:
    """Index just past the closer of the group opened at `pos` (or the end)."""
    closers = {'"': '"', "[": "]}", "{": "}]"}[opener]
    for i in range(pos + 1, len(text)):
        if text[i] in closers:
            return i + 1
    return len(text)


def tokenize_query(text: str) -> list[Token]:
    """Split query text into classified tokens covering every character."""
    tokens: list[Token] = []
    i, n = 0, len(text)

    def add(kind: str, start: int, end: int) -> None:
        tokens.append(Token(kind, start, end, text[start:end]))

    while i < n:
        ch = text[i]
        if ch.isspace():
            j = i
            while j < n and text[j].isspace():
                j += 1
            add(SPACE, i, j)
            i = j
            continue
        if ch in "()":
            add(PAREN, i, i + 1)
            i += 1
            continue
        if ch == '"':
            j = _closing(text, i, '"')
            add(PHRASE, i, j)
            i = j
            continue
        if ch in "[{":
            j = _closing(text, i, ch)
            add(RANGE, i, j)
            i = j
            continue
        if ch in "-!+" and i + 1 < n and not text[i + 1].isspace():
            # `-term` excludes, `+term` requires; only the sign is coloured
            # differently so the term itself keeps its own colour
            add(NEGATION if ch != "+" else OPERATOR, i, i + 1)
            i += 1
            continue
        field = _FIELD.match(text, i)
        if field:
            add(FIELD, i, field.end())
            i = field.end()
            if i < n and text[i] == '"':
                j = _closing(text, i, '"')
            elif i < n and text[i] in "[{":
                j = _closing(text, i, text[i])
            else:
                m = _WORD.match(text, i)
                j = m.end() if m else i
            if j > i:
                add(VALUE, i, j)
            i = j
            continue
        m = _WORD.match(text, i)
        if not m:  # a stray closer such as `]`
            add(WORD, i, i + 1)
            i += 1
            continue
        word = m.group(0)
        if word == "NOT":
            kind = NEGATION
        elif word in OPERATORS:
            kind = OPERATOR
        elif any(c in word for c in "*?"):
            kind = WILDCARD
        elif re.fullmatch(r"[\^~][\d.]*", word):
            kind = OPERATOR
        else:
            kind = WORD
        add(kind, i, m.end())
        i = m.end()
    return tokens


def split_command(text: str) -> tuple[str, str] | None:
    """`:name rest` → (name, rest) for a command line, else None."""
    stripped = text.lstrip()
    if not stripped.startswith(":"):
        return None
    body = stripped[1:]
    name, _, rest = body.partition(" ")
    return name, rest.strip()


def tokenize_line(text: str, is_command: Callable[[str], bool] | None = None) -> list[Token]:
    """Tokens of a whole REPL line: a command line or a query."""
    stripped = text.lstrip()
    if not stripped.startswith(":"):
        return tokenize_query(text)
    lead = len(text) - len(stripped)
    tokens = [Token(SPACE, 0, lead, text[:lead])] if lead else []
    m = re.match(r":\S*", stripped)
    assert m is not None  # the line starts with ':'
    end = lead + m.end()
    name = m.group(0)[1:]
    known = is_command(name) if is_command else True
    tokens.append(Token(COMMAND if known or not name else UNKNOWN_COMMAND, lead, end, text[lead:end]))
    if end < len(text):
        tokens.append(Token(ARGUMENT, end, len(text), text[end:]))
    return tokens


# ----------------------------------------------------------------- prompt_toolkit


#: colours of the token kinds; kept mild so they read on dark and light themes
STYLE_RULES = {
    "q-field": "ansicyan bold",
    "q-value": "ansigreen",
    "q-phrase": "ansiyellow",
    "q-operator": "ansimagenta bold",
    "q-negation": "ansired bold",
    "q-wildcard": "ansiblue",
    "q-range": "ansigreen",
    "q-paren": "bold",
    "q-command": "ansicyan bold",
    "q-unknown-command": "ansired",
    "q-argument": "",
}


def make_lexer(is_command: Callable[[str], bool] | None = None) -> Any:
    """A prompt_toolkit Lexer over `tokenize_line` (imported lazily so the
    module stays importable, and cheap, without a terminal)."""
    from prompt_toolkit.document import Document
    from prompt_toolkit.lexers import Lexer

    class QueryLexer(Lexer):
        def lex_document(self, document: Document) -> Callable[[int], list[tuple[str, str]]]:
            lines = document.lines

            def get_line(lineno: int) -> list[tuple[str, str]]:
                try:
                    line = lines[lineno]
                except IndexError:
                    return []
                return [
                    ("" if t.kind in (SPACE, WORD) else f"class:q-{t.kind}", t.text)
                    for t in tokenize_line(line, is_command)
                ]

            return get_line

    return QueryLexer()
