"""User query text and filter options → Whoosh query objects.

Syntax is Lucene-like: plain words are OR'ed with a bonus for matching more
of them (so a pasted headline finds its story), and `AND`, `OR`, `NOT`,
`-term`, `+term`, `"phrases"`, `field:term`, `term*`, `[a TO b]` ranges and
`*` work as Lucene users expect. Parsing never fails: text that the full
grammar rejects is searched as plain words.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .schema import TEXT_FIELDS

#: query-time weights of the text fields (BM25F per-field boosts)
FIELD_BOOSTS = {"title": 2.5, "excerpt": 1.0, "topics": 1.5}
#: user-facing field names → index fields
FIELD_ALIASES = {
    "topic": ["tag", "tags"],
    "provider": ["source", "site"],
    "published": ["date"],
}
#: the field names users may type before a colon (for help and completion)
QUERY_FIELDS = ("title", "excerpt", "topics", "topic", "provider", "published", "year",
                "quality", "type", "category", "path")
#: characters with a meaning in the query grammar; stripped for the fallback
_SYNTAX_CHARS = re.compile(r'[\\"\'()\[\]{}^~:*?+\-!<>=]')
_OPERATOR_WORDS = re.compile(r"\b(AND|OR|NOT|ANDNOT|ANDMAYBE|TO)\b")
MAX_QUERY_CHARS = 4_000
PARSE_CACHE_SIZE = 256
_CLAUSE_START = r"(?:(?<=^)|(?<=[\s(]))"
_EXCLUDED = re.compile(r"(?:(?:(?<=^)|(?<=[\s(]))-|\bNOT\s+)[^\s()]+")
_MINUS = re.compile(_CLAUSE_START + r"-(?=[^\s\-])")
#: a "?" or "!" ending a word is punctuation (a pasted "… nearer?" headline),
#: not a one-character wildcard or a NOT
#: (only in plain words: `provider:EurekAlert!` keeps its "!")
_TRAILING_PUNCT = re.compile(r"(?<!\S)([^\s:\"]*\w)[?!]+(?=\s|$)")
#: anything that may be query syntax: fields, phrases, groups, ranges,
#: wildcards, boosts, fuzziness, escapes, and +/- at the start of a word
_SYNTAX_HINT = re.compile(r'[:"\'()\[\]{}*?^~\\<>=]|(?:^|\s)[+\-!]')


@dataclass(frozen=True)
class Filters:
    """Filters applied on top of the query (command-line flags, REPL drill-down)."""

    providers: tuple[str, ...] = ()  # OR'ed
    topics: tuple[str, ...] = ()  # OR'ed
    since: dt.datetime | None = None  # inclusive, UTC
    until: dt.datetime | None = None  # inclusive, UTC

    def is_empty(self) -> bool:
        return not (self.providers or self.topics or self.since or self.until)


def parse_date_bound(text: str, end: bool = False) -> dt.datetime:
    """An ISO date or date-time as an aware UTC datetime.

    A bare date means the whole day: its start for --since, its last
    microsecond for --until, so both bounds are inclusive.
    """
    raw = text.strip()
    try:
        if re.fullmatch(r"\d{4}", raw):
            day = dt.date(int(raw), 12 if end else 1, 31 if end else 1)
            raw_date: dt.date | None = day
        elif re.fullmatch(r"\d{4}-\d{2}", raw):
            year, month = int(raw[:4]), int(raw[5:])
            first = dt.date(year, month, 1)
            if end:
                nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
                first = nxt - dt.timedelta(days=1)
            raw_date = first
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raw_date = dt.date.fromisoformat(raw)
        else:
            raw_date = None
        if raw_date is not None:
            moment = dt.datetime.combine(raw_date, dt.time.max if end else dt.time.min)
            return moment.replace(tzinfo=dt.timezone.utc)
        value = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    except (ValueError, OverflowError):
        raise UsageError(
            f"invalid date {text!r}: use an ISO date such as 2022-04-18 (or 2022-04, 2022)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:
        raise UsageError(f"invalid date {text!r}: out of range") from None


def to_naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


#: index fields that filter rather than rank
FILTER_FIELDS = frozenset({"provider", "topic", "published", "year", "quality", "type",
                           "category", "path"})


@dataclass(frozen=True)
class ParsedQuery:
    """A user query split into the part that ranks and the part that filters."""

    ranked: Any  # whoosh Query; Every() when only filters were given
    filter: Any | None  # whoosh Query or None

    def is_match_all(self) -> bool:
        from whoosh import query

        return isinstance(self.ranked, query.Every)


class QueryBuilder:
    """Builds Whoosh queries for one schema; reuse it, parsers are costly to make."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self._parser: Any = None
        self._plain: Any = None
        # parsing costs milliseconds; paging and batch runs repeat queries
        self._parsed: OrderedDict[str, ParsedQuery] = OrderedDict()
        self._analyzer: Any = None

    def _make_parser(self, full: bool) -> Any:
        from whoosh import qparser

        parser = qparser.MultifieldParser(
            list(TEXT_FIELDS),
            self.schema,
            fieldboosts=FIELD_BOOSTS,
            group=_implicit_or_group(),
        )
        if full:
            # +/- are operators only at the start of a clause, as in Lucene:
            # "face-detection" is one hyphenated word, not "face NOT detection"
            parser.add_plugin(qparser.PlusMinusPlugin(plusexpr=_CLAUSE_START + r"\+(?=\S)",
                                                      minusexpr=_CLAUSE_START + r"-(?=\S)"))
            parser.add_plugin(qparser.GtLtPlugin())
            parser.add_plugin(_date_plugin()(free=False))
            parser.add_plugin(qparser.FieldAliasPlugin(FIELD_ALIASES))
        else:
            # plain words only: no fields, operators, phrases, ranges or wildcards
            for plugin_cls in (qparser.FieldsPlugin, qparser.WildcardPlugin,
                               qparser.PhrasePlugin, qparser.RangePlugin,
                               qparser.GroupPlugin, qparser.OperatorsPlugin,
                               qparser.BoostPlugin, qparser.EveryPlugin,
                               qparser.SingleQuotePlugin):
                parser.remove_plugin_class(plugin_cls)
        return parser

    @property
    def parser(self) -> Any:
        if self._parser is None:
            self._parser = self._make_parser(full=True)
        return self._parser

    @property
    def plain_parser(self) -> Any:
        if self._plain is None:
            self._plain = self._make_parser(full=False)
        return self._plain

    def parse(self, text: str) -> ParsedQuery:
        """Parse user query text (cached; the result must not be mutated)."""
        hit = self._parsed.get(text)
        if hit is None:
            hit = self._parsed[text] = self._parse(text)
            if len(self._parsed) > PARSE_CACHE_SIZE:
                self._parsed.popitem(last=False)
        else:
            self._parsed.move_to_end(text)
        return hit

    def _parse(self, text: str) -> ParsedQuery:
        """Parse user query text; never raises on malformed input.

        Empty text and `*` match every document. Top-level clauses on filter
        fields (`provider:`, `topic:`, `published:`...) restrict the results
        instead of ranking them: values of one field are alternatives,
        different fields must all match.
        """
        from whoosh import query

        text = _TRAILING_PUNCT.sub(r"\1", text[:MAX_QUERY_CHARS]).strip()
        if not text or text == "*":
            return ParsedQuery(query.Every(), None)
        fast = self._plain_words(text)
        if fast is not None:
            return fast
        try:
            raw = self.parser.parse(_minus_to_not(text), normalize=False)
            if not _has_error(raw):
                return _split_filters(_rewrite_negations(raw))
        except Exception:  # noqa: BLE001 - whoosh's grammar raises assorted errors
            pass
        return ParsedQuery(self.parse_plain(text), None)

    def _plain_words(self, text: str) -> ParsedQuery | None:
        """The query for text with no syntax at all (most typed and pasted
        queries), built directly: the same query the full parser produces,
        in a tenth of the time. None when the text has any syntax."""
        from whoosh import query

        if _SYNTAX_HINT.search(text) or _OPERATOR_WORDS.search(text):
            return None
        if self._analyzer is None:
            from .schema import text_analyzer

            self._analyzer = text_analyzer()
        words = list(dict.fromkeys(tok.text for tok in self._analyzer(text, mode="query")))
        if not words:
            return ParsedQuery(query.NullQuery, None)
        terms = [query.Term(f, w, boost=FIELD_BOOSTS.get(f, 1.0)) for w in words for f in TEXT_FIELDS]
        return ParsedQuery(terms[0] if len(terms) == 1 else query.Or(terms), None)

    def parse_plain(self, text: str) -> Any:
        """Search the words of `text` with no syntax at all."""
        from whoosh import query

        # excluded words must not come back as wanted ones
        text = _EXCLUDED.sub(" ", text)
        words = _SYNTAX_CHARS.sub(" ", text)
        words = _OPERATOR_WORDS.sub(lambda m: m.group(0).lower(), words)
        try:
            q = self.plain_parser.parse(words)
        except Exception:  # noqa: BLE001
            return query.NullQuery
        return query.NullQuery if _has_error(q) else q

    def filter_query(self, filters: Filters) -> Any | None:
        """The filter as a Whoosh query, or None when there is no filter."""
        from whoosh import query

        parts: list[Any] = []
        if filters.providers:
            parts.append(_any_of("provider", filters.providers))
        if filters.topics:
            parts.append(_any_of("topic", filters.topics))
        if filters.since or filters.until:
            parts.append(
                query.DateRange(
                    "published",
                    to_naive_utc(filters.since) if filters.since else None,
                    to_naive_utc(filters.until) if filters.until else None,
                )
            )
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else query.And(parts)


def _implicit_or_group() -> Any:
    """The group of space-separated clauses. Not an OrGroup subclass: Whoosh's
    OR operator merges into an OrGroup on its left, which flattened
    `(ai NOT data) OR model` into `ai NOT data model` and let the NOT escape
    its parentheses."""
    from whoosh import query
    from whoosh.qparser import syntax

    class ImplicitOrGroup(syntax.GroupNode):
        qclass = query.Or

    return ImplicitOrGroup


def _minus_to_not(text: str) -> str:
    """`-word` → `NOT word` outside phrases: Whoosh's +/- plugin cannot handle
    a minus inside parentheses (`model (ai -data)` raised and lost the minus)."""
    parts = text.split('"')
    for i in range(0, len(parts), 2):  # even parts are outside quotes
        parts[i] = _MINUS.sub("NOT ", parts[i])
    return '"'.join(parts)


def _date_plugin() -> Any:
    """Whoosh's date plugin, with `>`, `<` and `{…}` bounds made exclusive of
    the whole period they name (`published:>2021-02-08` starts the next day);
    Whoosh turned them into inclusive bounds."""
    from whoosh.qparser.dateparse import DateParserPlugin, DateRangeNode
    from whoosh.util.times import timespan

    class ExclusiveAwareDateParserPlugin(DateParserPlugin):
        def _span(self, text: str) -> Any:
            bound = self._bound_from(text)
            return timespan(bound, bound).disambiguated(self.basedate)

        def range_to_dt(self, node: Any) -> Any:
            drn = super().range_to_dt(node)
            if not isinstance(drn, DateRangeNode):
                return drn
            tick = dt.timedelta(microseconds=1)
            if getattr(node, "startexcl", False) and node.start and drn.start is not None:
                drn.start = self._span(node.start).end + tick
            if getattr(node, "endexcl", False) and node.end and drn.end is not None:
                drn.end = self._span(node.end).start - tick
            return drn

    return ExclusiveAwareDateParserPlugin


def _any_of(fieldname: str, values: Sequence[str]) -> Any:
    from whoosh import query

    terms = [query.Term(fieldname, v.strip().lower()) for v in values if v.strip()]
    return terms[0] if len(terms) == 1 else query.Or(terms)


def _has_error(q: Any) -> bool:
    """Whether the parser marked part of the query as unparseable."""
    from whoosh import query

    for sub in _walk(q):
        if getattr(sub, "error", None) is not None:
            return True
        if isinstance(sub, query.qcore._NullQuery) and sub is not query.NullQuery:
            return True
    return False


def _walk(q: Any) -> Any:
    yield q
    if q.is_leaf():
        return
    for child in q.children():
        yield from _walk(child)


def _is_empty(q: Any) -> bool:
    from whoosh import query

    return isinstance(q, query.compound.CompoundQuery) and not q.subqueries


def _rewrite_negations(q: Any) -> Any:
    """Give negations their Lucene meaning: in a group, `NOT x` / `-x`
    excludes x from what the other clauses match, and a group of negations
    alone means "everything except". Whoosh would instead OR a Not in (so
    `NOT spam apps` matched nearly everything) or drop it (`-spam` matched
    nothing)."""
    from whoosh import query

    if q.is_leaf():
        return q
    if isinstance(q, query.Not):
        return query.AndNot(query.Every(), _rewrite_negations(q.query))
    if isinstance(q, query.AndNot):
        a, b = _rewrite_negations(q.a), _rewrite_negations(q.b)
        if _is_empty(b):
            return a
        return query.AndNot(query.Every() if _is_empty(a) else a, b)
    if isinstance(q, (query.Or, query.And)):
        subs = [s for s in q.subqueries]
        negs = [s.query for s in subs if isinstance(s, query.Not)]
        pos = [_rewrite_negations(s) for s in subs if not isinstance(s, query.Not)]
        pos = [s for s in pos if not _is_empty(s)]
        group = q.__class__(pos, boost=q.boost, **({"scale": q.scale} if isinstance(q, query.Or) else {}))
        if not negs:
            return group
        excluded = [_rewrite_negations(n) for n in negs]
        base = group if pos else query.Every()
        return query.AndNot(base, excluded[0] if len(excluded) == 1 else query.Or(excluded))
    if isinstance(q, query.AndMaybe):
        a, b = _rewrite_negations(q.a), _rewrite_negations(q.b)
        if _is_empty(b):
            return a
        return query.AndMaybe(query.Every() if _is_empty(a) else a, b)
    return q.apply(_rewrite_negations)


def _fields_of(q: Any) -> set[str]:
    fields: set[str] = set()
    for sub in _walk(q):
        if sub.is_leaf() and getattr(sub, "fieldname", None):
            fields.add(sub.fieldname)
    return fields


def _split_filters(q: Any) -> ParsedQuery:
    """Move top-level clauses on filter fields out of the ranked query."""
    from whoosh import query

    def split(node: Any, implicit: bool) -> tuple[Any, Any | None]:
        if isinstance(node, query.AndNot):
            pos, flt = split(node.a, implicit)
            return query.AndNot(pos, node.b).normalize(), flt
        while isinstance(node, (query.Or, query.And)) and len(node.subqueries) == 1:
            node, implicit = node.subqueries[0], False
        # the parser's top-level group is the implicit OR of the clauses; an
        # explicit `a OR provider:x` keeps its meaning, AND groups are safe
        if isinstance(node, query.And) or (isinstance(node, query.Or) and implicit):
            children = list(node.subqueries)
        else:
            children = [node]
        by_field: dict[str, list[Any]] = {}
        rest: list[Any] = []
        for child in children:
            fields = _fields_of(child)
            if len(fields) == 1 and fields <= FILTER_FIELDS and not _is_empty(child):
                by_field.setdefault(next(iter(fields)), []).append(child)
            else:
                rest.append(child)
        if not by_field:
            return node.normalize(), None
        groups = [v[0] if len(v) == 1 else query.Or(v) for v in by_field.values()]
        flt = groups[0] if len(groups) == 1 else query.And(groups)
        if not rest:
            ranked = query.Every()
        elif len(rest) == 1:
            ranked = rest[0]
        else:
            ranked = node.__class__(rest, **({"scale": node.scale} if isinstance(node, query.Or) else {}))
        return ranked.normalize(), flt.normalize()

    ranked, flt = split(q, True)
    if ranked is query.NullQuery or isinstance(ranked, query.qcore._NullQuery):
        ranked = query.NullQuery
    return ParsedQuery(ranked, flt)


def positive_leaves(q: Any) -> Iterator[Any]:
    """The leaf queries a matching document may satisfy: every leaf except
    those under a negation (NOT x, the right side of ANDNOT)."""
    from whoosh import query

    if isinstance(q, query.Not):
        return
    if isinstance(q, query.AndNot):
        yield from positive_leaves(q.a)
        return
    if q.is_leaf():
        yield q
        return
    for child in q.children():
        yield from positive_leaves(child)


def positive_terms(q: Any, reader: Any) -> set[tuple[str, str]]:
    """(field, text) terms that a matching document may contain, with
    wildcards expanded. For highlighting."""
    out: set[tuple[str, str]] = set()
    for leaf in positive_leaves(q):
        try:
            for field, text in leaf.existing_terms(reader, expand=True):
                out.add((field, text.decode("utf-8", "replace") if isinstance(text, bytes) else text))
        except Exception:  # noqa: BLE001 - odd leaves (ranges, Every) have no terms
            pass
    return out
