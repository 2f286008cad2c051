"""The search API shared by the `query` command, the REPL and the benchmarks.

`Searcher(index_dir).search(SearchRequest(...))` returns a `ResultPage`:
ranked hits for one page, the exact total, and exact facet counts over every
match. Totals and facets come from the matched document set computed without
scoring; only the requested page is scored (top-k) and highlighted.
"""

from __future__ import annotations

import datetime as dt
import pickle
import struct
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import IndexCorruptError, UsageError
from .query import MATCH_MODES, Filters, ParsedQuery, parse_query
from .schema import MISSING, MISSING32

if TYPE_CHECKING:
    from .matching import Correction, Relaxation

#: what Whoosh raises on damaged index files: missing or cut-short files,
#: unpicklable or misaligned blocks (its directory and stored fields are pickles)
INDEX_DAMAGE = (OSError, EOFError, ValueError, KeyError, IndexError,
                pickle.UnpicklingError, struct.error, zlib.error)


def _damaged(index_dir: Path, exc: BaseException) -> IndexCorruptError:
    return IndexCorruptError(
        f"{index_dir}: cannot read index ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
        "rebuild it with `search index --full CORPUS_DIR`"
    )


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

    def validate(self) -> None:
        if self.match not in MATCH_MODES:
            raise UsageError(f"unknown match mode {self.match!r}: choose one of {', '.join(MATCH_MODES)}")
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
    #: words the index does not have, and the words searched instead
    corrections: tuple[Correction, ...] = ()
    #: set when fewer than all of the query's words were required
    relaxed: Relaxation | None = None
    #: for a query that found nothing: a corrected query, if one is near
    did_you_mean: str | None = None
    #: how the query text was read, when part of it was not valid syntax
    note: str = ""


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


# ----------------------------------------------------------------- searcher


class Searcher:
    """Answers searches on one index; reuse it across queries (the REPL and
    batch mode do), it reopens itself when the index changes underneath."""

    def __init__(self, index_dir: Path, ranking: Any = None) -> None:
        """`ranking` is a ranking.Ranking (scoring parameters); default if None."""
        self.index_dir = Path(index_dir)
        self.ranking = ranking
        self._ix: Any = None
        self._searcher: Any = None
        self._arrays: Any = None  # IndexArrays of the current generation
        self._parsed: OrderedDict[tuple[str, str, bool], ParsedQuery] = OrderedDict()

    # -- lifecycle

    def _open(self) -> Any:
        from .store import open_index

        if self._ix is None:
            self._ix = open_index(self.index_dir)
        if self._searcher is None:
            self._searcher = self._ix.searcher()
            self._arrays = None
        elif not self._searcher.up_to_date():
            # a fresh searcher, not refresh(): whoosh3's refresh reuses segment
            # readers with their old deletion lists, so a long-lived searcher
            # (REPL, --batch) saw deleted and replaced documents twice
            self._searcher.close()
            self._searcher = self._ix.searcher()
            self._arrays = None
        return self._searcher

    def arrays(self) -> Any:
        """The IndexArrays of the current index generation (reopened when
        the index changed since the last call)."""
        from .index_arrays import IndexArrays

        s = self._open()
        if self._arrays is None:
            self._arrays = IndexArrays(s, self.ranking, self.index_dir)
        return self._arrays

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- searching

    def parse(self, text: str, match: str = "auto", prefix_last: bool = False) -> ParsedQuery:
        """The query model of a query text (cached; never raises for bad syntax)."""
        key = (text, match, prefix_last)
        hit = self._parsed.get(key)
        if hit is None:
            hit = self._parsed[key] = parse_query(text, match, prefix_last=prefix_last)
            if len(self._parsed) > PARSE_CACHE_SIZE:
                self._parsed.popitem(last=False)
        else:
            self._parsed.move_to_end(key)
        return hit

    def search(self, request: SearchRequest) -> ResultPage:
        """Run one search. Raises UsageError for invalid requests and
        IndexCorruptError when the index cannot be read."""
        request.validate()
        started = time.perf_counter()
        try:
            return self._search(request, started)
        except (UsageError, KeyboardInterrupt):
            raise
        except INDEX_DAMAGE as exc:
            raise _damaged(self.index_dir, exc) from None

    def _search(self, request: SearchRequest, started: float) -> ResultPage:
        import numpy as np

        from . import matching
        from .query import describe
        from .ranking import sort_key, top_documents

        arrays = self.arrays()
        parsed = self.parse(request.query, request.match, request.prefix_last)
        with np.errstate(over="ignore", invalid="ignore"):
            outcome = matching.run(arrays, parsed, request.filters.clauses(), request.typos)
        score = outcome.match.score
        if score is not None:
            # absurd boosts (`x^1e40`) must not turn into Infinity/NaN in JSON
            np.nan_to_num(score, copy=False, nan=0.0, posinf=_MAX_SCORE, neginf=-_MAX_SCORE)
        mask = outcome.match.mask & arrays.live
        matched = np.flatnonzero(mask)
        total = len(matched)

        facets = {name: self._facet(arrays, name, mask, matched, request.facet_size)
                  for name in request.facets}

        # a query with nothing to score (`-crypto`, filters only) is ordered newest first
        scored_order = (request.sort == "relevance" and score is not None
                        and not matching.is_unscored(outcome.root))
        want = request.offset + request.limit
        key = sort_key(arrays, request.sort if scored_order or request.sort != "relevance" else "newest",
                       score if scored_order else None)
        page = top_documents(arrays, matched, key, want)[request.offset : want]

        s = arrays.searcher
        leaves = matching.matched_leaves(outcome) if request.highlight and page else []
        hits = tuple(
            self._hit(s, arrays, docnum,
                      float(score[docnum]) if scored_order and score is not None else 0.0,
                      request.offset + i + 1, matching.highlight_terms(outcome, leaves, docnum))
            for i, docnum in enumerate(page)
        )
        did_you_mean = None
        if total == 0 and outcome.unknown:
            from .vocabulary import Vocabulary

            did_you_mean = Vocabulary(arrays).suggest_text(request.query, outcome.unknown)
        took = (time.perf_counter() - started) * 1000
        return ResultPage(request, total, hits, facets, round(took, 3), describe(outcome.root),
                          scored_order, outcome.corrections, outcome.relaxed, did_you_mean,
                          parsed.note)

    def suggest(self, text: str) -> str | None:
        """A spelling correction for a query that found little: its words
        that the index lacks or has in at most 2 articles, replaced by a
        neighbour 1-2 edits away that is 10 times as common; or None."""
        from .matching import typed_words
        from .vocabulary import Vocabulary

        arrays = self.arrays()
        vocab = Vocabulary(arrays)
        rare = [w for w in typed_words(self.parse(text).root) if vocab.df(w) <= 2]
        if not rare:
            return None
        return vocab.suggest_text(text, rare, min_df_factor=10)

    # -- facets

    def _facet(self, snap: Any, name: str, mask: Any, matched: Any, size: int) -> Facet:
        import numpy as np

        if name == "year":
            years = snap.numeric_column("year_col", MISSING32)[matched]
            values, counts = np.unique(years[years != MISSING32], return_counts=True)
            items = sorted(((int(v), int(c)) for v, c in zip(values, counts, strict=True)),
                           key=lambda kv: (-kv[1], -kv[0]))
            top = items[:size]
            return Facet(name, tuple(FacetValue(v, n) for v, n in top), len(items),
                         sum(n for _, n in items[size:]))
        if name == "provider":
            ids, labels = snap.ref_column("provider_name")
            sel = ids[matched]
            counts = np.bincount(sel[sel >= 0], minlength=len(labels))
        else:  # topic
            docs, vids, labels = snap.multi_postings("topic", "topic_names")
            counts = np.bincount(vids[mask[docs]], minlength=len(labels))
        present = np.flatnonzero(counts)
        total = int(counts.sum())
        if 0 < size < len(present):
            # only values that can make the top `size` are sorted: those
            # counted at least as often as the size-th most common (ties kept)
            kth = np.partition(counts[present], len(present) - size)[len(present) - size]
            present = present[counts[present] >= kth]
        elif size == 0:
            present = present[:0]
        ranked = sorted(((labels[i], int(counts[i])) for i in present.tolist()),
                        key=lambda kv: (-kv[1], kv[0].casefold(), kv[0]))[:size]
        distinct = int(np.count_nonzero(counts))
        return Facet(name, tuple(FacetValue(v, n) for v, n in ranked), distinct,
                     total - sum(n for _, n in ranked))

    # -- hits and highlights

    def _hit(self, s: Any, snap: Any, docnum: int, score: float, rank: int,
             terms: dict[str, set[str]]) -> Hit:
        stored = s.stored_fields(docnum)
        title = stored.get("title", "") or ""
        excerpt = stored.get("excerpt", "") or ""
        published = stored.get("published")
        if isinstance(published, dt.datetime):
            published = published.replace(tzinfo=dt.timezone.utc)
        raw = snap.column_value("provider_name", docnum)
        provider = raw.decode("utf-8", "replace") if raw else ""
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

    def _spans(self, text: str, fieldname: str, terms: dict[str, set[str]]) -> tuple[Span, ...]:
        wanted = terms.get(fieldname)
        if not text or not wanted:
            return ()
        return highlight_spans(text, wanted)

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

    def articles_by_url(self, urls: Iterable[str]) -> dict[str, Hit]:
        """The indexed articles whose web or original URL is one of `urls`
        (compared by `url_key`), keyed by the URL as given; for linking an
        article's related coverage to the index. The URL table is read from
        the stored fields once per index generation."""
        arrays = self.arrays()

        def table() -> dict[str, int]:
            out: dict[str, int] = {}
            for docnum, stored in arrays.searcher.reader().iter_docs():
                if arrays.live[docnum]:
                    for value in (stored.get("url"), stored.get("original_url")):
                        if value:
                            out.setdefault(url_key(value), docnum)
            return out

        by_key = arrays.memo("articles-by-url", table)
        found: dict[str, Hit] = {}
        for url in urls:
            docnum = by_key.get(url_key(url))
            if docnum is not None:
                found[url] = self._hit(arrays.searcher, arrays, docnum, 0.0, 0, {})
        return found

    def values(self, name: str) -> list[FacetValue]:
        """Every value of a facet over the whole index, most common first
        (for completion and listings)."""
        import numpy as np

        snap = self.arrays()
        return list(self._facet(snap, name, snap.live, np.flatnonzero(snap.live), 10**9).values)

    def stats(self) -> IndexStats:
        """Index statistics. Raises IndexCorruptError when the index cannot be read."""
        try:
            return self._stats()
        except INDEX_DAMAGE as exc:
            raise _damaged(self.index_dir, exc) from None

    def _stats(self) -> IndexStats:
        import numpy as np

        from .store import read_meta

        snap = self.arrays()
        s = snap.searcher
        live = snap.live
        docs = np.flatnonzero(live)
        ts = snap.numeric_column("ts", MISSING)[docs]
        stamps = ts[ts != MISSING]
        meta = read_meta(self.index_dir)
        size = sum(p.stat().st_size for p in self.index_dir.iterdir() if p.is_file())
        return IndexStats(
            documents=len(docs),
            providers=self._facet(snap, "provider", live, docs, 0).distinct,
            topics=self._facet(snap, "topic", live, docs, 0).distinct,
            first_published=_from_micros(int(stamps.min())) if len(stamps) else None,
            last_published=_from_micros(int(stamps.max())) if len(stamps) else None,
            size_bytes=size,
            last_indexed=meta.last_indexed if meta else None,
            roots=tuple(meta.roots) if meta else (),
            index_dir=str(self.index_dir.resolve()),
            segments=len(s.reader().leaf_readers()) if hasattr(s.reader(), "leaf_readers") else 1,
            schema_version=meta.schema_version if meta else 0,
        )


def highlight_spans(text: str, wanted: set[str]) -> tuple[Span, ...]:
    """Character spans of the words of `text` whose index form is in `wanted`
    (the index's own analysis, so exactly the words that matched; a compound
    found by its joined form is marked whole)."""
    from .analysis import GROUP, index_tokens, searchable_stem

    spans: list[Span] = []
    for m in GROUP.finditer(text):
        group = m.group()
        if "." in group or "-" in group:  # a compound or a number: the full rules
            base = m.start()
            spans += [(base + a, base + b) for _, a, b, term in index_tokens(group) if term in wanted]
        elif searchable_stem(group) in wanted:
            spans.append((m.start(), m.end()))
    return tuple(spans)


def url_key(url: str) -> str:
    """A URL in the form two links to the same page share: no scheme, no
    `www.`, no fragment, no trailing slash, host in lower case."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if sep and scheme.isalpha():
        text = rest
    text = text.split("#", 1)[0]
    host, slash, path = text.partition("/")
    host = host.lower().removeprefix("www.")
    return (host + slash + path).rstrip("/")


def _from_micros(value: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=value)


def iter_all(searcher: Searcher, request: SearchRequest, page_size: int = 500) -> Iterable[Hit]:
    """Every hit of a request, page by page (for exports)."""
    offset = 0
    while True:
        page = searcher.search(replace(request, limit=page_size, offset=offset, facets=(), facet_size=0))
        yield from page.hits
        offset += page_size
        if offset >= page.total or not page.hits:
            return
