"""Context-aware completion for the REPL.

What is offered depends on where the cursor is:

- after `:` at the start of the line: command names (with their help);
- after `:provider ` / `:topic `: provider / topic names from the index;
  after `:sort `, `:facets `, `:help `, `:view `, `:live `: their choices;
  after `:since ` / `:until `: relative dates and the index's years;
  after `:load ` / `:save `: saved search names; after `:export `: paths;
- in a query, after `provider:` (or its aliases `source:`, `site:`) and
  `topic:` / `topics:` (aliases `tag:`, `tags:`): names from the index;
  after `year:`: years;
- on a bare word in a query: field names (`title:`, `provider:` …).

Index values are inserted quoted when they hold anything but word
characters, so `The Guardian` becomes `"The Guardian"` and the query
parser reads it as one value. The values come from a callable (the
controller's cached `values`), so this module never touches the index and
tests can feed it plain lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from ..output import escape_control
from ..query import FIELD_ALIASES, QUERY_FIELDS
from ..searcher import FACETS, SORTS
from .commands import ALIASES, COMMANDS, resolve_command

#: query field name (as typed) → the facet whose values complete it
VALUE_FIELDS = {"provider": "provider", "topic": "topic", "topics": "topic", "year": "year"}
for _field, _aliases in FIELD_ALIASES.items():
    if _field in VALUE_FIELDS:
        for _alias in _aliases:
            VALUE_FIELDS[_alias] = VALUE_FIELDS[_field]

#: most values offered at once: a menu of thousands helps nobody
MAX_VALUES = 200

_FIELD_VALUE = re.compile(r'(?:^|[\s(+\-!])([A-Za-z_][\w.]*):("?)([^"]*)$')
_BARE_FIELD_VALUE = re.compile(r'(?:^|[\s(+\-!])([A-Za-z_][\w.]*):(\S*)$')
_WORD = re.compile(r"(?:^|(?<=[\s(+\-!]))([A-Za-z_]\w*)$")
_PLAIN = re.compile(r"[\w.&'-]+")

ValuesFn = Callable[[str], Sequence[Any]]  # facet name → [FacetValue(value, count)]

#: relative dates offered after :since / :until (any count works: 10d, 6w…)
RELATIVE_DATES = ("today", "yesterday", "7d", "30d", "2w", "3m", "1y", "last week", "last month")


def quote_value(value: str) -> str:
    """A value as the query parser needs it: quoted unless it is one plain word."""
    return value if _PLAIN.fullmatch(value) and "'" not in value else f'"{value}"'


def _matching(values: Iterable[Any], typed: str) -> list[Any]:
    """Values starting with `typed` (any case), then values containing it."""
    folded = typed.casefold()
    starts, contains = [], []
    for v in values:
        label = str(v.value).casefold()
        if label.startswith(folded):
            starts.append(v)
        elif len(folded) >= 2 and folded in label:
            contains.append(v)
    return (starts + contains)[:MAX_VALUES]


class ReplCompleter(Completer):
    """The REPL's completer; `values(name)` lists a facet's values (most
    common first) and may raise when there is no index yet."""

    def __init__(self, values: ValuesFn, saved: Callable[[], Sequence[str]] = lambda: ()) -> None:
        self._values = values
        self._saved = saved
        self._paths = PathCompleter(expanduser=True)

    def _facet_values(self, name: str) -> Sequence[Any]:
        try:
            return self._values(name)
        except Exception:  # noqa: BLE001 - no index or a broken one: complete nothing
            return ()

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        before = document.text_before_cursor
        stripped = before.lstrip()
        if stripped.startswith(":"):
            yield from self._command(stripped[1:], complete_event)
        elif before.count('"') % 2 == 0 or _FIELD_VALUE.search(before):
            yield from self._query(before)

    # -- commands

    def _command(self, body: str, event: CompleteEvent) -> Iterable[Completion]:
        name, space, arg = body.partition(" ")
        if not space:
            folded = name.lower()
            for command in COMMANDS:
                if command.name.startswith(folded):
                    yield Completion(command.name, -len(name), display=":" + command.name,
                                     display_meta=command.help)
            return
        command = resolve_command(name)
        arg = arg.lstrip()
        if command in ("provider", "topic"):
            yield from self._values_for(command, arg.lstrip("\"'"), len(arg))
        elif command == "sort":
            yield from self._choices(SORTS, arg)
        elif command == "facets":
            yield from self._choices(FACETS, arg)
        elif command == "help":
            yield from self._choices([c.name for c in COMMANDS] + list(ALIASES), arg)
        elif command == "view":
            yield from self._choices(("full", "compact"), arg)
        elif command == "live":
            yield from self._choices(("on", "off"), arg)
        elif command in ("since", "until"):
            years = sorted((str(v.value) for v in self._facet_values("year")), reverse=True)
            yield from self._choices([*RELATIVE_DATES, *years], arg)
        elif command in ("load", "save"):
            try:
                names = list(self._saved())
            except Exception:  # noqa: BLE001 - a broken file completes nothing
                names = []
            yield from self._choices(names, arg, fold=False)
        elif command == "export":
            if arg.startswith("-") or not arg:
                yield from self._choices(("--force",), arg)
            path = arg.removeprefix("--force").lstrip()
            if not path.startswith("-"):
                yield from self._paths.get_completions(Document(path, len(path)), event)

    @staticmethod
    def _choices(choices: Iterable[str], typed: str, fold: bool = True) -> Iterable[Completion]:
        for choice in choices:
            if choice.startswith(typed.lower() if fold else typed):
                yield Completion(choice, -len(typed))

    # -- queries

    def _query(self, before: str) -> Iterable[Completion]:
        m = _FIELD_VALUE.search(before)
        if m and m.group(2):  # provider:"The Gu
            facet = VALUE_FIELDS.get(m.group(1).lower())
            if facet:
                typed = m.group(3)
                yield from self._values_for(facet, typed, len(typed) + 1)
            return
        m = _BARE_FIELD_VALUE.search(before)
        if m:  # provider:Micro
            facet = VALUE_FIELDS.get(m.group(1).lower())
            if facet:
                yield from self._values_for(facet, m.group(2), len(m.group(2)))
            return
        m = _WORD.search(before)
        if m:
            word = m.group(1)
            for name in QUERY_FIELDS:
                if name.startswith(word.lower()) and name != word.lower():
                    yield Completion(name + ":", -len(word), display_meta="field")

    def _values_for(self, facet: str, typed: str, replace: int) -> Iterable[Completion]:
        """Facet values matching `typed`, replacing the last `replace`
        characters (the typed part, with its opening quote if any)."""
        for v in _matching(self._facet_values(facet), typed):
            label = str(v.value)
            if '"' in label:  # cannot be written inside a quoted value
                continue
            text = label if facet == "year" else quote_value(label)
            yield Completion(text, -replace, display=escape_control(label),
                             display_meta=f"{v.count} article{'s' * (v.count != 1)}")
