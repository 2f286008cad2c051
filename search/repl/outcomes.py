"""What the REPL controller returns: one plain data object per input line.

The renderer turns these into text and the session shows them; none of them
knows about the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..searcher import Hit, IndexStats, ResultPage
from .commands import Command
from .coverage import CoverageItem
from .saved import SavedSearch


@dataclass(frozen=True)
class Message:
    text: str
    error: bool = False
    #: the error's kind (SearchError.kind), so a script run can tell an
    #: unusable index from a bad line
    kind: str = ""


@dataclass(frozen=True)
class Suggestion:
    """A corrected query and how many hits it would find."""

    query: str
    total: int


@dataclass(frozen=True)
class SearchOutcome:
    page: ResultPage
    suggestion: Suggestion | None = None
    note: str = ""
    filters: str = ""  # the active filters, described, for a "no hits" hint
    #: the same query again (a filter, sort, view or page change): the
    #: session may draw it over the previous page instead of below it
    refine: bool = False
    compact: bool = False  # one line per hit
    everything: bool = False  # an explicit :limit: draw every hit of the page
    number: int = 1  # the page's number (pages before it + 1)


@dataclass(frozen=True)
class HelpOutcome:
    commands: tuple[Command, ...]
    detail: bool = False  # one command asked for: show its aliases too


@dataclass(frozen=True)
class StatsOutcome:
    stats: IndexStats


@dataclass(frozen=True)
class ArticleOutcome:
    hit: Hit
    article: Any | None  # documents.Article, or None when the file is unreadable
    problem: str = ""
    #: story members and related coverage, in the order shown
    coverage: tuple[CoverageItem, ...] = ()
    #: how the article is addressed: "3" (result 3) or "3.2" (item 2 of result 3's list)
    label: str = ""


@dataclass(frozen=True)
class StoryOutcome:
    """`:story N`: every article of result N's story, oldest first (`hit`
    among them); the others are numbered as in `:show N.M`."""

    hit: Hit
    members: tuple[Hit, ...]


@dataclass(frozen=True)
class LinkOutcome:
    """A related item that is not in the index: its title and URL."""

    label: str
    item: CoverageItem


@dataclass(frozen=True)
class OpenOutcome:
    url: str
    opened: bool


@dataclass(frozen=True)
class ExportOutcome:
    path: Path
    count: int
    format: str


@dataclass(frozen=True)
class ConfirmOutcome:
    """A question for the person at the terminal: on yes, run `yes_line`;
    without a terminal the answer is no and `refusal` is the error."""

    question: str
    yes_line: str
    refusal: str


@dataclass(frozen=True)
class SavedListOutcome:
    searches: tuple[SavedSearch, ...]
    path: Path | None


@dataclass(frozen=True)
class QuitOutcome:
    pass


@dataclass(frozen=True)
class NothingOutcome:
    pass


Outcome = (Message | SearchOutcome | HelpOutcome | StatsOutcome | ArticleOutcome | StoryOutcome
           | LinkOutcome
           | OpenOutcome | ExportOutcome | ConfirmOutcome | SavedListOutcome | QuitOutcome
           | NothingOutcome)
