"""Stories: articles of different outlets that report the same event share a story id.

How two articles get linked (details in `story_links.py`):

* the same normalised URL within the window (one article stored twice), or
* published within `window_days` of each other by different providers, and
  the TF-IDF cosine of their words (title counted twice, then the excerpt;
  sub-linear term counts, IDF raised to `idf_power`, computed as if
  `background` unrelated articles were there too) reaches `high`, or
  reaches `low` when they also share rare words (named entities, numbers,
  event words: the IDF of shared terms found in at most 1/`rare_ratio` of
  the articles or in at most `rare_min_df` summing to `rare_mass` nats), or
  reaches `related_low` when one lists the other as related coverage (the
  listing alone is never enough);
* but never when each title names a rare entity the other article does not
  mention at all (two companies' identical press releases).

Stories are the connected components of the links (single link); a story's
id is the key of its earliest member (by date, then key), so it stays the
same while its membership (and the members' dates) do.

`StoryIndex` keeps per-article features, document frequencies and links, so
that adding, changing or deleting articles recomputes only the links of the
articles involved and of the few articles holding a term whose IDF class
moved; the result is the same as a full rebuild (see `StoryIndex.update`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import struct
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from .errors import IndexCorruptError, IndexIncompatibleError
from .story_links import components, compute_links
from .story_table import NO_TIME, FeatureTable, Vocabulary, corpus_class
from .story_text import article_terms, normalize_url, term_hash, text_hash

if TYPE_CHECKING:
    from .documents import Article

#: how much of an excerpt counts: the lead carries the news, the rest is noise
EXCERPT_CHARS = 1_000
TITLE_WEIGHT = 2


@dataclass(frozen=True)
class StoryDoc:
    """What story grouping needs of one article."""

    key: str  # the article's path: its identity
    title: str
    excerpt: str = ""
    provider: str = ""
    published: dt.datetime | None = None  # timezone-aware
    url: str = ""  # normalised (see story_text.normalize_url)
    related: tuple[str, ...] = ()  # normalised URLs of its related coverage


def story_doc(article: Article) -> StoryDoc:
    """The StoryDoc of a parsed article. Its related URLs come from
    `related_urls` (read by every parse) and from `related` (parsed with
    `with_related=True`)."""
    related: list[str] = []
    for raw in [*article.related_urls, *(item.url for item in article.related)]:
        url = normalize_url(raw)
        if url and url not in related:
            related.append(url)
    return StoryDoc(
        key=article.path, title=article.title, excerpt=article.excerpt, provider=article.provider,
        published=article.published, url=normalize_url(article.url), related=tuple(related),
    )


# ------------------------------------------------------------------ features

_HEADER = struct.Struct("<4sqQQIII")
_MAGIC = b"SF1\x00"


@dataclass(frozen=True, eq=False)
class StoryFeatures:
    """The compact numeric form of a StoryDoc that clustering works on.

    Terms are 64-bit hashes (no vocabulary needed), so a row can be cached
    with `to_bytes` and read back with `from_bytes` instead of re-parsing
    the article.
    """

    key: str
    ts: int | None  # publication time, seconds since the epoch
    provider: int  # hash of the case-folded provider name, 0 when unknown
    url: int  # hash of the normalised URL, 0 when none
    related: np.ndarray  # uint64 sorted hashes of related URLs
    terms: np.ndarray  # uint64 sorted term hashes
    counts: np.ndarray  # uint16 occurrences: title × TITLE_WEIGHT + excerpt
    names: np.ndarray = field(repr=False)  # bool: the term is a name in the title

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoryFeatures):
            return NotImplemented
        mine = (self.key, self.ts, self.provider, self.url)
        theirs = (other.key, other.ts, other.provider, other.url)
        return mine == theirs and all(
            np.array_equal(x, y) for x, y in zip(self._arrays(), other._arrays(), strict=True))

    __hash__ = None  # type: ignore[assignment]

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return self.related, self.terms, self.counts, self.names

    def to_bytes(self) -> bytes:
        """A compact binary form (about 11 bytes per term)."""
        key = self.key.encode("utf-8", "surrogatepass")
        ts = NO_TIME if self.ts is None else self.ts
        head = _HEADER.pack(_MAGIC, ts, self.provider, self.url, len(key), len(self.terms), len(self.related))
        return b"".join([
            head, key, self.terms.astype("<u8").tobytes(), self.counts.astype("<u2").tobytes(),
            np.packbits(self.names.astype(np.uint8)).tobytes(), self.related.astype("<u8").tobytes(),
        ])

    @classmethod
    def from_bytes(cls, data: bytes) -> StoryFeatures:
        """Read `to_bytes` output back; IndexCorruptError when it is not that."""
        try:
            magic, ts, provider, url, n_key, n_terms, n_related = _HEADER.unpack_from(data)
            if magic != _MAGIC:
                raise ValueError("bad magic")
            pos = _HEADER.size
            key = data[pos:pos + n_key].decode("utf-8", "surrogatepass")
            pos += n_key
            terms_ = np.frombuffer(data, "<u8", n_terms, pos).astype(np.uint64)
            pos += 8 * n_terms
            counts = np.frombuffer(data, "<u2", n_terms, pos).astype(np.uint16)
            pos += 2 * n_terms
            n_bits = (n_terms + 7) // 8
            names = np.unpackbits(np.frombuffer(data, np.uint8, n_bits, pos))[:n_terms].astype(bool)
            pos += n_bits
            related = np.frombuffer(data, "<u8", n_related, pos).astype(np.uint64)
            if pos + 8 * n_related != len(data):
                raise ValueError("trailing bytes")
        except (struct.error, ValueError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"story features: unreadable record ({exc})") from None
        return cls(key, None if ts == NO_TIME else ts, provider, url, related, terms_, counts, names)


def doc_features(doc: StoryDoc) -> StoryFeatures:
    """The features of one StoryDoc."""
    counts, names = article_terms(doc.title, doc.excerpt[:EXCERPT_CHARS], TITLE_WEIGHT)
    words = list(counts)
    hashes = np.array([term_hash(t) for t in words], dtype=np.uint64)
    order = hashes.argsort(kind="stable")
    return StoryFeatures(
        key=doc.key,
        ts=None if doc.published is None else int(doc.published.timestamp()),
        provider=text_hash(" ".join(doc.provider.casefold().split())),
        url=text_hash(doc.url),
        related=np.unique(np.array([text_hash(u) for u in doc.related if u], dtype=np.uint64)),
        terms=hashes[order],
        counts=np.minimum(np.array(list(counts.values()), dtype=np.int64), 0xFFFF).astype(np.uint16)[order],
        names=np.array([t in names for t in words], dtype=bool)[order],
    )


def article_features(article: Article) -> StoryFeatures:
    """The features of a parsed article."""
    return doc_features(story_doc(article))


@dataclass(frozen=True)
class StoryParams:
    """The knobs of the link rule (defaults measured in bench/stories.py)."""

    window_days: float = 3.0
    high: float = 0.40
    low: float = 0.25
    rare_mass: float = 24.0  # nats of IDF
    rare_ratio: float = 256.0  # rare: in at most 1/rare_ratio of the articles...
    rare_min_df: int = 20  # ...or in at most this many (small corpora)
    related_low: float = 0.25
    idf_power: float = 1.5
    name_veto: bool = True
    name_ratio: float = 1024.0  # a title name is rare in at most 1/name_ratio of the articles...
    name_max_df: int = 3  # ...or in at most this many
    # IDF is computed as if this many unrelated articles were there too: in a
    # corpus of a few hundred, a story's own words are in a tenth of it
    background: int = 1024

    def fingerprint(self) -> str:
        """A short digest of the parameters, for an index to notice that they changed."""
        return hashlib.blake2b(json.dumps(asdict(self), sort_keys=True).encode(), digest_size=8).hexdigest()


def cluster_stories(docs: Iterable[StoryDoc], params: StoryParams | None = None) -> dict[str, str]:
    """Story id of every doc: the key of the earliest member of its story."""
    return StoryIndex.build((doc_features(d) for d in docs), params).stories()


# ------------------------------------------------------------------ the index

_FORMAT = 1


class StoryIndex:
    """Every article's story features, their document frequencies and links.

    Immutable: `update` returns a new index. `build(rows).update(removed,
    upserted)` links exactly the pairs that `build(new rows)` links (the
    test suite checks this on random edit sequences), because

    * a link between two articles depends only on the two feature rows, the
      IDF classes of their terms and the corpus size class (integer
      arithmetic, so sums do not depend on order or batch);
    * `update` recomputes every link touching an added or changed article
      or an article holding a term whose class moved, drops the links of
      deleted articles, keeps all other links (none of their inputs
      changed), and rebuilds everything when the corpus size class moves
      (once per 19 % growth or shrinkage).
    """

    def __init__(self, table: FeatureTable, vocab: Vocabulary, links: np.ndarray,
                 params: StoryParams) -> None:
        self.table = table
        self.vocab = vocab
        self.links = links  # int64 (k, 2) row pairs, a < b
        self.params = params
        #: rows whose links the last build or update computed (all for a build)
        self.recomputed = len(table)
        #: the index generation a loaded story index was saved for (-1: unknown)
        self.generation = -1

    # -------------------------------------------------------------- building

    @classmethod
    def build(cls, features: Iterable[StoryFeatures], params: StoryParams | None = None) -> StoryIndex:
        """The index of these articles (a later row with the same key wins)."""
        rows = list({f.key: f for f in features}.values())
        return cls._of_table(FeatureTable.from_features(rows), params or StoryParams())

    @classmethod
    def _of_table(cls, table: FeatureTable, params: StoryParams) -> StoryIndex:
        vocab = Vocabulary.of(table)
        return cls(table, vocab, compute_links(table, vocab, params), params)

    def update(self, removed: Iterable[str] = (), upserted: Iterable[StoryFeatures] = ()) -> StoryIndex:
        """The index after deleting the keys `removed` and adding or replacing
        the rows `upserted` (a key in both is replaced)."""
        new_rows = list({f.key: f for f in upserted}.values())
        dropped = self.table.rows_of(sorted(set(removed) | {f.key for f in new_rows}))
        kept_mask = np.ones(len(self.table), bool)
        kept_mask[dropped] = False
        kept = np.flatnonzero(kept_mask)
        old_part = self.table.take(dropped)
        new_part = FeatureTable.from_features(new_rows)
        table = FeatureTable.concat(self.table.take(kept), new_part)
        vocab, moved = self.vocab.updated(old_part.terms, new_part.terms)
        background = self.params.background
        if corpus_class(len(table) + background) != corpus_class(len(self.table) + background):
            return StoryIndex(table, vocab, compute_links(table, vocab, self.params), self.params)
        affected = np.zeros(len(table), bool)
        affected[len(kept):] = True
        if len(moved):
            hit = np.isin(table.terms, moved)
            affected[table.row_of_posting()[hit]] = True
        remap = np.full(len(self.table), -1, np.int64)
        remap[kept] = np.arange(len(kept), dtype=np.int64)
        old = remap[self.links] if len(self.links) else np.zeros((0, 2), np.int64)
        if len(old):
            old = old[(old >= 0).all(axis=1)]
            old = old[~(affected[old[:, 0]] | affected[old[:, 1]])]
        sources = np.flatnonzero(affected)
        fresh = compute_links(table, vocab, self.params, sources=sources)
        links = np.concatenate([old, fresh])
        if len(links):
            n = len(table)
            keys = np.unique(links[:, 0] * n + links[:, 1])
            links = np.stack([keys // n, keys % n], axis=1)
        index = StoryIndex(table, vocab, links, self.params)
        index.recomputed = len(sources)
        return index

    # -------------------------------------------------------------- reading

    def __len__(self) -> int:
        return len(self.table)

    def stories(self) -> dict[str, str]:
        """Story id of every article: the key of its story's earliest member
        (by publication time, undated last, then by key)."""
        table = self.table
        n = len(table)
        if n == 0:
            return {}
        label = components(n, self.links)
        when = np.where(table.ts == NO_TIME, np.iinfo(np.int64).max, table.ts)
        order = np.lexsort((when, label))  # by story, then time
        first = np.flatnonzero(np.r_[True, label[order][1:] != label[order][:-1]])
        head = order[first]
        # members published at the same second as the earliest: the key decides
        tied = np.flatnonzero((first + 1 < n) & (np.r_[first[1:], n] > first + 1))
        tied = tied[when[order[np.minimum(first[tied] + 1, n - 1)]] == when[head[tied]]]
        for i in tied.tolist():
            stop = first[i + 1] if i + 1 < len(first) else n
            members = order[first[i]:stop]
            members = members[when[members] == when[head[i]]]
            head[i] = min(members.tolist(), key=table.keys.__getitem__)
        story_of_label = np.empty(n, dtype=object)
        story_of_label[label[head]] = table.keys[head]
        return dict(zip(table.keys.tolist(), story_of_label[label].tolist(), strict=True))

    def link_keys(self) -> set[tuple[str, str]]:
        """The links as (key, key) pairs, each pair sorted."""
        keys = self.table.keys
        return {(min(keys[a], keys[b]), max(keys[a], keys[b])) for a, b in self.links.tolist()}

    # -------------------------------------------------------------- storage

    def save(self, path: Path) -> None:
        """Write the index to `path` (atomically: a temporary file, then a rename)."""
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            self.write(fh)
        tmp.replace(path)

    def write(self, fh: BinaryIO, generation: int = -1) -> None:
        """Write the index to an open binary file; `generation` records which
        index generation it describes (read back by `load`)."""
        t = self.table
        meta = json.dumps({"format": _FORMAT, "params": asdict(self.params),
                           "generation": generation}).encode()
        # keys as one NUL-separated UTF-8 blob: a fixed-width unicode array
        # would take 4 bytes per character of the longest path
        blob = "\x00".join(t.keys.tolist()).encode("utf-8", "surrogateescape")
        arrays = {
            "meta": np.frombuffer(meta, np.uint8), "keys": np.frombuffer(blob, np.uint8),
            "key_hash": t.key_hash, "ts": t.ts, "provider": t.provider, "url": t.url, "tptr": t.tptr,
            "terms": t.terms, "counts": t.counts, "names": t.names, "rptr": t.rptr, "related": t.related,
            "vocab_terms": self.vocab.terms, "vocab_df": self.vocab.df, "links": self.links,
        }
        np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: Path, params: StoryParams | None = None) -> StoryIndex:
        """Read a saved index. IndexCorruptError when the file is damaged;
        IndexIncompatibleError when it was saved with other parameters or
        another format (rebuild it)."""
        params = params or StoryParams()
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(arrays["meta"].tobytes().decode())
            blob = arrays["keys"].tobytes().decode("utf-8", "surrogateescape")
        except (OSError, ValueError, KeyError, EOFError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"{path}: unreadable story index ({exc})") from None
        if meta.get("format") != _FORMAT or meta.get("params") != asdict(params):
            raise IndexIncompatibleError(f"{path}: story index built with other settings; rebuild it")
        try:
            keys = np.empty(len(arrays["ts"]), dtype=object)
            keys[:] = blob.split("\x00") if len(keys) else []
            table = FeatureTable(
                keys=keys, key_hash=arrays["key_hash"], ts=arrays["ts"], provider=arrays["provider"],
                url=arrays["url"], tptr=arrays["tptr"], terms=arrays["terms"], counts=arrays["counts"],
                names=arrays["names"], rptr=arrays["rptr"], related=arrays["related"],
            )
            vocab = Vocabulary(arrays["vocab_terms"], arrays["vocab_df"])
            links = arrays["links"].reshape(-1, 2)
        except (KeyError, ValueError) as exc:
            raise IndexCorruptError(f"{path}: story index is damaged ({exc})") from None
        if not _consistent(table, vocab, links):
            raise IndexCorruptError(f"{path}: story index is damaged (inconsistent arrays)")
        index = cls(table, vocab, links, params)
        index.generation = int(meta.get("generation", -1))
        return index


def _consistent(table: FeatureTable, vocab: Vocabulary, links: np.ndarray) -> bool:
    """Cheap structural checks of loaded arrays (lengths, pointers, link rows)."""
    n = len(table)
    columns = (table.key_hash, table.ts, table.provider, table.url)
    if any(len(c) != n for c in columns) or len(table.tptr) != n + 1 or len(table.rptr) != n + 1:
        return False
    if len(table.counts) != len(table.terms) or len(table.names) != len(table.terms):
        return False
    for ptr, data in ((table.tptr, table.terms), (table.rptr, table.related)):
        if ptr[0] != 0 or ptr[-1] != len(data) or (np.diff(ptr) < 0).any():
            return False
    if len(vocab.terms) != len(vocab.df):
        return False
    if not len(links):
        return True
    return bool((links >= 0).all() and (links < n).all() and (links[:, 0] < links[:, 1]).all())


def changed_stories(before: Mapping[str, str], after: Mapping[str, str]) -> set[str]:
    """Keys whose story id differs between two `stories()` results (or that
    appear in only one)."""
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
