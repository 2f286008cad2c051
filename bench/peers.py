"""Peer search engines for the benchmarks: SQLite FTS5 and tantivy.

Both peers index exactly what our engine ranks on (an article's own title,
excerpt and topics; never its `related` titles) from exactly the documents our
indexer accepts (`peer_docs` reads the corpus through `search.documents` and
skips the same files), so differences in the results come from ranking alone.

Query semantics, identical for both peers and documented so that the
comparison is fair:

* the user's text is split into word tokens (`\\w+`, Unicode-aware), and the
  query combines those tokens over title, excerpt and topics in one of two
  modes: `or` (a document matches when any token matches any of the three
  fields) or `and` (it must match every token, each in any field; FTS5's
  implicit AND of juxtaposed strings, tantivy's `conjunction_by_default`);
  both modes search the same index (`with_mode`);
* each token is quoted, so words like `AND`/`NOT`/`NEAR` and punctuation are
  never operators: a pasted headline cannot be misread as query syntax;
* each engine's own English stemming, no stop-word list (neither FTS5's
  `porter` tokenizer nor tantivy's `en_stem` has one);
* titles and topics get the same field weights as ours (`default_weights`,
  read when the peer is created);
* text with no word token matches nothing;
* ties are broken by path: FTS5 orders by `bm25(), path`; tantivy's top hits
  are fetched past the k-th score until the score drops, then sorted by
  (score descending, path), so equal scores never depend on index order.

`search_with_facets` returns the exact number of matches and exact per-provider
counts over every match (documents without a provider are not counted), i.e.
what `Counter(doc.provider for doc in matches if doc.provider)` gives.
"""

from __future__ import annotations

import copy
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from search.documents import Article, parse_article, walk_corpus
from search.errors import SkipFile

#: the fields every engine ranks on, in the order the peers store them
TEXT_FIELDS = ("title", "excerpt", "topics")
#: separator between topics in the peers' `topics` text (ours uses the same)
TOPIC_JOIN = " ; "
_TOKEN = re.compile(r"\w+")
#: how a peer combines a query's tokens
MODES = ("or", "and")
#: the weights used when the engine exposes none (the values ours had at 48003e0)
FALLBACK_WEIGHTS = {"title": 2.5, "excerpt": 1.0, "topics": 1.5}


@dataclass(frozen=True)
class PeerDoc:
    """One article as the peers index it (same fields as our ranked ones)."""

    path: str  # relative to its corpus root, like our hits' `.path`
    title: str
    excerpt: str
    topics: tuple[str, ...]
    provider: str
    published: datetime | None
    url: str


class Peer(Protocol):
    """A peer engine: build once, then answer ranked and faceted queries."""

    name: str

    def build(self, docs: Iterable[PeerDoc], workdir: Path) -> None:
        """Index `docs` from scratch, keeping any files under `workdir`."""
        ...

    def open(self, workdir: Path) -> None:
        """Open the index a previous `build` left under `workdir`."""
        ...

    def with_mode(self, mode: str) -> Peer:
        """The same index queried in another mode (`or` or `and`)."""
        ...

    def search(self, query: str, k: int = 10) -> list[str]:
        """The paths of the top `k` documents, best first."""
        ...

    def search_with_facets(self, query: str, k: int = 10) -> tuple[int, list[str], dict[str, int]]:
        """(exact total, top-`k` paths, exact provider counts over all matches)."""
        ...


def query_tokens(text: str) -> list[str]:
    """The word tokens of a user query, in order, duplicates removed.

    Duplicates go because repeating a word in an OR adds nothing to what
    matches, and engines differ in whether it adds to the score.
    """
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(text):
        seen.setdefault(token.lower(), None)
    return list(seen)


def peer_docs(
    roots: Sequence[Path | str], on_skip: Callable[[str, str], None] | None = None
) -> list[PeerDoc]:
    """Every indexable article under `roots`, read the way our indexer reads them.

    Files our indexer skips (no front matter, bad YAML, no title or excerpt,
    unreadable...) are skipped here too and reported through
    `on_skip(path, reason)`.
    """
    docs: list[PeerDoc] = []
    for root in roots:
        for cf in walk_corpus(Path(root)):
            try:
                with open(cf.abspath, "rb") as fh:
                    data = fh.read()
                article = parse_article(cf.relpath, data)
            except OSError as exc:
                reason = f"cannot read file ({exc.strerror or exc})"
            except SkipFile as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - the indexer skips these too
                reason = f"unexpected error: {type(exc).__name__}: {exc}"
            else:
                docs.append(to_peer_doc(article))
                continue
            if on_skip is not None:
                on_skip(str(cf.abspath), reason)
    return docs


def to_peer_doc(article: Article) -> PeerDoc:
    """The peers' view of one parsed article."""
    return PeerDoc(
        path=article.path,
        title=article.title,
        excerpt=article.excerpt,
        topics=article.topics,
        provider=article.provider,
        published=article.published,
        url=article.url,
    )


def default_weights() -> dict[str, float]:
    """Our engine's field weights: `search.ranking.Ranking().weight(field)`
    (the query-model engine), `search.query.FIELD_BOOSTS` (older engines), or
    FALLBACK_WEIGHTS when neither exists."""
    try:
        from search.ranking import Ranking

        ranking = Ranking()
        return {name: float(ranking.weight(name)) for name in TEXT_FIELDS}
    except (ImportError, AttributeError):
        pass
    try:
        from search.query import FIELD_BOOSTS  # type: ignore[attr-defined]
    except ImportError:
        return dict(FALLBACK_WEIGHTS)
    return {name: float(FIELD_BOOSTS.get(name, 1.0)) for name in TEXT_FIELDS}


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown peer mode {mode!r}: choose from {', '.join(MODES)}")
    return mode


#: the field weights every engine has out of the box
EQUAL_WEIGHTS = {name: 1.0 for name in TEXT_FIELDS}


class _Moded:
    """The `mode`, `with_mode` and `with_weights` both peers share."""

    base_name = ""
    mode = "or"
    weights_label = ""  # "" for our engine's weights

    @property
    def name(self) -> str:
        return f"{self.base_name} {self.mode}" + (f", {self.weights_label}" if self.weights_label else "")

    def with_mode(self, mode: str) -> Any:
        clone = copy.copy(self)  # shares the open index: one build serves both modes
        clone.mode = _check_mode(mode)
        return clone

    def with_weights(self, weights: Mapping[str, float], label: str) -> Any:
        """The same index queried with other field weights (query-time only)."""
        clone = copy.copy(self)
        clone._set_weights(dict(weights))
        clone.weights_label = label
        return clone

    def _set_weights(self, weights: dict[str, float]) -> None:
        self.weights = weights


# ----------------------------------------------------------------- SQLite FTS5


class Fts5Peer(_Moded):
    """SQLite FTS5 (stdlib `sqlite3`) ranked by its built-in `bm25()`.

    Tokenizer `porter unicode61 remove_diacritics 2`: Unicode word splitting,
    case and diacritics folded, Porter stemming. `bm25()` takes per-column
    weights, given our field boosts; ties are broken by path.
    """

    base_name = "sqlite-fts5"
    FILE = "fts5.sqlite3"

    def __init__(self, weights: Mapping[str, float] | None = None, mode: str = "or") -> None:
        self.mode = _check_mode(mode)
        self._db: sqlite3.Connection | None = None
        self._set_weights(dict(weights) if weights is not None else default_weights())

    def _set_weights(self, weights: dict[str, float]) -> None:
        self.weights = w = weights
        # UNINDEXED columns take a weight slot too; it is never used
        self._rank = f"bm25(docs, {w['title']!r}, {w['excerpt']!r}, {w['topics']!r}, 0.0, 0.0)"

    def build(self, docs: Iterable[PeerDoc], workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / self.FILE
        if self._db is not None:
            self._db.close()
        path.unlink(missing_ok=True)
        db = sqlite3.connect(path)
        db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(title, excerpt, topics,"
            " path UNINDEXED, provider UNINDEXED,"
            " tokenize='porter unicode61 remove_diacritics 2')"
        )
        db.executemany(
            "INSERT INTO docs(title, excerpt, topics, path, provider) VALUES (?, ?, ?, ?, ?)",
            ((d.title, d.excerpt, TOPIC_JOIN.join(d.topics), d.path, d.provider) for d in docs),
        )
        db.commit()
        # `optimize` merges the b-trees into one, as a long-lived index would be
        db.execute("INSERT INTO docs(docs) VALUES ('optimize')")
        db.commit()
        self._db = db

    def open(self, workdir: Path) -> None:
        path = workdir / self.FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no FTS5 index to reuse")
        if self._db is not None:
            self._db.close()
        self._db = sqlite3.connect(path)

    def match_expression(self, query: str) -> str:
        """The FTS5 MATCH text: every token quoted, then OR'ed (`or` mode) or
        juxtaposed, which FTS5 reads as AND (`and` mode); '' when no token."""
        joiner = " OR " if self.mode == "or" else " "
        return joiner.join('"' + t.replace('"', '""') + '"' for t in query_tokens(query))

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("build() the peer before searching")
        return self._db

    def search(self, query: str, k: int = 10) -> list[str]:
        expr = self.match_expression(query)
        if not expr:
            return []
        rows = self._conn().execute(
            f"SELECT path FROM docs WHERE docs MATCH ? ORDER BY {self._rank}, path LIMIT ?",
            (expr, k),
        )
        return [r[0] for r in rows]

    def search_with_facets(self, query: str, k: int = 10) -> tuple[int, list[str], dict[str, int]]:
        expr = self.match_expression(query)
        if not expr:
            return 0, [], {}
        db = self._conn()
        counts: dict[str, int] = {}
        total = 0
        for provider, n in db.execute(
            "SELECT provider, count(*) FROM docs WHERE docs MATCH ? GROUP BY provider", (expr,)
        ):
            total += n
            if provider:
                counts[provider] = n
        return total, self.search(query, k), counts

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


# ----------------------------------------------------------------- tantivy


class TantivyPeer(_Moded):
    """tantivy (PyPI `tantivy`), BM25 summed over fields, via its query parser.

    Fields use the `en_stem` tokenizer (split on non-alphanumerics, lower-case,
    drop tokens over 40 bytes, English Snowball stemming). The query is parsed
    with `parse_query` over title/excerpt/topics with our field boosts, OR or
    AND of the tokens by the mode. One indexing thread keeps one segment, so
    the provider terms aggregation is exact (checked on every call).
    """

    base_name = "tantivy"
    FOLDER = "tantivy"

    def __init__(self, weights: Mapping[str, float] | None = None, mode: str = "or") -> None:
        import tantivy

        self._tantivy = tantivy
        self.weights = dict(weights) if weights is not None else default_weights()
        self.mode = _check_mode(mode)
        self._index: Any = None
        self._searcher: Any = None
        self._ndocs = 0

    def _schema(self) -> Any:
        sb = self._tantivy.SchemaBuilder()
        sb.add_text_field("path", stored=True, tokenizer_name="raw")
        for name in TEXT_FIELDS:
            sb.add_text_field(name, tokenizer_name="en_stem")
        sb.add_text_field("provider", fast=True, tokenizer_name="raw")
        return sb.build()

    def build(self, docs: Iterable[PeerDoc], workdir: Path) -> None:
        tantivy = self._tantivy
        folder = workdir / self.FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(self._schema(), path=str(folder), reuse=False)
        writer = index.writer(heap_size=128_000_000, num_threads=1)
        for d in docs:
            fields: dict[str, Any] = {
                "path": d.path,
                "title": d.title,
                "excerpt": d.excerpt,
                "topics": TOPIC_JOIN.join(d.topics),
            }
            if d.provider:
                fields["provider"] = d.provider
            writer.add_document(tantivy.Document(**fields))
        writer.commit()
        writer.wait_merging_threads()
        self._attach(index)

    def open(self, workdir: Path) -> None:
        folder = workdir / self.FOLDER
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no tantivy index to reuse")
        self._attach(self._tantivy.Index(self._schema(), path=str(folder), reuse=True))

    def _attach(self, index: Any) -> None:
        index.reload()
        self._index = index
        self._searcher = index.searcher()
        self._ndocs = self._searcher.num_docs

    def parse(self, query: str) -> Any | None:
        """The tantivy query for `query` (None when it has no word token)."""
        tokens = query_tokens(query)
        if not tokens:
            return None
        if self._index is None:
            raise RuntimeError("build() the peer before searching")
        # quoting keeps AND/OR/NOT and field-like words literal
        text = " ".join(f'"{t}"' for t in tokens)
        return self._index.parse_query(
            text, list(TEXT_FIELDS), field_boosts=self.weights,
            conjunction_by_default=self.mode == "and",
        )

    def _top(self, q: Any, k: int) -> list[str]:
        """The top `k` paths, equal scores ordered by path: fetch until the
        last fetched score is below the k-th, so no tie is cut by index order."""
        n = k + 10
        while True:
            hits = self._searcher.search(q, n, count=False).hits
            if len(hits) < n or hits[-1][0] < hits[k - 1][0]:
                break
            n *= 4
        ranked = sorted((-score, self._searcher.doc(addr)["path"][0]) for score, addr in hits)
        return [path for _, path in ranked[:k]]

    def search(self, query: str, k: int = 10) -> list[str]:
        q = self.parse(query)
        if q is None or k <= 0:
            return []
        return self._top(q, k)

    def search_with_facets(self, query: str, k: int = 10) -> tuple[int, list[str], dict[str, int]]:
        q = self.parse(query)
        if q is None:
            return 0, [], {}
        result = self._searcher.search(q, 1, count=True)
        paths = self._top(q, k) if k > 0 else []
        size = max(self._ndocs, 1)
        agg = self._searcher.aggregate(
            q, {"p": {"terms": {"field": "provider", "size": size, "shard_size": size}}}
        )["p"]
        if agg.get("sum_other_doc_count", 0) or agg.get("doc_count_error_upper_bound", 0):
            raise RuntimeError("tantivy provider counts are not exact")
        counts = {b["key"]: int(b["doc_count"]) for b in agg["buckets"]}
        return int(result.count), paths, counts


def fts5_peer(mode: str = "or") -> Peer:
    """A new, unbuilt SQLite FTS5 peer."""
    return Fts5Peer(mode=mode)


def tantivy_peer(mode: str = "or") -> Peer:
    """A new, unbuilt tantivy peer; ImportError with the remedy when it is missing."""
    try:
        import tantivy  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "the tantivy peer needs the `tantivy` package: "
            "pip install -e '.[bench]' (or pip install tantivy)"
        ) from exc
    return TantivyPeer(mode=mode)
