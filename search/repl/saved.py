"""Saved searches: a query with its filters and sort, under a name.

They live in one TOML file, `$XDG_DATA_HOME/search/saved.toml` (by default
`~/.local/share/search/saved.toml`), one table per search, meant to be read
and edited by hand as well:

    [arcwatch]
    query = "azure arc"
    providers = ["Microsoft"]
    topics = []
    since = "30d"
    until = ""
    sort = "newest"

Dates are kept as typed, so `since = "30d"` always means the last 30 days.
The REPL writes the file (`:save NAME`) and reads it (`:saved`, `:load
NAME`); `search query --saved NAME` runs one from a script.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..durable import atomic_write
from ..errors import UsageError
from ..query import Filters, parse_date_bound
from ..searcher import SORTS

#: a saved search's name: a TOML bare key, easy to type after :load
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
HEADER = ("# Saved searches of `search` (`:save NAME` in `search repl`, "
          "`search query --saved NAME` in scripts).\n"
          "# One table per search; edit freely. Dates may be relative (7d, 2w, last month).\n")


@dataclass(frozen=True)
class SavedSearch:
    name: str
    query: str
    providers: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    since: str = ""  # as typed: a relative date stays relative
    until: str = ""
    sort: str = "relevance"

    def filters(self) -> Filters:
        """The filters, dates read relative to today. Raises UsageError for a bad date."""
        since = parse_date_bound(self.since) if self.since else None
        until = parse_date_bound(self.until, end=True) if self.until else None
        return Filters(providers=self.providers, topics=self.topics, since=since, until=until)

    def describe(self) -> str:
        parts = [f"query {self.query!r}"]
        if self.providers:
            parts.append("provider=" + "|".join(self.providers))
        if self.topics:
            parts.append("topic=" + "|".join(self.topics))
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        if self.sort != "relevance":
            parts.append(f"sorted by {self.sort}")
        return ", ".join(parts)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UsageError(f"bad name {name!r}: use letters, digits, '-' and '_' (up to 64), "
                         "starting with a letter or digit")
    return name


def _toml_string(text: str) -> str:
    # a JSON string is a valid TOML basic string, but for DEL, which TOML
    # wants escaped; non-ASCII stays as it is (TOML files are UTF-8)
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_toml_string(v) for v in values) + "]"


def dumps(searches: list[SavedSearch]) -> str:
    """The file's text for these searches."""
    out = [HEADER]
    for s in searches:
        out.append(f"\n[{s.name}]\nquery = {_toml_string(s.query)}\n"
                   f"providers = {_toml_list(s.providers)}\ntopics = {_toml_list(s.topics)}\n"
                   f"since = {_toml_string(s.since)}\nuntil = {_toml_string(s.until)}\n"
                   f"sort = {_toml_string(s.sort)}\n")
    return "".join(out)


class SavedSearches:
    """The saved-searches file at `path` (None: saving is not possible)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def all(self) -> list[SavedSearch]:
        """Every saved search, in file order. Raises UsageError naming the
        file when it cannot be read or an entry makes no sense."""
        if self.path is None:
            return []
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot read saved searches: {exc.strerror or exc}") from None
        from ..config import toml_module

        toml = toml_module()
        try:
            data = toml.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, toml.TOMLDecodeError) as exc:
            raise UsageError(f"{self.path}: not a valid saved-searches file: {exc}") from None
        return [self._entry(name, value) for name, value in data.items()]

    def _entry(self, name: str, value: Any) -> SavedSearch:
        where = f"{self.path}: [{name}]"
        if not isinstance(value, dict) or not NAME.fullmatch(name):
            raise UsageError(f"{where}: not a saved search (a table named with letters, digits, - or _)")

        def text(key: str, default: str = "") -> str:
            got = value.get(key, default)
            if not isinstance(got, str):
                raise UsageError(f"{where}: {key} must be a string")
            return got

        def texts(key: str) -> tuple[str, ...]:
            got = value.get(key, [])
            if not isinstance(got, list) or not all(isinstance(v, str) for v in got):
                raise UsageError(f"{where}: {key} must be a list of strings")
            return tuple(got)

        sort = text("sort", "relevance")
        if sort not in SORTS:
            raise UsageError(f"{where}: sort must be one of {', '.join(SORTS)}")
        return SavedSearch(name, text("query", "*") or "*", texts("providers"), texts("topics"),
                           text("since"), text("until"), sort)

    def get(self, name: str) -> SavedSearch:
        for s in self.all():
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.all())
        raise UsageError(f"no saved search named {name!r}" + (f" (saved: {known})" if known else
                                                                " (none saved yet: :save NAME)"))

    def put(self, search: SavedSearch) -> bool:
        """Save (or replace) a search; True when one of that name was replaced.
        The file is rewritten whole, through a temporary file beside it."""
        if self.path is None:
            raise UsageError("saved searches need a home folder (set HOME or XDG_DATA_HOME)")
        searches = self.all()
        replaced = any(s.name == search.name for s in searches)
        searches = [search if s.name == search.name else s for s in searches]
        if not replaced:
            searches.append(search)
        text = dumps(searches)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            body = text.encode("utf-8")
            atomic_write(self.path, lambda fh: fh.write(body), prefix=".saved.", mode=0o600)
        except (OSError, UnicodeEncodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise UsageError(f"{self.path}: cannot save: {reason}") from None
        return replaced
