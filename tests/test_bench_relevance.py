"""The relevance benchmark (bench/relevance.py) and its peer engines (bench/peers.py):
query extraction, metrics, exact peer totals and facets, and an end-to-end run,
all on tiny corpora written into tmp_path."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPUS = REPO.parent / "shared" / "corpus"


def _load(name: str) -> ModuleType:
    """bench/<name>.py as a module (bench/ is a folder of scripts, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


relevance = _load("relevance")
peers = _load("peers")


def _has_tantivy() -> bool:
    return importlib.util.find_spec("tantivy") is not None


# ----------------------------------------------------------------- fixture corpus


def write_article(root: Path, rel: str, title: str, excerpt: str = "", *, provider: str = "",
                  url: str = "", original_url: str = "", topics: tuple[str, ...] = ("AI",),
                  related: list[dict[str, str]] | None = None) -> None:
    """One corpus file in the real corpus's layout (JSON strings are valid YAML)."""
    lines = ["---", f"title: {json.dumps(title)}"]
    if excerpt:
        lines.append(f"excerpt: {json.dumps(excerpt)}")
    if url:
        lines.append(f"webUrl: {json.dumps(url)}")
    if original_url:
        lines.append(f"originalUrl: {json.dumps(original_url)}")
    lines.append("publishedDateTime: 2022-03-24T10:00:00Z")
    if provider:
        lines += ["provider:", f"  name: {json.dumps(provider)}", "  domain: example.com"]
    lines += ["topics:", *[f"  - {json.dumps(t)}" for t in topics]]
    if related:
        lines.append("related:")
        for item in related:
            lines.append(f"  - title: {json.dumps(item['title'])}")
            for key in ("webUrl", "originalUrl"):
                if key in item:
                    lines.append(f"    {key}: {json.dumps(item[key])}")
    lines.append("---")
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\nBody text is never indexed.\n", encoding="utf-8")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """Five articles, two of them listing related coverage, and one bad file."""
    root = tmp_path / "corpus"
    write_article(
        root, "news/robots.md", "Alpha robots learn to walk",
        "Engineers taught quadruped robots to walk on ice.", provider="Tech Daily",
        url="https://a.example/robots",
        related=[
            # other coverage that is in the corpus (by webUrl): relevant = lister + it
            {"title": "Walking robots go solo on frozen lakes", "webUrl": "https://b.example/solo"},
            # the article's own title, up to case and spacing: not a query
            {"title": "alpha  ROBOTS learn to   walk", "webUrl": "https://c.example/same"},
            # fewer than 3 words: not a query
            {"title": "Robots walk", "webUrl": "https://d.example/short"},
            # listed twice with the same answers: one query
            {"title": "Walking robots go solo on frozen lakes", "webUrl": "https://b.example/solo"},
            # not in the corpus: relevant = lister only
            {"title": "Quadruped machines master icy terrain", "webUrl": "https://e.example/ice"},
        ],
    )
    write_article(
        root, "news/solo.md", "Walking robots go solo on frozen lakes",
        "Frozen lakes are the new test ground for legged machines.", provider="Robot Wire",
        url="https://b.example/solo",
    )
    write_article(
        root, "news/chips.md", "Chipmakers race to build faster accelerators",
        "A new generation of accelerators promises cheaper training.", provider="Tech Daily",
        original_url="https://f.example/chips",
    )
    write_article(
        root, "news/train.md", "Training costs fall as accelerators improve",
        "Cheaper accelerators cut the cost of training language models.", provider="Tech Daily",
        related=[
            # matched through the other article's originalUrl
            {"title": "Chipmakers race to build faster accelerators", "originalUrl": "https://f.example/chips"},
            # the same headline as a query listed by robots.md, different answers: its own query
            {"title": "Quadruped machines master icy terrain"},
        ],
    )
    write_article(root, "other/garden.md", "Gardeners swap tomato seeds", "Heirloom varieties return.")
    (root / "other" / "broken.md").write_text("no front matter here\n", encoding="utf-8")
    return root


# ----------------------------------------------------------------- extraction


def test_extract_queries_follows_the_rules(tiny: Path) -> None:
    skipped: list[str] = []
    articles = relevance.load_articles([tiny], on_skip=lambda p, r: skipped.append(p))
    assert [Path(p).name for p in skipped] == ["broken.md"]
    assert len(articles) == 5
    queries = relevance.extract_queries(articles)
    got = [(q.text, sorted(q.relevant), q.source) for q in queries]
    assert got == [
        ("Walking robots go solo on frozen lakes", ["news/robots.md", "news/solo.md"], "news/robots.md"),
        ("Quadruped machines master icy terrain", ["news/robots.md"], "news/robots.md"),
        ("Chipmakers race to build faster accelerators", ["news/chips.md", "news/train.md"],
         "news/train.md"),
        ("Quadruped machines master icy terrain", ["news/train.md"], "news/train.md"),
    ]


def test_related_titles_are_never_indexed(tiny: Path) -> None:
    """The peers' documents carry only the article's own title/excerpt/topics."""
    docs = {d.path: d for d in peers.peer_docs([tiny])}
    assert set(docs) == {"news/robots.md", "news/solo.md", "news/chips.md", "news/train.md",
                         "other/garden.md"}
    text = " ".join(" ".join((d.title, d.excerpt, *d.topics)) for d in docs.values())
    assert "Quadruped machines" not in text


def test_halves_are_stable_and_per_listing_article() -> None:
    a = relevance.KnownItem("x y z", frozenset({"p"}), "news/robots.md")
    b = relevance.KnownItem("other words here", frozenset({"q"}), "news/robots.md")
    assert a.half == b.half and a.half in ("A", "B")
    halves = {relevance.KnownItem("q q q", frozenset(), f"a/{i}.md").half for i in range(40)}
    assert halves == {"A", "B"}


# ----------------------------------------------------------------- metrics


def test_reciprocal_rank_and_quality() -> None:
    rel = frozenset({"b", "z"})
    assert relevance.reciprocal_rank(["b"], rel) == 1.0
    assert relevance.reciprocal_rank(["a", "x", "z"], rel) == pytest.approx(1 / 3)
    assert relevance.reciprocal_rank([f"n{i}" for i in range(10)] + ["b"], rel) == 0.0  # rank 11
    assert relevance.reciprocal_rank([], rel) == 0.0
    queries = [relevance.KnownItem(f"q{i}", frozenset({"b"}), "s") for i in range(4)]
    rankings = [["b"], ["a", "b"], ["a", "c", "d", "b"], ["a"]]
    quality = relevance.quality(rankings, queries)
    assert quality.mrr == pytest.approx((1 + 1 / 2 + 1 / 4 + 0) / 4)
    assert quality.recall == pytest.approx(3 / 4)  # queries with any relevant doc in the top 10
    assert quality.n == 4
    with pytest.raises(ValueError):
        relevance.quality(rankings[:2], queries)


def test_ceiling_counts_identical_texts_with_disjoint_answers() -> None:
    kq = relevance.KnownItem
    # one text, three listers, no shared answer: at best ranks 1, 2, 3
    disjoint = [kq("same headline here", frozenset({p}), p) for p in ("a", "b", "c")]
    # one text whose answers share an article: all can be at rank 1
    shared = [kq("other headline here", frozenset({p, "u"}), p) for p in ("a", "b")]
    best, exact = relevance.ceiling(disjoint + shared)
    assert exact
    assert best == pytest.approx((1 + 1 / 2 + 1 / 3 + 2) / 5)


# ----------------------------------------------------------------- peers


def _direct(docs: list[Any], word: str) -> tuple[int, dict[str, int]]:
    """Brute-force total and provider counts for a one-word query whose word
    no stemmer changes (checked by the caller choosing such words)."""
    matches = [d for d in docs if word in " ".join((d.title, d.excerpt, *d.topics)).lower().split()]
    return len(matches), dict(Counter(d.provider for d in matches if d.provider))


PEER_MAKERS = [
    pytest.param("fts5", id="fts5"),
    pytest.param("tantivy", id="tantivy", marks=pytest.mark.skipif(
        not _has_tantivy(), reason="tantivy is not installed (pip install -e '.[bench]')")),
]


@pytest.mark.parametrize("name", PEER_MAKERS)
def test_peer_totals_and_provider_counts_are_exact(name: str, tiny: Path, tmp_path: Path) -> None:
    docs = peers.peer_docs([tiny])
    peer = peers.fts5_peer() if name == "fts5" else peers.tantivy_peer()
    peer.build(docs, tmp_path / "peer")
    for word in ("robots", "accelerators", "ai", "tomato"):
        total, top, counts = peer.search_with_facets(word, 10)
        assert (total, counts) == _direct(docs, word), word
        assert top == peer.search(word, 10)
        assert len(top) == min(total, 10)
    # OR semantics: a document matching any word matches
    total, _, _ = peer.search_with_facets("tomato accelerators", 10)
    assert total == 3
    # quoted tokens: operator words and punctuation are plain text, never syntax
    assert peer.search_with_facets('AND OR NOT NEAR "( * :', 10) == (0, [], {})
    assert peer.search("", 10) == []
    # the known item comes first for its own headline
    assert peer.search("Walking robots go solo on frozen lakes", 3)[0] == "news/solo.md"


def test_query_tokens() -> None:
    assert peers.query_tokens("AI-generated faces: AI, faces!") == ["ai", "generated", "faces"]
    assert peers.query_tokens("?!") == []
    assert peers.Fts5Peer.match_expression('say "NEAR" OR') == '"say" OR "near" OR "or"'


def test_tantivy_missing_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tantivy", None)  # makes `import tantivy` fail
    with pytest.raises(ImportError, match="pip install"):
        peers.tantivy_peer()


def test_peer_docs_skip_what_our_indexer_skips(tiny: Path, tmp_path: Path) -> None:
    from search.indexer import build_index

    report = build_index(tmp_path / "ix", [tiny], full=True)
    assert report.documents == len(peers.peer_docs([tiny]))
    assert [Path(p).name for p, _ in report.skipped] == ["broken.md"]


# ----------------------------------------------------------------- end to end


def test_benchmark_runs_end_to_end(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engines = "ours,fts5,tantivy" if _has_tantivy() else "ours,fts5"
    out_json = tmp_path / "result.json"
    argv = [str(tiny), "--repeat", "1", "--engines", engines, "--json", str(out_json),
            "--workdir", str(tmp_path / "work")]
    assert relevance.main(argv) == 0
    printed = capsys.readouterr().out
    assert "queries: 4 (3 distinct texts) from 2 listing articles" in printed
    assert "| ours (whoosh) |" in printed and "| sqlite-fts5 |" in printed
    result = json.loads(out_json.read_text())
    assert len(result["queries"]) == 4
    for engine in result["engines"]:
        assert engine["error"] == ""
        assert len(engine["rankings"]) == 4
        # the one unambiguous known item: its own headline finds it first
        assert engine["rankings"][0][0] in ("news/solo.md", "news/robots.md")
    # the printed MRR is the one recomputed from the rankings
    ours = result["engines"][0]
    queries = [relevance.KnownItem(q["text"], frozenset(q["relevant"]), q["source"])
               for q in result["queries"]]
    mrr = relevance.quality(ours["rankings"], queries).mrr
    assert f"| ours (whoosh) | {mrr:.3f} |" in printed


def test_benchmark_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert relevance.main([str(tmp_path / "missing")]) == 2
    assert relevance.main([str(tmp_path), "--engines", "lucene"]) == 2
    assert relevance.main([str(tmp_path), "--ranking", "no_such_knob=1"]) == 2
    assert relevance.main([str(tmp_path), "--ranking", "k1=high"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert relevance.main([str(empty), "--engines", "fts5"]) == 1  # no queries to measure
    capsys.readouterr()


def test_parse_ranking_overrides_fields() -> None:
    assert relevance.parse_ranking([]) is None
    tuned = relevance.parse_ranking(["k1=0.9", "b.title=0.5"])
    default = type(tuned)()
    assert tuned.k1 == 0.9 and tuned.b_for("title") == 0.5
    assert tuned.b_for("excerpt") == default.b_for("excerpt")
    assert tuned.coordination == default.coordination


@pytest.mark.corpus
@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason=f"{SHARED_CORPUS} is absent")
def test_real_corpus_queries() -> None:
    articles = relevance.load_articles([SHARED_CORPUS])
    paths = {a.path: a for a in articles}
    queries = relevance.extract_queries(articles)
    assert queries, "the shared corpus has articles with related lists"
    for q in queries:
        assert q.source in q.relevant and q.relevant <= paths.keys()
        assert len(q.text.split()) >= 3
        assert relevance.normalize_title(q.text) != relevance.normalize_title(paths[q.source].title)
    assert len({(relevance.normalize_title(q.text), q.relevant) for q in queries}) == len(queries)
