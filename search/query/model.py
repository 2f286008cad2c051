"""The query model: what a user's query means, independent of Whoosh.

A query is a tree of `Bool` nodes (Lucene's BooleanQuery: MUST, SHOULD,
MUST_NOT and FILTER clauses, with a minimum number of SHOULD clauses) over
leaves: words, phrases, compounds (`gpt-3`), prefixes and wildcards on the
text fields, exact values of filter fields, numeric and date ranges. The
parser (`search.query.parser`) builds it from text; the matching strategy
(`search.matching`) resolves typos and relaxation; the evaluator
(`search.evaluator`) computes it over the index's arrays.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

#: the text fields a plain word searches
TEXT_FIELDS = ("title", "excerpt", "topics")


class Occur(enum.Enum):
    MUST = "must"  # required, scores
    SHOULD = "should"  # optional (see Bool.min_should), scores
    MUST_NOT = "must_not"  # excluded
    FILTER = "filter"  # required, never scores


@dataclass(frozen=True)
class Word:
    """One word of the query on the text fields: the unit of matching."""

    text: str  # as typed (for messages)
    term: str  # its index form (stem)
    surface: str  # lower-cased as typed, unstemmed (typo lookups, vocabulary)
    fields: tuple[str, ...] = TEXT_FIELDS
    exact: bool = False  # quoted: never typo-corrected
    boost: float = 1.0
    #: max typo distance asked for with `word~N` (None: the default rule)
    fuzzy: int | None = None
    #: index terms a typo was corrected to, with their weights (set by the
    #: matching strategy; empty for a word the index has)
    variants: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Phrase:
    """Words at consecutive positions (`slop` extra positions allowed)."""

    text: str
    terms: tuple[str, ...]
    fields: tuple[str, ...] = TEXT_FIELDS
    slop: int = 0
    boost: float = 1.0


@dataclass(frozen=True)
class Compound:
    """A hyphenated or dotted word (`gpt-3`, `node.js`, `coca-cola`): one
    word for matching, found as its parts side by side or as its joined form
    (`gpt3`), scored like a phrase."""

    text: str
    parts: tuple[str, ...]  # index forms of the parts, in order (a phrase when 2+)
    forms: tuple[str, ...]  # single-term forms: joined (`gpt3`), as indexed (`node.js`)
    fields: tuple[str, ...] = TEXT_FIELDS
    boost: float = 1.0


@dataclass(frozen=True)
class Prefix:
    """Every word that starts with `text` as written (`vulnerab*`)."""

    text: str  # lower-case, without the `*`
    fields: tuple[str, ...] = TEXT_FIELDS
    boost: float = 1.0
    #: only the most common words with this prefix (a word still being
    #: typed, for results while typing); None: every word
    limit: int | None = None


@dataclass(frozen=True)
class Wildcard:
    """Words as written matching a `*`/`?` pattern (`wom?n`, `*bot`)."""

    text: str  # lower-case pattern
    fields: tuple[str, ...] = TEXT_FIELDS
    boost: float = 1.0


@dataclass(frozen=True)
class Value:
    """An exact value of a filter field (provider, topic, type, category,
    path), compared lower-cased; `prefix` matches values starting with it."""

    field: str
    value: str
    prefix: bool = False


@dataclass(frozen=True)
class Range:
    """A range of a numeric field (published, year, quality); bounds are
    inclusive and None means open. `published` bounds are aware datetimes."""

    field: str
    low: int | dt.datetime | None = None
    high: int | dt.datetime | None = None


@dataclass(frozen=True)
class Exists:
    """Documents that have a value in `field` (`provider:*`)."""

    field: str


@dataclass(frozen=True)
class MatchAll:
    """Every document."""


@dataclass(frozen=True)
class MatchNone:
    """No document (a query with nothing searchable in it)."""


@dataclass(frozen=True)
class Clause:
    occur: Occur
    node: Node


@dataclass(frozen=True)
class Bool:
    """A boolean combination. A document matches when it matches every MUST
    and FILTER clause, at least `min_should` SHOULD clauses, and no MUST_NOT
    clause; a Bool with only MUST_NOT clauses means "everything except".
    Matching MUST and SHOULD clauses add their scores.

    `words` marks the query's top-level group of plain words: the one the
    `auto` matching strategy may relax (drop words from) when nothing
    matches, and the only one where matching more of the words ranks higher
    (in an explicit `a OR b` either is as good as both)."""

    clauses: tuple[Clause, ...]
    min_should: int = 0
    boost: float = 1.0
    words: bool = False


Node = Bool | Word | Phrase | Compound | Prefix | Wildcard | Value | Range | Exists | MatchAll | MatchNone

#: leaves that rank text (everything else only filters)
TEXT_LEAVES = (Word, Phrase, Compound, Prefix, Wildcard)


@dataclass(frozen=True)
class Filters:
    """Filters applied on top of the query (command-line flags, REPL drill-down)."""

    providers: tuple[str, ...] = ()  # any of them
    topics: tuple[str, ...] = ()  # any of them
    since: dt.datetime | None = None  # inclusive, UTC
    until: dt.datetime | None = None  # inclusive, UTC

    def is_empty(self) -> bool:
        return not (self.providers or self.topics or self.since or self.until)

    def clauses(self) -> tuple[Clause, ...]:
        """These filters as FILTER clauses."""
        out: list[Clause] = []
        for name, values in (("provider", self.providers), ("topic", self.topics)):
            vals = [v.strip().lower() for v in values if v.strip()]
            if vals:
                out.append(Clause(Occur.FILTER, any_of(name, vals)))
        if self.since or self.until:
            out.append(Clause(Occur.FILTER, Range("published", self.since, self.until)))
        return tuple(out)


def any_of(field_name: str, values: list[str]) -> Node:
    nodes = [Value(field_name, v) for v in dict.fromkeys(values)]
    if len(nodes) == 1:
        return nodes[0]
    return Bool(tuple(Clause(Occur.SHOULD, n) for n in nodes), min_should=1)


@dataclass(frozen=True)
class ParsedQuery:
    """A parsed query: the tree, and how the text was read."""

    text: str
    root: Node
    #: explanation when part of the text could not be read as syntax and was
    #: searched as plain words instead
    note: str = ""
    match: str = "auto"
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    def is_match_all(self) -> bool:
        """Whether the query ranks nothing (only filters and exclusions)."""
        return not any(True for _ in scoring_leaves(self.root))


def children(node: Node) -> Iterator[Node]:
    if isinstance(node, Bool):
        for c in node.clauses:
            yield c.node


def scoring_leaves(node: Node) -> Iterator[Node]:
    """Text leaves a matching document may contain: those not under a
    MUST_NOT or FILTER clause (for highlighting and ordering)."""
    if isinstance(node, Bool):
        for c in node.clauses:
            if c.occur in (Occur.MUST_NOT, Occur.FILTER):
                continue
            yield from scoring_leaves(c.node)
    elif isinstance(node, TEXT_LEAVES):
        yield node


def describe(node: Node) -> str:
    """A compact, Lucene-like rendering of a query tree (for --debug and tests)."""
    if isinstance(node, Bool):
        marks = {Occur.MUST: "+", Occur.SHOULD: "", Occur.MUST_NOT: "-", Occur.FILTER: "#"}
        inner = " ".join(marks[c.occur] + describe(c.node) for c in node.clauses)
        suffix = f"~{node.min_should}" if node.min_should > 1 else ""
        return f"({inner}){suffix}"
    if isinstance(node, Word):
        fields = "" if node.fields == TEXT_FIELDS else ",".join(node.fields) + ":"
        variants = "|".join(t for t, _ in node.variants)
        return fields + node.term + (f"~[{variants}]" if variants else "")
    if isinstance(node, Phrase):
        return '"' + " ".join(node.terms) + '"' + (f"~{node.slop}" if node.slop else "")
    if isinstance(node, Compound):
        return "<" + "|".join(["-".join(node.parts), *node.forms]) + ">"
    if isinstance(node, Prefix):
        return node.text + "*" + (f"[{node.limit}]" if node.limit else "")
    if isinstance(node, Wildcard):
        return node.text
    if isinstance(node, Value):
        return f"{node.field}={node.value}" + ("*" if node.prefix else "")
    if isinstance(node, Range):
        lo = "*" if node.low is None else str(node.low)
        hi = "*" if node.high is None else str(node.high)
        return f"{node.field}:[{lo} TO {hi}]"
    if isinstance(node, Exists):
        return f"{node.field}:*"
    if isinstance(node, MatchAll):
        return "*"
    return "<nothing>"
