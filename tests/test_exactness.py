"""Exactness is untouched (issue 5): on a generated corpus, totals and facet
counts equal the slow, obvious computation made directly from the files.

The expected answers are computed here without the index: every file's front
matter is parsed with PyYAML, every text field is run through the analyzer that
defines the index's terms, and each query is evaluated by brute force over all
documents (a set of terms per field, adjacency for phrases). Facets are plain
`Counter`s over the matching documents. Whatever the search engine does to be
fast (column facets, pruning, caches), these numbers must not move.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SHARED_CORPUS, load_generator, osa, requires_shared_corpus

REPO = Path(__file__).resolve().parents[1]
N_ARTICLES = 1500
UTC = dt.timezone.utc

pytestmark = requires_shared_corpus()


# ----------------------------------------------------------------- the obvious computation


@dataclass(frozen=True)
class Doc:
    """One article as read straight from its file, with its analyzed terms."""

    path: str
    provider: str
    topics: tuple[str, ...]
    published: dt.datetime | None
    tokens: dict[str, tuple[str, ...]]  # field -> analyzed tokens in order
    words: frozenset[str]  # its distinct words as written (lower-case)

    def has(self, term: str, fields: tuple[str, ...] = ("title", "excerpt", "topics")) -> bool:
        return any(term in self.tokens[f] for f in fields)

    def has_any(self, terms: set[str]) -> bool:
        return any(t in terms for f in ("title", "excerpt", "topics") for t in self.tokens[f])

    def has_phrase(self, terms: tuple[str, ...]) -> bool:
        n = len(terms)
        for f in ("title", "excerpt", "topics"):
            toks = self.tokens[f]
            if any(toks[i : i + n] == terms for i in range(len(toks) - n + 1)):
                return True
        return False


def read_docs(root: Path) -> list[Doc]:
    import html

    import yaml

    from search.analysis import stems, surface_words

    def text_of(value: object) -> str:
        return html.unescape(" ".join(str(value or "").split()))

    docs = []
    for path in sorted(root.rglob("*.md")):
        text = path.read_text("utf-8")
        data = yaml.safe_load(text[4 : text.index("\n---", 3)])
        published = data.get("publishedDateTime")
        if isinstance(published, dt.datetime):
            published = (published if published.tzinfo else published.replace(tzinfo=UTC)).astimezone(UTC)
        else:
            published = None
        topics = tuple(dict.fromkeys(str(t) for t in data.get("topics") or []))
        title, excerpt = text_of(data.get("title")), text_of(data.get("excerpt"))
        docs.append(
            Doc(
                path=path.relative_to(root).as_posix(),
                provider=str((data.get("provider") or {}).get("name") or ""),
                topics=topics,
                published=published,
                tokens={
                    "title": tuple(stems(title)),
                    "excerpt": tuple(stems(excerpt)),
                    "topics": tuple(stems(" ; ".join(topics))),
                },
                words=frozenset(surface_words(" ".join((title, excerpt, *topics)))),
            )
        )
    return docs


def stem(word: str) -> str:
    from search.analysis import stems

    (token,) = stems(word)
    return token


def expected_facets(docs: list[Doc]) -> dict[str, dict[str | int, int]]:
    provider = Counter(d.provider for d in docs if d.provider)
    topic = Counter(t for d in docs for t in {x.casefold(): x for x in d.topics}.values())
    year = Counter(d.published.year for d in docs if d.published)
    return {"provider": dict(provider), "topic": dict(topic), "year": dict(year)}


# ----------------------------------------------------------------- the strategy, by brute force

Pred = Callable[[Doc], bool]


def auto_match(docs: list[Doc], units: list[Pred]) -> list[Doc]:
    """The default matching strategy, written out plainly (README: every
    word; when no article has them all, drop the most frequent words first;
    a query of `long_words`+ words needs `long_share` of them)."""
    import itertools
    import math

    from search.ranking import Ranking

    r = Ranking()
    n = len(units)
    hits = [[u(d) for u in units] for d in docs]
    if n >= r.long_words:
        need = max(1, math.ceil(r.long_share * n))
        most = max((sum(h) for h in hits), default=0)
        need = min(need, most) if most else need
        return [d for d, h in zip(docs, hits, strict=True) if sum(h) >= need]
    every = [d for d, h in zip(docs, hits, strict=True) if all(h)]
    if every or n < 2:
        return every
    df = [sum(h[j] for h in hits) for j in range(n)]
    for size in range(n - 1, 0, -1):
        for keep in sorted(itertools.combinations(range(n), size),
                           key=lambda k: (-sum(df[j] for j in range(n) if j not in k), k)):
            found = [d for d, h in zip(docs, hits, strict=True) if all(h[j] for j in keep)]
            if found:
                return found
    return []


def typo_terms(docs: list[Doc], typed: str) -> set[str]:
    """Index terms a word the corpus lacks is corrected to (README: words
    within 1 edit for 5+ letters, 2 edits for 9+)."""
    limit = 2 if len(typed) >= 9 else 1 if len(typed) >= 5 else 0
    vocabulary = set().union(*(d.words for d in docs))
    return {stem(w) for w in vocabulary if w != typed and osa(typed, w) <= limit}


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Doc]]:
    from search.indexer import build_index

    base = tmp_path_factory.mktemp("exactness")
    corpus, _ = load_generator().write_corpus(SHARED_CORPUS, base / "corpus", N_ARTICLES, 5)
    index = base / "index"
    report = build_index(index, [corpus])
    assert report.documents == N_ARTICLES and not report.skipped
    return corpus, index, read_docs(corpus)


@pytest.fixture(scope="module")
def searcher(generated: tuple[Path, Path, list[Doc]]):  # type: ignore[no-untyped-def]
    from search.searcher import Searcher

    with Searcher(generated[1]) as s:
        yield s


def headline(docs: list[Doc], corpus: Path) -> str:
    """A real ten-word-ish title of the corpus with no query syntax in it."""
    import yaml

    for d in docs:
        text = (corpus / d.path).read_text("utf-8")
        title = str(yaml.safe_load(text[4 : text.index("\n---", 3)])["title"])
        words = title.split()
        if 8 <= len(words) <= 12 and all(w.isalpha() for w in words) and "AND" not in words \
                and "OR" not in words and "NOT" not in words and "TO" not in words:
            return title
    raise AssertionError("no plain headline in the generated corpus")


# query text -> the matching documents among those passing the filters
Case = tuple[str, Callable[[list[Doc]], list[Doc]]]


def query_cases(docs: list[Doc], corpus: Path) -> list[Case]:
    title = headline(docs, corpus)
    title_units = list(dict.fromkeys(stem(w) for w in title.split() if _kept(w)))
    power, apps, portals = stem("power"), stem("apps"), stem("portals")
    facial, recognition, privacy = stem("facial"), stem("recognition"), stem("privacy")
    machine, learning = stem("machine"), stem("learning")
    prefixed = {stem(w) for d in docs for w in d.words if w.startswith("recog")}
    typo = typo_terms(docs, "recognitoin")
    assert recognition in typo

    def where(pred: Pred) -> Callable[[list[Doc]], list[Doc]]:
        return lambda ds: [d for d in ds if pred(d)]

    def every(*terms: str) -> Callable[[list[Doc]], list[Doc]]:
        return lambda ds: auto_match(ds, [lambda d, t=t: d.has(t) for t in terms])

    return [
        ("*", where(lambda d: True)),
        ("recognition", where(lambda d: d.has(recognition))),
        ("facial recognition privacy", every(facial, recognition, privacy)),
        ("facial recognition zzzqx", every(facial, recognition, "zzzqx")),
        ("facial OR recognition OR privacy", where(lambda d: d.has(facial) or d.has(recognition)
                                                   or d.has(privacy))),
        ("power AND apps", where(lambda d: d.has(power) and d.has(apps))),
        ("apps NOT portals", where(lambda d: d.has(apps) and not d.has(portals))),
        ("+apps -portals", where(lambda d: d.has(apps) and not d.has(portals))),
        ('"machine learning"', where(lambda d: d.has_phrase((machine, learning)))),
        ("recog*", where(lambda d: d.has_any(prefixed))),
        ("recognitoin", where(lambda d: d.has_any(typo))),
        ("facial recognitoin", lambda ds: auto_match(ds, [lambda d: d.has(facial),
                                                           lambda d: d.has_any(typo)])),
        ("title:privacy", where(lambda d: d.has(privacy, ("title",)))),
        (title, lambda ds: auto_match(ds, [lambda d, t=t: d.has(t) for t in title_units])),
    ]


def _kept(word: str) -> bool:
    from search.analysis import stems

    return bool(stems(word))


FILTERS: list[tuple[str, dict[str, object], Callable[[Doc], bool]]] = [
    ("no filter", {}, lambda d: True),
    ("provider", {"providers": ("Microsoft",)}, lambda d: d.provider.casefold() == "microsoft"),
    ("two providers", {"providers": ("microsoft", "Neowin")},
     lambda d: d.provider.casefold() in ("microsoft", "neowin")),
    ("topic", {"topics": ("ai",)}, lambda d: any(t.casefold() == "ai" for t in d.topics)),
    ("dates", {"since": dt.datetime(2020, 1, 1, tzinfo=UTC),
               "until": dt.datetime(2021, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)},
     lambda d: d.published is not None
     and dt.datetime(2020, 1, 1, tzinfo=UTC) <= d.published <= dt.datetime(2021, 6, 30, 23, 59, 59, 999999,
                                                                             tzinfo=UTC)),
    ("topic and dates", {"topics": ("Power Apps",), "since": dt.datetime(2022, 1, 1, tzinfo=UTC)},
     lambda d: "power apps" in {t.casefold() for t in d.topics}
     and d.published is not None and d.published >= dt.datetime(2022, 1, 1, tzinfo=UTC)),
]


# ----------------------------------------------------------------- tests


def test_generated_corpus_is_varied_enough(generated: tuple[Path, Path, list[Doc]]) -> None:
    """The checks below mean something only if the facets have many values."""
    docs = generated[2]
    facets = expected_facets(docs)
    assert len(facets["provider"]) > 100
    assert len(facets["topic"]) > 10
    assert len(facets["year"]) == 8
    assert any(d.published is None for d in docs)


@pytest.mark.parametrize("filter_name", [f[0] for f in FILTERS])
def test_totals_and_facets_equal_brute_force(
    generated: tuple[Path, Path, list[Doc]], searcher: object, filter_name: str
) -> None:
    from search.query import Filters
    from search.searcher import SearchRequest

    corpus, _, docs = generated
    _, filter_kwargs, keep = next(f for f in FILTERS if f[0] == filter_name)
    checked = 0
    for text, matches in query_cases(docs, corpus):
        expected_docs = matches([d for d in docs if keep(d)])
        page = searcher.search(  # type: ignore[attr-defined]
            SearchRequest(text, filters=Filters(**filter_kwargs),  # type: ignore[arg-type]
                          facets=("provider", "topic", "year"), facet_size=10**6, limit=0)
        )
        assert page.total == len(expected_docs), (text, filter_name)
        want = expected_facets(expected_docs)
        for name in ("provider", "topic", "year"):
            got = {v.value: v.count for v in page.facets[name].values}
            assert got == want[name], (text, filter_name, name)
            assert page.facets[name].distinct == len(want[name])
            assert page.facets[name].other == 0
        checked += bool(expected_docs)
    assert checked >= 5  # most cases match something: the comparison is not vacuous


def test_small_facet_pages_add_up(generated: tuple[Path, Path, list[Doc]], searcher: object) -> None:
    """With the default facet size the top values are exact and `other` holds the rest."""
    from search.searcher import SearchRequest

    docs = generated[2]
    want = expected_facets([d for d in docs if d.has(stem("apps"))])["provider"]
    page = searcher.search(SearchRequest("apps", facets=("provider",), facet_size=10))  # type: ignore[attr-defined]
    facet = page.facets["provider"]
    ranked = sorted(want.items(), key=lambda kv: (-kv[1], kv[0].casefold(), kv[0]))
    assert [(v.value, v.count) for v in facet.values] == ranked[:10]
    assert facet.other == sum(n for _, n in ranked[10:])
    assert facet.distinct == len(want)


def test_cli_batch_totals_equal_brute_force(generated: tuple[Path, Path, list[Doc]]) -> None:
    """The `search query --batch` path (the benchmark's) gives the same numbers."""
    from search.cli import main
    from search.env import Env

    corpus, index, docs = generated
    cases = query_cases(docs, corpus)
    out = io.StringIO()
    env = Env(stdin=io.StringIO("".join(t + "\n" for t, _ in cases)), stdout=out,
              stderr=io.StringIO(), environ={})
    code = main(["query", "--batch", "--format", "json", "--facet", "year", "--facet-size", "100",
                 "--provider", "Microsoft", "--index", str(index)], env)
    assert code == 0
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(answers) == len(cases)
    for (text, matches), answer in zip(cases, answers, strict=True):
        expected_docs = matches([d for d in docs if d.provider == "Microsoft"])
        assert answer["total"] == len(expected_docs), text
        years = {v["value"]: v["count"] for v in answer["facets"]["year"]}
        assert years == expected_facets(expected_docs)["year"], text
