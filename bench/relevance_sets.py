"""Query sets of the relevance benchmark: where the queries and their answers come from.

Four sets, all derived from the corpus files so nobody can tune them by hand:

* **S**, simulated known-item queries (Azzopardi, de Rijke & Balog, "Building
  simulated queries for known-item topics", SIGIR 2007). Targets are chosen
  with a seed from target folders (by default all of `corpus/ai` and 400 of
  `corpus-azure`). For each target and each k in (2, 3, 4), k distinct words
  are drawn one by one: with probability 0.9 from the target's own title and
  excerpt, each word with probability ∝ tf·idf (the "discriminative" document
  model: tf in title + excerpt, idf = ln(N / df) over the titles and excerpts of
  the whole corpus), else a noise word from the whole collection with
  probability ∝ its collection frequency. A word already in the query is never
  drawn again; when the target has no word left with positive weight, the draw
  falls back to the collection. Relevant: the target and every article with the
  same title key (`title_key`, i.e. copies of the same article).
* **S-typo**: each S query with one random edit (insert, delete, substitute or
  transpose a letter) in one of its words of 5+ letters; queries without such
  a word are kept unchanged and counted.
* **H**, pasted headlines at story level: each distinct `related` headline
  (by title key) of the articles in the headline folder (default `corpus/ai`)
  once. Relevant: every article in the corpus that lists it, plus every
  article whose URL equals the URL of a listed item with that headline, or
  whose title key equals the headline's.
* **v1**, the first benchmark's pasted headlines (`extract_queries`), kept as
  a regression guard: every related title is its own query per listing article.

Words (`surface_words`): `\\w+` runs (Unicode letters, digits, underscore) of
the lower-cased text (`str.lower`), minus single characters (the `s` of
`Microsoft's`, `t` of `don't`), pure numbers of one or two digits, and the
stop words of `STOP_WORDS`. When an excerpt ends with an ellipsis (`...` or
`…`, the corpus's sign of a cut excerpt), its last word is dropped because it
may be cut in half. Everything here is deterministic for a seed: each query
draws from its own `random.Random` seeded with a string made of the seed, the
target path and k (str seeds hash with SHA-512, not Python's salted hash).
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from search.documents import Article, Related, parse_article, walk_corpus
from search.errors import SkipFile

#: the generator's stop list, frozen: Whoosh 3.54's `whoosh.analysis.STOP_WORDS`
#: (the classic 34-word list), copied so that the queries do not change when our
#: engine's own stop list does
STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "for", "from", "have", "if", "in",
    "is", "it", "may", "not", "of", "on", "or", "tbd", "that", "the", "this", "to", "us", "we",
    "when", "will", "with", "yet", "you", "your",
))
KS = (2, 3, 4)
P_TARGET = 0.9
MIN_TYPO_LETTERS = 5
#: v1: related titles shorter than this are not queries
MIN_QUERY_WORDS = 3
EDITS = ("insert", "delete", "substitute", "transpose")
ALPHABET = "abcdefghijklmnopqrstuvwxyz"

_WORD = re.compile(r"\w+")
_ELLIPSIS = ("...", "…")


# ----------------------------------------------------------------- words


def raw_words(text: str) -> list[str]:
    """The `\\w+` runs of the lower-cased text, nothing dropped."""
    return _WORD.findall(text.lower())


def is_query_word(word: str) -> bool:
    """Whether a word may be drawn: not a single character, not a number of
    one or two digits, not a stop word."""
    return len(word) > 1 and not (word.isdigit() and len(word) <= 2) and word not in STOP_WORDS


def surface_words(text: str, cut: bool = False) -> list[str]:
    """The words the generator may draw from `text`, in order, repeats kept.
    `cut`: the text may end in a cut word (an excerpt ending in an ellipsis)."""
    words = raw_words(text)
    if cut and words and text.rstrip().endswith(_ELLIPSIS):
        words = words[:-1]
    return [w for w in words if is_query_word(w)]


def article_words(article: Article) -> list[str]:
    """The drawable words of an article's title and excerpt."""
    return surface_words(article.title) + surface_words(article.excerpt, cut=True)


def title_key(text: str) -> str:
    """A title compared by its words alone: case, punctuation and spacing ignored."""
    return " ".join(_WORD.findall(text.casefold()))


def normalize_title(text: str) -> str:
    """v1's title comparison: case- and whitespace-insensitive."""
    return " ".join(text.casefold().split())


# ----------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Corpus:
    """Every indexable article of the benchmark's corpus roots, and where each lives."""

    roots: tuple[Path, ...]
    articles: tuple[Article, ...]  # sorted by path
    files: dict[str, Path] = field(compare=False)  # path -> absolute file

    def by_path(self) -> dict[str, Article]:
        return {a.path: a for a in self.articles}

    def under(self, folder: Path) -> list[Article]:
        """The articles whose file lies under `folder`, by path."""
        folder = folder.resolve()
        return [a for a in self.articles if self.files[a.path].is_relative_to(folder)]


def load_corpus(roots: Sequence[Path], on_skip: Callable[[str, str], None] | None = None) -> Corpus:
    """Every article under `roots` that our indexer would index, with its related list.

    Files are skipped exactly when our indexer skips them (any parse failure).
    Raises ValueError when two roots hold the same relative path, since hits
    are identified by that path.
    """
    articles: dict[str, Article] = {}
    files: dict[str, Path] = {}
    resolved = tuple(Path(r).resolve() for r in roots)
    for root in resolved:
        for cf in walk_corpus(root):
            try:
                with open(cf.abspath, "rb") as fh:
                    article = parse_article(cf.relpath, fh.read(), with_related=True)
            except (OSError, SkipFile) as exc:
                if on_skip is not None:
                    on_skip(str(cf.abspath), str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - the indexer skips these too
                if on_skip is not None:
                    on_skip(str(cf.abspath), f"unexpected error: {type(exc).__name__}: {exc}")
                continue
            if article.path in articles:
                raise ValueError(f"{article.path}: the same relative path is in two corpus roots")
            articles[article.path] = article
            files[article.path] = Path(cf.abspath)
    return Corpus(resolved, tuple(articles[p] for p in sorted(articles)), files)


def save_corpus(corpus: Corpus, path: Path) -> None:
    """Write the parsed corpus as JSON, so a later run skips the YAML parsing
    (about a minute for the combined corpus). Related items keep only their
    title and URL, which is all the benchmark reads."""
    def article(a: Article) -> dict[str, object]:
        data = {f.name: getattr(a, f.name) for f in dataclasses.fields(a) if f.name != "related"}
        data["published"] = a.published.isoformat() if a.published else None
        data["related"] = [[r.title, r.url] for r in a.related]
        return data

    payload = {"roots": [str(r) for r in corpus.roots],
               "files": {p: str(f) for p, f in corpus.files.items()},
               "articles": [article(a) for a in corpus.articles]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(path)


def read_corpus(path: Path) -> Corpus:
    """A corpus written by `save_corpus`."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    articles = []
    for data in payload["articles"]:
        published = dt.datetime.fromisoformat(data["published"]) if data["published"] else None
        related = tuple(Related(title, url) for title, url in data["related"])
        articles.append(Article(**{**data, "topics": tuple(data["topics"]), "published": published,
                                   "related": related}))
    return Corpus(tuple(Path(r) for r in payload["roots"]), tuple(articles),
                  {p: Path(f) for p, f in payload["files"].items()})


def load_articles(roots: Sequence[Path], on_skip: Callable[[str, str], None] | None = None) -> list[Article]:
    """The articles of `load_corpus`, as a list."""
    return list(load_corpus(roots, on_skip).articles)


# ----------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    """One known-item query and the articles that answer it.

    `cluster` is the unit the bootstrap resamples (the target, or the listing
    article); the other fields describe how the query was made.
    """

    text: str
    relevant: frozenset[str]
    cluster: str
    k: int = 0  # S: the number of words asked for
    words: tuple[str, ...] = ()  # S: the drawn words, in order
    from_target: tuple[bool, ...] = ()  # S: which words came from the target
    original: str = ""  # S-typo: the S query that was edited
    edit: str = ""  # S-typo: what was changed ("" when the query had no word to edit)

    @property
    def source(self) -> str:
        """v1's name for the cluster: the listing article."""
        return self.cluster

    @property
    def half(self) -> str:
        """'A' or 'B' by a stable hash of the cluster (not Python's salted hash)."""
        return "A" if hashlib.blake2b(self.cluster.encode()).digest()[0] % 2 == 0 else "B"


#: v1's name for a query
KnownItem = Query


def extract_queries(articles: Iterable[Article], listing: Callable[[Article], bool] | None = None
                    ) -> list[Query]:
    """v1: each related title of 3+ words that is not the listing article's own
    title (case- and space-insensitively) is a query; relevant are the listing
    article and every article whose URL equals the related item's. Identical
    (text, relevant) pairs count once. `listing` limits which articles' lists
    are read (every article's URLs still count). Stable order: by listing
    article path, then position in its list."""
    articles = sorted(articles, key=lambda a: a.path)
    by_url: dict[str, set[str]] = {}
    for a in articles:
        for url in {a.url, a.original_url} - {""}:
            by_url.setdefault(url, set()).add(a.path)
    seen: set[tuple[str, frozenset[str]]] = set()
    out: list[Query] = []
    for a in articles:
        if listing is not None and not listing(a):
            continue
        own = normalize_title(a.title)
        for rel in a.related:
            text = " ".join(rel.title.split())
            norm = normalize_title(text)
            if len(norm.split()) < MIN_QUERY_WORDS or norm == own:
                continue
            relevant = frozenset({a.path} | (by_url.get(rel.url, set()) if rel.url else set()))
            key = (norm, relevant)
            if key in seen:
                continue
            seen.add(key)
            out.append(Query(text, relevant, a.path))
    return out


def headline_queries(corpus: Corpus, folder: Path) -> list[Query]:
    """H: each distinct related headline of the articles under `folder` once
    (see the module docstring). Order: by first listing article, then
    position in its list; the cluster is that first listing article."""
    listers: dict[str, set[str]] = {}
    urls: dict[str, set[str]] = {}
    for a in corpus.articles:
        for rel in a.related:
            key = title_key(rel.title)
            listers.setdefault(key, set()).add(a.path)
            if rel.url:
                urls.setdefault(key, set()).add(rel.url)
    by_url: dict[str, set[str]] = {}
    by_title: dict[str, set[str]] = {}
    for a in corpus.articles:
        for url in {a.url, a.original_url} - {""}:
            by_url.setdefault(url, set()).add(a.path)
        by_title.setdefault(title_key(a.title), set()).add(a.path)
    out: list[Query] = []
    seen: set[str] = set()
    for a in corpus.under(folder):
        for rel in a.related:
            key = title_key(rel.title)
            if key in seen or len(key.split()) < MIN_QUERY_WORDS:
                continue
            seen.add(key)
            relevant = set(listers[key]) | by_title.get(key, set())
            for url in urls.get(key, ()):
                relevant |= by_url.get(url, set())
            out.append(Query(" ".join(rel.title.split()), frozenset(relevant), a.path))
    return out


# ----------------------------------------------------------------- S


@dataclass(frozen=True)
class TermStats:
    """Document and collection frequencies of the drawable words of a corpus."""

    n_docs: int
    df: dict[str, int]
    vocabulary: tuple[str, ...]  # sorted
    cumulative_cf: tuple[int, ...]  # running sum of the collection frequencies, same order

    @classmethod
    def of(cls, corpus: Corpus) -> TermStats:
        df: Counter[str] = Counter()
        cf: Counter[str] = Counter()
        for a in corpus.articles:
            words = article_words(a)
            cf.update(words)
            df.update(set(words))
        vocabulary = tuple(sorted(cf))
        return cls(len(corpus.articles), dict(df), vocabulary,
                   tuple(itertools.accumulate(cf[w] for w in vocabulary)))

    def idf(self, word: str) -> float:
        return math.log(self.n_docs / self.df[word])

    def noise_word(self, rng: random.Random, taken: set[str]) -> str | None:
        """A word drawn ∝ collection frequency, not in `taken` (None if none is left)."""
        if len(taken) >= len(self.vocabulary):
            return None
        total = self.cumulative_cf[-1]
        while True:  # rejection: `taken` holds at most 3 words of a large vocabulary
            word = self.vocabulary[bisect.bisect_right(self.cumulative_cf, rng.random() * total)]
            if word not in taken:
                return word


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    """One key drawn ∝ its weight (keys in sorted order, so a seed fixes the draw)."""
    keys = sorted(weights)
    cumulative = list(itertools.accumulate(weights[k] for k in keys))
    i = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
    return keys[min(i, len(keys) - 1)]


def target_model(article: Article, stats: TermStats) -> dict[str, float]:
    """The discriminative document model: word -> tf·idf (positive weights only)."""
    tf = Counter(article_words(article))
    weights = {w: n * stats.idf(w) for w, n in tf.items()}
    return {w: x for w, x in weights.items() if x > 0}


def simulate_query(article: Article, k: int, stats: TermStats, rng: random.Random,
                   p_target: float = P_TARGET) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """k distinct words for a known-item query on `article`, and for each
    whether it came from the target (see the module docstring)."""
    model = target_model(article, stats)
    words: list[str] = []
    sources: list[bool] = []
    for _ in range(k):
        # the source is drawn first, so the 0.9 share holds whatever is left to draw
        from_target = rng.random() < p_target
        left = {w: x for w, x in model.items() if w not in words}
        if from_target and left:
            word: str | None = _weighted(rng, left)
        else:
            from_target = False
            word = stats.noise_word(rng, set(words))
        if word is None:
            break
        words.append(word)
        sources.append(from_target)
    return tuple(words), tuple(sources)


def select_targets(corpus: Corpus, pools: Sequence[tuple[Path, int | None]], seed: int) -> list[Article]:
    """The targets: from each (folder, count) pool, `count` articles drawn with
    the seed (every article when count is None or exceeds the pool), by path."""
    rng = random.Random(f"targets:{seed}")
    chosen: dict[str, Article] = {}
    for folder, count in pools:
        pool = corpus.under(folder)
        if count is not None and count < len(pool):
            pool = rng.sample(pool, count)
        chosen.update((a.path, a) for a in pool)
    return [chosen[p] for p in sorted(chosen)]


def simulated_queries(corpus: Corpus, targets: Sequence[Article], seed: int, ks: Sequence[int] = KS,
                      stats: TermStats | None = None, p_target: float = P_TARGET) -> list[Query]:
    """S: one query per target and k, ordered by target path then k."""
    stats = stats or TermStats.of(corpus)
    by_title: dict[str, set[str]] = {}
    for a in corpus.articles:
        by_title.setdefault(title_key(a.title), set()).add(a.path)
    out: list[Query] = []
    for target in targets:
        relevant = frozenset(by_title.get(title_key(target.title), set()) | {target.path})
        for k in ks:
            rng = random.Random(f"query:{seed}:{target.path}:{k}")
            words, sources = simulate_query(target, k, stats, rng, p_target)
            if words:
                out.append(Query(" ".join(words), relevant, target.path, k, words, sources))
    return out


# ----------------------------------------------------------------- S-typo


def typo(word: str, rng: random.Random) -> tuple[str, str]:
    """`word` with exactly one edit (Damerau-Levenshtein distance 1), and a
    description of it. Transposition swaps two different adjacent letters;
    substitution puts a different letter."""
    while True:
        kind = rng.choice(EDITS)
        if kind == "insert":
            i = rng.randrange(len(word) + 1)
            c = rng.choice(ALPHABET)
            return word[:i] + c + word[i:], f"insert {c!r} at {i}"
        if kind == "delete":
            i = rng.randrange(len(word))
            return word[:i] + word[i + 1:], f"delete {word[i]!r} at {i}"
        if kind == "substitute":
            i = rng.randrange(len(word))
            c = rng.choice([x for x in ALPHABET if x != word[i]])
            return word[:i] + c + word[i + 1:], f"substitute {word[i]!r} -> {c!r} at {i}"
        spots = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
        if spots:
            i = rng.choice(spots)
            return word[:i] + word[i + 1] + word[i] + word[i + 2:], f"transpose {i},{i + 1}"


def typo_query(query: Query, seed: int) -> Query:
    """The S-typo version of an S query: one edit in one of its words of 5+
    letters (all alphabetic), chosen uniformly; unchanged when it has none.
    An edit that yields a stop word or another word of the query is drawn again."""
    rng = random.Random(f"typo:{seed}:{query.cluster}:{query.k}:{query.text}")
    words = list(query.words or query.text.split())
    eligible = [i for i, w in enumerate(words) if len(w) >= MIN_TYPO_LETTERS and w.isalpha()]
    if not eligible:
        return Query(query.text, query.relevant, query.cluster, query.k, query.words,
                     query.from_target, original=query.text)
    i = rng.choice(eligible)
    word = words[i]
    while True:
        edited, what = typo(word, rng)
        if edited not in STOP_WORDS and edited not in words:
            break
    words[i] = edited
    return Query(" ".join(words), query.relevant, query.cluster, query.k, tuple(words),
                 query.from_target, original=query.text, edit=f"{word}: {what}")


def typo_queries(queries: Sequence[Query], seed: int) -> list[Query]:
    """S-typo: every S query with one edit (or unchanged, see `typo_query`)."""
    return [typo_query(q, seed) for q in queries]
