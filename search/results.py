"""What crosses the search API: requests, hits, facets, stories, result pages.

Plain frozen dataclasses, built by `search.searcher.Searcher` and read by the
renderers (`search.output`), the REPL and scripts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import UsageError
from .query import MATCH_MODES, Filters

if TYPE_CHECKING:
    from .matching import Correction, Relaxation

GROUPS = ("none", "story")

SORTS = ("relevance", "newest", "oldest", "quality")
_MAX_SCORE = 3.0e38  # just under float32's largest finite value
FACETS = ("provider", "topic", "year")
MAX_LIMIT = 10_000
#: parsed queries kept per searcher (paging and batch runs repeat queries)
PARSE_CACHE_SIZE = 256


# ----------------------------------------------------------------- data types


@dataclass(frozen=True)
class SearchRequest:
    """One search: query text, filters, ordering, page and facets."""

    query: str = "*"
    filters: Filters = field(default_factory=Filters)
    sort: str = "relevance"
    limit: int = 10
    offset: int = 0
    facets: tuple[str, ...] = ("provider",)
    facet_size: int = 10
    highlight: bool = True
    #: matching strategy: auto (every word, relaxed when nothing has them
    #: all), all (every word, never relaxed) or any (any word)
    match: str = "auto"
    #: words the index does not have also match indexed words 1-2 edits away
    typos: bool = True
    #: the last word is still being typed: match it as a prefix of the most
    #: common indexed words (results while typing)
    prefix_last: bool = False
    #: "story": one hit per story (its best member), paging by story
    group: str = "none"
    #: a grouped hit lists at most this many other members of its story
    members: int = 5

    def validate(self) -> None:
        if self.match not in MATCH_MODES:
            raise UsageError(f"unknown match mode {self.match!r}: choose one of {', '.join(MATCH_MODES)}")
        if self.group not in GROUPS:
            raise UsageError(f"unknown grouping {self.group!r}: choose one of {', '.join(GROUPS)}")
        if not 0 <= self.members <= 1000:
            raise UsageError("members must be between 0 and 1000")
        if self.sort not in SORTS:
            raise UsageError(f"unknown sort {self.sort!r}: choose one of {', '.join(SORTS)}")
        for name in self.facets:
            if name not in FACETS:
                raise UsageError(f"unknown facet {name!r}: choose from {', '.join(FACETS)}")
        if not 0 <= self.limit <= MAX_LIMIT:
            raise UsageError(f"limit must be between 0 and {MAX_LIMIT}")
        if self.offset < 0:
            raise UsageError("offset must not be negative")
        if self.facet_size < 0:
            raise UsageError("facet size must not be negative")


Span = tuple[int, int]


@dataclass(frozen=True)
class Hit:
    """One ranked result. `*_spans` are (start, end) character offsets of
    matched terms in `title` / `excerpt`."""

    rank: int
    score: float
    path: str
    title: str
    excerpt: str
    provider: str
    topics: tuple[str, ...]
    published: dt.datetime | None
    url: str
    quality: int | None
    title_spans: tuple[Span, ...] = ()
    excerpt_spans: tuple[Span, ...] = ()
    root: str = ""
    provider_domain: str = ""
    type: str = ""
    category: str = ""
    #: the story the article belongs to (None: the index has no stories)
    story: StoryInfo | None = None


@dataclass(frozen=True)
class StoryMember:
    """Another article of a hit's story."""

    title: str
    provider: str
    published: dt.datetime | None
    path: str
    url: str


@dataclass(frozen=True)
class StoryInfo:
    """The story of a hit: the same event from every outlet that covered it."""

    id: str
    size: int  # articles in the story, the hit included
    #: in a grouped result: the other members, oldest first (at most `members`)
    members: tuple[StoryMember, ...] | None = None
    #: in a grouped result: every other member's provider (oldest first, once
    #: each) and the dates the story spans
    providers: tuple[str, ...] = ()
    first: dt.datetime | None = None
    last: dt.datetime | None = None


@dataclass(frozen=True)
class FacetValue:
    value: str | int
    count: int


@dataclass(frozen=True)
class Facet:
    """Counts of one facet over all matches: the top values, how many distinct
    values there are, and how many matches fall outside the top values."""

    name: str
    values: tuple[FacetValue, ...]
    distinct: int
    other: int


@dataclass(frozen=True)
class ResultPage:
    """What a search returns."""

    request: SearchRequest
    total: int
    hits: tuple[Hit, ...]
    facets: dict[str, Facet]
    took_ms: float
    parsed: str = ""  # the query as understood, for --debug and the REPL
    scored: bool = True  # False when ordered by a field (or matching everything)
    #: words the index does not have, and the words searched instead
    corrections: tuple[Correction, ...] = ()
    #: set when fewer than all of the query's words were required
    relaxed: Relaxation | None = None
    #: for a query that found nothing: a corrected query, if one is near
    did_you_mean: str | None = None
    #: how the query text was read, when part of it was not valid syntax
    note: str = ""
    #: for `similar`: the source article's path and title
    source: str | None = None
    source_title: str = ""
    #: grouped by story: how many stories match (None when not grouped)
    stories: int | None = None


@dataclass(frozen=True)
class IndexStats:
    documents: int
    providers: int
    topics: int
    first_published: dt.datetime | None
    last_published: dt.datetime | None
    size_bytes: int
    last_indexed: str | None
    roots: tuple[str, ...]
    index_dir: str
    segments: int
    schema_version: int
    #: the "index incomplete: ..." notice when the last index run did not finish
    incomplete: str | None = None
