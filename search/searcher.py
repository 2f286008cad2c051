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
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import NotInIndexError, UsageError
from .query import ParsedQuery, parse_query
from .results import (
    FACETS,
    MAX_LIMIT,
    SORTS,
    Facet,
    FacetValue,
    Hit,
    IndexStats,
    ResultPage,
    SearchRequest,
    Span,
    StoryInfo,
    StoryMember,
)
from .schema import MISSING, MISSING32
from .store import damaged

if TYPE_CHECKING:
    from .similar import SimilarParams

__all__ = ["FACETS", "MAX_LIMIT", "SORTS", "Facet", "FacetValue", "Hit", "IndexStats", "ResultPage",
           "SearchRequest", "Searcher", "Span", "StoryInfo", "StoryMember", "highlight_spans", "iter_all"]

#: what Whoosh raises on damaged index files: missing or cut-short files,
#: unpicklable or misaligned blocks (its directory and stored fields are pickles)
INDEX_DAMAGE = (OSError, EOFError, ValueError, KeyError, IndexError,
                pickle.UnpicklingError, struct.error, zlib.error)


_MAX_SCORE = 3.0e38  # just under float32's largest finite value
#: parsed queries kept per searcher (paging and batch runs repeat queries)
PARSE_CACHE_SIZE = 256


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
        #: segments whose files this searcher checked against their checksums
        self._verified: set[str] = set()

    # -- lifecycle

    def _open(self) -> Any:
        from . import whoosh_adapter as wa
        from .store import open_index, verify_segments

        if self._ix is None:
            self._ix = open_index(self.index_dir, verified=self._verified)
        if self._searcher is None:
            self._searcher = wa.view(self._ix)
            self._arrays = None
        elif not self._searcher.up_to_date():
            # a fresh searcher, not refresh(): whoosh3's refresh reuses segment
            # readers with their old deletion lists, so a long-lived searcher
            # (REPL, --batch) saw deleted and replaced documents twice
            verify_segments(self.index_dir, self._ix, self._verified)  # the new segments only
            self._searcher.close()
            self._searcher = wa.view(self._ix)
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

    def warnings(self) -> list[str]:
        """What a caller should tell the user about the index, one line each:
        an index run that did not finish, damaged posting sidecars read
        around so far."""
        from .store import incomplete_notice, read_meta

        notice = incomplete_notice(read_meta(self.index_dir))
        found = [notice] if notice else []
        if self._arrays is not None:
            found += self._arrays.problems
        return found

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
            raise damaged(self.index_dir, exc) from None

    def _search(self, request: SearchRequest, started: float) -> ResultPage:
        import numpy as np

        from . import matching
        from .query import describe

        arrays = self.arrays()
        parsed = self.parse(request.query, request.match, request.prefix_last)
        with np.errstate(over="ignore", invalid="ignore"):
            outcome = matching.run(arrays, parsed, request.filters.clauses(), request.typos)
        score = outcome.match.score
        if score is not None:
            # absurd boosts (`x^1e40`) must not turn into Infinity/NaN in JSON
            np.nan_to_num(score, copy=False, nan=0.0, posinf=_MAX_SCORE, neginf=-_MAX_SCORE)
        scored = score is not None and not matching.is_unscored(outcome.root)
        leaves: list[Any] = []

        def terms(docnum: int) -> dict[str, set[str]]:
            if not leaves:
                leaves.extend(matching.matched_leaves(outcome))
            return matching.highlight_terms(outcome, leaves, docnum)

        page = self._assemble(arrays, request, outcome.match.mask, score if scored else None, terms,
                              started)
        did_you_mean = None
        if page.total == 0 and outcome.unknown:
            from .vocabulary import Vocabulary

            did_you_mean = Vocabulary(arrays).suggest_text(request.query, outcome.unknown)
        return replace(page, parsed=describe(outcome.root), corrections=outcome.corrections,
                       relaxed=outcome.relaxed, did_you_mean=did_you_mean,
                       note="; ".join(n for n in (parsed.note, page.note) if n))

    def _assemble(self, arrays: Any, request: SearchRequest, mask: Any, score: Any,
                  terms: Any, started: float) -> ResultPage:
        """A result page from a match mask and scores (None: not scored):
        the exact total, facets over every match, the exact top-k page in
        the requested order (one hit per story when grouped), and the page's
        hits with highlights (`terms` gives a document's index terms to mark
        per field) and stories."""
        import numpy as np

        from . import story_groups
        from .ranking import sort_key, top_documents

        mask = mask & arrays.live
        matched = np.flatnonzero(mask)
        facets = {name: self._facet(arrays, name, mask, matched, request.facet_size)
                  for name in request.facets}
        # a query with nothing to score (`-crypto`, filters only) is ordered newest first
        scored_order = request.sort == "relevance" and score is not None
        want = request.offset + request.limit
        key = sort_key(arrays, request.sort if scored_order or request.sort != "relevance" else "newest",
                       score if scored_order else None)
        stories = story_groups.labels(arrays)
        grouped = request.group == "story" and stories is not None
        n_stories = None
        if grouped:
            assert stories is not None
            ranked, n_stories = story_groups.representatives(arrays, matched, key, stories, want)
            page = [int(d) for d in ranked[request.offset : want]]
        else:
            page = top_documents(arrays, matched, key, want)[request.offset : want]
        s = arrays.searcher
        hits = tuple(
            self._hit(s, arrays, docnum, float(score[docnum]) if scored_order else 0.0,
                      request.offset + i + 1, terms(docnum) if request.highlight else {},
                      story_groups.info(arrays, stories, docnum, request.members if grouped else None)
                      if stories is not None else None)
            for i, docnum in enumerate(page)
        )
        took = (time.perf_counter() - started) * 1000
        note = ("no stories in this index generation yet (an index run has not finished); "
                "not grouped" if request.group == "story" and not grouped else "")
        return ResultPage(request, len(matched), hits, facets, round(took, 3), scored=scored_order,
                          stories=n_stories, note=note)

    def similar(self, path: str, request: SearchRequest,
                params: SimilarParams | None = None) -> ResultPage:
        """The articles most like the indexed article at `path` (as printed
        in a hit's `path`, or a file under a corpus folder of the index),
        itself excluded; `request` gives filters, order, page and facets
        (its query is not used). Raises NotInIndexError for an unknown
        article."""
        request.validate()
        started = time.perf_counter()
        try:
            from .similar import SimilarParams

            return self._similar(path, request, params or SimilarParams(), started)
        except (UsageError, NotInIndexError, KeyboardInterrupt):
            raise
        except INDEX_DAMAGE as exc:
            raise damaged(self.index_dir, exc) from None

    def _similar(self, path: str, request: SearchRequest, params: SimilarParams,
                 started: float) -> ResultPage:
        from . import matching
        from .query.model import Bool
        from .similar import SourceText, key_terms, similar_scores

        arrays = self.arrays()
        docnum = self.find(path)
        stored = arrays.searcher.stored_fields(docnum)
        source = SourceText(docnum, stored.get("title", "") or "", stored.get("excerpt", "") or "",
                            tuple(stored.get("topics_list") or ()))
        clauses = request.filters.clauses()
        allowed = arrays.live
        if clauses:
            allowed = matching.run(arrays, ParsedQuery("", Bool(clauses))).match.mask
        score = similar_scores(arrays, source, allowed, params)
        wanted = {term for term, _ in key_terms(arrays, source, params)}
        page = self._assemble(arrays, request, score > 0, score,
                              lambda _docnum: {"title": wanted, "excerpt": wanted}, started)
        return replace(page, source=stored.get("path", path), source_title=source.title)

    def story(self, path: str) -> tuple[Hit, ...]:
        """Every indexed article of the story of the article at `path` (as
        for `find`), oldest first and ranked 1..n, the article included; the
        article alone when it has no story or the index has no stories yet.
        Raises NotInIndexError."""
        from . import story_groups

        try:
            arrays = self.arrays()
            docnum = self.find(path)
            stories = story_groups.labels(arrays)
            docs = story_groups.members_of(arrays, stories, docnum) if stories is not None else [docnum]
            return tuple(
                self._hit(arrays.searcher, arrays, d, 0.0, rank, {},
                          story_groups.info(arrays, stories, d, None) if stories is not None else None)
                for rank, d in enumerate(docs, 1))
        except (UsageError, NotInIndexError, KeyboardInterrupt):
            raise
        except INDEX_DAMAGE as exc:
            raise damaged(self.index_dir, exc) from None

    def find(self, path: str) -> int:
        """The document number of an indexed article: `path` as printed in
        a hit (relative to its corpus folder), or a file path under one of
        the index's corpus folders. Raises NotInIndexError."""
        import numpy as np

        arrays = self.arrays()
        candidates = [(path.replace("\\", "/"), None)]
        target = Path(path).expanduser()
        if target.is_file() or target.is_absolute():
            from .store import read_meta

            meta = read_meta(self.index_dir)
            real = target.resolve()
            for root in (meta.roots if meta else []):
                try:
                    candidates.append((real.relative_to(Path(root)).as_posix(), Path(root).as_posix()))
                except ValueError:
                    continue
        for relpath, root in candidates:
            for docnum in np.flatnonzero(arrays.doc_mask("path", relpath)).tolist():
                if root is None or arrays.searcher.stored_fields(docnum).get("root") == root:
                    return int(docnum)
        raise NotInIndexError(f"{path}: not in the index")

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
             terms: dict[str, set[str]], story: StoryInfo | None = None) -> Hit:
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
            story=story,
        )

    def _spans(self, text: str, fieldname: str, terms: dict[str, set[str]]) -> tuple[Span, ...]:
        wanted = terms.get(fieldname)
        if not text or not wanted:
            return ()
        return highlight_spans(text, wanted)

    # -- index facts

    def whoosh_searcher(self) -> Any:
        """The underlying, up-to-date view of the Whoosh index
        (`whoosh_adapter.IndexView`: `.reader()` and stored fields); owned
        by this object, do not close it."""
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
            raise damaged(self.index_dir, exc) from None

    def _stats(self) -> IndexStats:
        import numpy as np

        from .store import incomplete_notice, read_meta

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
            incomplete=incomplete_notice(meta),
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
