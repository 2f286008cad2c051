"""The search API shared by the `query` command, the REPL and the benchmarks.

`Searcher(index_dir).search(SearchRequest(...))` returns a `ResultPage`:
ranked hits for one page, the exact total, and exact facet counts over every
match. Totals and facets come from the matched document set computed without
scoring; only the requested page is scored (top-k) and highlighted.
"""

from __future__ import annotations

import datetime as dt
import heapq
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import IndexCorruptError, UsageError
from .query import Filters, ParsedQuery, QueryBuilder, positive_terms
from .schema import MISSING, MISSING32, MULTI_SEP, text_analyzer

SORTS = ("relevance", "newest", "oldest", "quality")
FACETS = ("provider", "topic", "year")
MAX_LIMIT = 10_000


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

    def validate(self) -> None:
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


# ----------------------------------------------------------------- columns


class _Columns:
    """Per-document column values of one searcher generation, loaded lazily
    and kept as plain lists so facets and sorts are list lookups."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._cache: dict[str, Any] = {}

    def _raw(self, name: str) -> list[Any]:
        if name not in self._cache:
            if self._reader.doc_count_all() == 0:
                self._cache[name] = []
            else:
                self._cache[name] = list(self._reader.column_reader(name))
        return self._cache[name]

    def keyed(self, name: str) -> tuple[list[int], list[str]]:
        """(per-doc value id, id → label) for a single-valued text column.

        Values that differ only in case share an id (filters ignore case),
        labelled with their most common spelling; id -1 means no value.
        """
        key = "keyed:" + name
        if key not in self._cache:
            multi, labels = self._ids(name, multi=False)
            self._cache[key] = ([ids[0] if ids else -1 for ids in multi], labels)
        return self._cache[key]

    def multi(self, name: str) -> tuple[list[tuple[int, ...]], list[str]]:
        """Like keyed() for a multi-valued column (topics): a tuple of ids per doc."""
        key = "multi:" + name
        if key not in self._cache:
            self._cache[key] = self._ids(name, multi=True)
        return self._cache[key]

    def _ids(self, name: str, multi: bool) -> tuple[list[tuple[int, ...]], list[str]]:
        raw = self._raw(name)
        folded_ids: dict[str, int] = {}
        spelling_counts: list[Counter[str]] = []
        memo: dict[bytes, tuple[int, ...]] = {}
        for value, n in Counter(raw).items():
            text = value.decode("utf-8", "replace") if value else ""
            parts = text.split(MULTI_SEP) if multi else [text]
            found: list[int] = []
            for part in parts:
                part = part.strip()
                if not part:
                    continue
                vid = folded_ids.setdefault(part.casefold(), len(folded_ids))
                if vid == len(spelling_counts):
                    spelling_counts.append(Counter())
                spelling_counts[vid][part] += n
                if vid not in found:
                    found.append(vid)
            memo[value] = tuple(found)
        labels = [min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for c in spelling_counts]
        return [memo[v] for v in raw], labels

    def numbers(self, name: str) -> list[int]:
        return self._raw(name)

    def texts(self, name: str) -> list[str]:
        key = "text:" + name
        if key not in self._cache:
            self._cache[key] = [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                for v in self._raw(name)
            ]
        return self._cache[key]


# ----------------------------------------------------------------- searcher


class Searcher:
    """Answers searches on one index; reuse it across queries (the REPL and
    batch mode do), it reopens itself when the index changes underneath."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self._ix: Any = None
        self._searcher: Any = None
        self._columns: _Columns | None = None
        self._builder: QueryBuilder | None = None
        self._analyzer: Any = None

    # -- lifecycle

    def _open(self) -> Any:
        from .store import open_index

        if self._ix is None:
            self._ix = open_index(self.index_dir)
            self._builder = QueryBuilder(self._ix.schema)
        if self._searcher is None:
            self._searcher = self._ix.searcher()
            self._columns = _Columns(self._searcher.reader())
        elif not self._searcher.up_to_date():
            self._searcher = self._searcher.refresh()
            self._columns = _Columns(self._searcher.reader())
        return self._searcher

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def builder(self) -> QueryBuilder:
        self._open()
        assert self._builder is not None
        return self._builder

    # -- searching

    def parse(self, text: str) -> ParsedQuery:
        return self.builder.parse(text)

    def search(self, request: SearchRequest) -> ResultPage:
        """Run one search. Raises UsageError for invalid requests and
        IndexCorruptError when the index cannot be read."""
        request.validate()
        started = time.perf_counter()
        try:
            return self._search(request, started)
        except (UsageError, KeyboardInterrupt):
            raise
        except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
            raise IndexCorruptError(
                f"{self.index_dir}: cannot read index ({type(exc).__name__}: {exc}); "
                "rebuild it with `search index --full CORPUS_DIR`"
            ) from None

    def _search(self, request: SearchRequest, started: float) -> ResultPage:
        from whoosh import query as wq

        s = self._open()
        cols = self._columns
        assert cols is not None
        parsed = self.builder.parse(request.query)
        filters = [f for f in (parsed.filter, self.builder.filter_query(request.filters)) if f is not None]
        filter_q = None if not filters else (filters[0] if len(filters) == 1 else wq.And(filters))

        match_q = parsed.ranked if filter_q is None else wq.And([parsed.ranked, filter_q])
        if isinstance(match_q, wq.Every):
            matched: list[int] = list(s.reader().all_doc_ids())
        else:
            matched = sorted(set(s.docs_for_query(match_q)))
        total = len(matched)

        facets = {name: self._facet(cols, name, matched, request.facet_size) for name in request.facets}

        want = request.offset + request.limit
        scored: list[tuple[int, float]]
        if want == 0 or total == 0:
            scored = []
        elif request.sort == "relevance" and not parsed.is_match_all():
            scored = self._top_scored(s, parsed.ranked, matched, filter_q, want, cols)
        else:
            scored = [(d, 0.0) for d in self._top_sorted(cols, matched, request.sort, want)]
        page = scored[request.offset : want]

        terms = positive_terms(parsed.ranked, s.reader()) if request.highlight and page else set()
        hits = tuple(
            self._hit(s, cols, docnum, score, request.offset + i + 1, terms)
            for i, (docnum, score) in enumerate(page)
        )
        took = (time.perf_counter() - started) * 1000
        scored_order = request.sort == "relevance" and not parsed.is_match_all()
        return ResultPage(request, total, hits, facets, round(took, 3), str(parsed.ranked), scored_order)

    def _top_scored(
        self, s: Any, q: Any, matched: list[int], filter_q: Any, want: int, cols: _Columns
    ) -> list[tuple[int, float]]:
        """Top `want` documents by score, ties broken by newest then path.

        Fetches a little more than needed so that ties at the page edge
        are ordered by the tie-break, not by document number.
        """
        allow = set(matched) if filter_q is not None else None
        results = s.search(q, limit=want + 16, filter=allow)
        ts = cols.numbers("ts")
        paths = cols.texts("path")
        scored = [(hit.docnum, float(hit.score)) for hit in results]
        scored.sort(key=lambda ds: (-round(ds[1], 9), -ts[ds[0]], paths[ds[0]]))
        return scored[:want]

    def _top_sorted(self, cols: _Columns, matched: list[int], sort: str, want: int) -> list[int]:
        ts = cols.numbers("ts")
        paths = cols.texts("path")

        def newest(d: int) -> tuple[Any, ...]:
            t = ts[d]
            return (t == MISSING, -t, paths[d])

        if sort in ("newest", "relevance"):
            key = newest
        elif sort == "oldest":
            def key(d: int) -> tuple[Any, ...]:
                t = ts[d]
                return (t == MISSING, t, paths[d])
        else:
            qual = cols.numbers("quality_col")

            def key(d: int) -> tuple[Any, ...]:
                q = qual[d]
                return (q == MISSING32, -q, *newest(d))

        if want >= len(matched):
            return sorted(matched, key=key)
        return heapq.nsmallest(want, matched, key=key)

    # -- facets

    def _facet(self, cols: _Columns, name: str, matched: Sequence[int], size: int) -> Facet:
        counts: Counter[Any] = Counter()
        if name == "provider":
            ids, labels = cols.keyed("provider_name")
            counts.update(ids[d] for d in matched)
            counts.pop(-1, None)
            items = [(labels[k], n) for k, n in counts.items()]
        elif name == "topic":
            multi, labels = cols.multi("topic_names")
            for d in matched:
                counts.update(multi[d])
            items = [(labels[k], n) for k, n in counts.items()]
        else:  # year
            years = cols.numbers("year_col")
            counts.update(years[d] for d in matched)
            counts.pop(MISSING32, None)
            items = list(counts.items())
        if name == "year":
            items.sort(key=lambda kv: (-kv[1], -kv[0]))
        else:
            items.sort(key=lambda kv: (-kv[1], str(kv[0]).casefold(), kv[0]))
        top = items[:size]
        other = sum(n for _, n in items[size:])
        return Facet(name, tuple(FacetValue(v, n) for v, n in top), len(items), other)

    # -- hits and highlights

    def _hit(self, s: Any, cols: _Columns, docnum: int, score: float, rank: int,
             terms: set[tuple[str, str]]) -> Hit:
        stored = s.stored_fields(docnum)
        title = stored.get("title", "") or ""
        excerpt = stored.get("excerpt", "") or ""
        published = stored.get("published")
        if isinstance(published, dt.datetime):
            published = published.replace(tzinfo=dt.timezone.utc)
        provider = cols.texts("provider_name")[docnum]
        return Hit(
            rank=rank,
            score=round(score, 6),
            path=stored.get("path", ""),
            title=title,
            excerpt=excerpt,
            provider=provider,
            topics=tuple(stored.get("topics_list") or ()),
            published=published,
            url=stored.get("url", "") or "",
            quality=stored.get("quality"),
            title_spans=self._spans(title, "title", terms),
            excerpt_spans=self._spans(excerpt, "excerpt", terms),
            root=stored.get("root", ""),
            provider_domain=stored.get("provider_domain", "") or "",
            type=stored.get("type", "") or "",
            category=stored.get("category", "") or "",
        )

    def _spans(self, text: str, fieldname: str, terms: set[tuple[str, str]]) -> tuple[Span, ...]:
        wanted = {t for f, t in terms if f == fieldname}
        if not text or not wanted:
            return ()
        if self._analyzer is None:
            self._analyzer = text_analyzer()
        return tuple(
            (tok.startchar, tok.endchar)
            for tok in self._analyzer(text, chars=True, removestops=True, mode="index")
            if tok.text in wanted
        )

    # -- index facts

    def whoosh_searcher(self) -> Any:
        """The underlying, up-to-date Whoosh searcher (for spelling and
        other low-level needs); owned by this object, do not close it."""
        return self._open()

    def document_count(self) -> int:
        return int(self._open().doc_count())

    def article(self, hit: Hit) -> Any:
        """The full Article behind a hit, re-read from its file (with the
        related coverage that the index does not keep). Raises SkipFile when
        the file is gone or no longer parses."""
        from .documents import read_article

        return read_article(Path(hit.root) / hit.path, hit.path, with_related=True)

    def values(self, name: str) -> list[FacetValue]:
        """Every value of a facet over the whole index, most common first
        (for completion and listings)."""
        s = self._open()
        cols = self._columns
        assert cols is not None
        all_docs = list(s.reader().all_doc_ids())
        return list(self._facet(cols, name, all_docs, 10**9).values)

    def stats(self) -> IndexStats:
        from .store import read_meta

        s = self._open()
        cols = self._columns
        assert cols is not None
        docs = list(s.reader().all_doc_ids())
        ts = cols.numbers("ts")
        stamps = [ts[d] for d in docs if ts[d] != MISSING]
        meta = read_meta(self.index_dir)
        size = sum(p.stat().st_size for p in self.index_dir.iterdir() if p.is_file())
        return IndexStats(
            documents=len(docs),
            providers=self._facet(cols, "provider", docs, 0).distinct,
            topics=self._facet(cols, "topic", docs, 0).distinct,
            first_published=_from_micros(min(stamps)) if stamps else None,
            last_published=_from_micros(max(stamps)) if stamps else None,
            size_bytes=size,
            last_indexed=meta.last_indexed if meta else None,
            roots=tuple(meta.roots) if meta else (),
            index_dir=str(self.index_dir.resolve()),
            segments=len(s.reader().leaf_readers()) if hasattr(s.reader(), "leaf_readers") else 1,
            schema_version=meta.schema_version if meta else 0,
        )


def _from_micros(value: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=value)


def iter_all(searcher: Searcher, request: SearchRequest, page_size: int = 500) -> Iterable[Hit]:
    """Every hit of a request, page by page (for exports)."""
    offset = 0
    while True:
        page = searcher.search(
            SearchRequest(request.query, request.filters, request.sort, page_size, offset, (), 0,
                          request.highlight)
        )
        yield from page.hits
        offset += page_size
        if offset >= page.total or not page.hits:
            return
