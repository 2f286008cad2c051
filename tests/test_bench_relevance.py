"""The relevance benchmark (bench/relevance*.py) and its peer engines (bench/peers.py):
query sets (v1, S, S-typo, H), metrics, peers in both modes, command-line
overrides and an end-to-end run, all on tiny corpora written into tmp_path."""

from __future__ import annotations

import importlib.util
import json
import math
import random
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


relevance = _load("relevance")  # puts bench/ on sys.path for the modules below
peers = _load("peers")
sets = _load("relevance_sets")
metrics = _load("relevance_metrics")
engines = _load("relevance_engines")

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


WORDS = (
    "quantum", "lattice", "photonic", "sensor", "battery", "graphene", "turbine", "orbital", "satellite",
    "compiler", "kernel", "storage", "database", "network", "vaccine", "genome", "protein", "enzyme",
    "glacier", "volcano", "harbour", "freight", "railway", "bridge", "tunnel", "reactor", "fusion",
    "plasma", "neutron", "magnet",
)


@pytest.fixture
def combined(tmp_path: Path) -> tuple[Path, Path]:
    """Two corpus roots: `one` (ai/ with related lists, powerapps/) and `two` (az/)."""
    one, two = tmp_path / "one", tmp_path / "two"
    rng = random.Random(7)
    for i in range(8):  # az/: articles with distinct vocabulary for the generator
        words = rng.sample(WORDS, 9)
        write_article(two, f"az/a{i}.md", f"{words[0].title()} {words[1]} {words[2]} news",
                      f"The {words[3]} and {words[4]} {words[5]}, {words[6]} {words[7]} {words[8]} 12 x "
                      "is the plan for us ...", url=f"https://az.example/{i}")
    write_article(one, "ai/robots.md", "Robots learn to walk on ice",
                  "Quadruped robots balance on frozen lakes with a new controller.",
                  url="https://one.example/robots",
                  related=[{"title": "Quadruped machines master icy terrain", "webUrl": "https://x.example/q"},
                           {"title": "Robots learn to walk on ice!!"},
                           {"title": "Too short"}])
    write_article(one, "ai/lakes.md", "Frozen lakes become test grounds",
                  "Engineers bring legged machines to frozen lakes.",
                  related=[{"title": "quadruped  machines master icy terrain."}])
    write_article(one, "powerapps/forms.md", "Forms get a new designer", "Makers build forms faster.",
                  related=[{"title": "Power forms designer arrives today"}])
    write_article(two, "az/mirror.md", "Quadruped Machines: Master Icy Terrain", "A copy of the story.")
    write_article(two, "az/byurl.md", "Legged robots on ice", "Coverage with the listed URL.",
                  url="https://x.example/q")
    write_article(two, "az/lister.md", "Cloud news roundup", "Links elsewhere.",
                  related=[{"title": "Quadruped machines master icy terrain"}])
    write_article(two, "az/copy.md", "robots learn to walk on ice", "The same article again.")
    return one, two


def _corpus(combined: tuple[Path, Path]) -> Any:
    return sets.load_corpus(list(combined))


# ----------------------------------------------------------------- v1 (regression guard)


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
    only_train = relevance.extract_queries(articles, listing=lambda a: a.path == "news/train.md")
    assert [q.source for q in only_train] == ["news/train.md"] * 2
    assert only_train[0].relevant == {"news/chips.md", "news/train.md"}  # URLs of every article count


def test_related_titles_are_never_indexed(tiny: Path) -> None:
    """The peers' documents carry only the article's own title/excerpt/topics."""
    docs = {d.path: d for d in peers.peer_docs([tiny])}
    assert set(docs) == {"news/robots.md", "news/solo.md", "news/chips.md", "news/train.md",
                         "other/garden.md"}
    text = " ".join(" ".join((d.title, d.excerpt, *d.topics)) for d in docs.values())
    assert "Quadruped machines" not in text


# ----------------------------------------------------------------- words and S


def test_surface_words_drop_stop_words_short_tokens_and_a_cut_last_word() -> None:
    text = "The US may ship 12 GPUs in 2024: Microsoft's x-ray of node.js, sub_way ..."
    assert sets.surface_words(text) == ["ship", "gpus", "2024", "microsoft", "ray", "node", "js",
                                        "sub_way"]
    assert sets.surface_words(text, cut=True)[-1] == "js"  # ellipsis: the last word may be cut
    assert sets.surface_words("Ends cleanly", cut=True) == ["ends", "cleanly"]
    assert {"the", "us", "may", "will", "can"} <= sets.STOP_WORDS and len(sets.STOP_WORDS) == 34
    key = sets.title_key("Quadruped  Machines: Master icy terrain!")
    assert key == "quadruped machines master icy terrain"


def test_target_model_is_tf_idf_over_title_and_excerpt(tmp_path: Path) -> None:
    root = tmp_path / "c"
    write_article(root, "t.md", "Quantum widgets", "quantum widgets ship quantum")
    write_article(root, "u.md", "Widgets ship", "ship more")
    write_article(root, "v.md", "Ship news", "a ship")
    write_article(root, "w.md", "Ship it", "ship")
    corpus = sets.load_corpus([root])
    stats = sets.TermStats.of(corpus)
    target = corpus.by_path()["t.md"]
    model = sets.target_model(target, stats)
    # quantum: tf 3, df 1; widgets: tf 2, df 2; ship is in every article: idf 0, never drawn
    assert model == pytest.approx({"quantum": 3 * math.log(4), "widgets": 2 * math.log(4 / 2)})
    # draws follow the weights
    n = 3000
    counts = Counter(sets.simulate_query(target, 1, stats, random.Random(i), p_target=1.0)[0][0]
                     for i in range(n))
    total = sum(model.values())
    for word, weight in model.items():
        assert counts[word] / n == pytest.approx(weight / total, abs=0.03)
    # noise words follow collection frequencies
    cf = Counter(w for a in corpus.articles for w in sets.article_words(a))
    rng = random.Random(1)
    noise = Counter(stats.noise_word(rng, set()) for _ in range(n))
    for word, count in cf.items():
        assert noise[word] / n == pytest.approx(count / sum(cf.values()), abs=0.03)
    assert stats.noise_word(rng, {"ship"}) != "ship"


def test_simulated_queries_are_deterministic_and_follow_the_model(combined: tuple[Path, Path]) -> None:
    one, two = combined
    corpus = _corpus(combined)
    pools = [(one / "ai", None), (two / "az", 3)]
    targets = sets.select_targets(corpus, pools, seed=5)
    paths = [t.path for t in targets]
    assert paths == sorted(paths)
    assert {"ai/robots.md", "ai/lakes.md"} <= set(paths) and len(paths) == 5
    assert paths == [t.path for t in sets.select_targets(corpus, pools, seed=5)]
    assert len({tuple(t.path for t in sets.select_targets(corpus, pools, s)) for s in range(8)}) > 1
    queries = sets.simulated_queries(corpus, targets, seed=5)
    assert queries == sets.simulated_queries(corpus, targets, seed=5)
    assert queries != sets.simulated_queries(corpus, targets, seed=6)
    assert [(q.cluster, q.k) for q in queries] == [(p, k) for p in paths for k in (2, 3, 4)]
    by_path = corpus.by_path()
    for q in queries:
        assert len(q.words) == q.k == len(set(q.words)) and q.text == " ".join(q.words)
        assert all(sets.is_query_word(w) for w in q.words)  # never a stop word, "x" or "12"
        own = set(sets.article_words(by_path[q.cluster]))
        assert all(w in own for w, mine in zip(q.words, q.from_target, strict=True) if mine)
    # relevant: the target and its copies by title key
    robots = next(q for q in queries if q.cluster == "ai/robots.md")
    assert robots.relevant == {"ai/robots.md", "az/copy.md"}


def test_share_of_words_from_the_target(combined: tuple[Path, Path]) -> None:
    corpus = _corpus(combined)
    targets = [a for a in corpus.articles if a.path.startswith("az/a")]
    stats = sets.TermStats.of(corpus)
    flags = [s for seed in range(40)
             for q in sets.simulated_queries(corpus, targets, seed, stats=stats) for s in q.from_target]
    assert len(flags) == 40 * 8 * 9
    assert sum(flags) / len(flags) == pytest.approx(0.9, abs=0.02)


# ----------------------------------------------------------------- S-typo


def _osa(a: str, b: str) -> int:
    """Optimal-string-alignment edit distance (insert, delete, substitute, transpose)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def test_typo_is_exactly_one_edit_in_one_long_word() -> None:
    kinds = Counter()
    for i in range(400):
        words = ("graphene", "ai", "lake", "turbines")
        q = sets.Query(" ".join(words), frozenset({"t"}), "t", 4, words, (True,) * 4)
        typo = sets.typo_query(q, seed=i)
        assert typo == sets.typo_query(q, seed=i)
        assert typo.original == q.text and typo.relevant == q.relevant and typo.edit
        changed = [(a, b) for a, b in zip(q.words, typo.words, strict=True) if a != b]
        assert len(changed) == 1
        before, after = changed[0]
        assert before in ("graphene", "turbines")  # 5+ letters only
        assert _osa(before, after) == 1
        kinds[typo.edit.split(": ")[1].split()[0]] += 1
    assert set(kinds) == {"insert", "delete", "substitute", "transpose"}
    short = sets.Query("ai lake gpt4o", frozenset({"t"}), "t", 3, ("ai", "lake", "gpt4o"), (True,) * 3)
    unchanged = sets.typo_query(short, seed=1)
    assert unchanged.text == short.text and unchanged.edit == ""
    assert sets.typo_queries([short, short], 1) == [unchanged, unchanged]


# ----------------------------------------------------------------- H


def test_headline_queries_at_story_level(combined: tuple[Path, Path]) -> None:
    one, _ = combined
    corpus = _corpus(combined)
    queries = sets.headline_queries(corpus, one / "ai")
    got = [(q.text, sorted(q.relevant), q.cluster) for q in queries]
    assert got == [
        # listed by two ai articles and one az article, in the corpus by title and by URL
        ("quadruped machines master icy terrain.",
         ["ai/lakes.md", "ai/robots.md", "az/byurl.md", "az/lister.md", "az/mirror.md"], "ai/lakes.md"),
        # the lister's own headline: relevant are it and its copy, by title key
        ("Robots learn to walk on ice!!", ["ai/robots.md", "az/copy.md"], "ai/robots.md"),
    ]  # "Too short" has 2 words; powerapps/ is not the headline folder
    top = metrics.ceiling(queries, key=sets.title_key)
    assert (top.mrr, top.success, top.ndcg, top.exact) == (1.0, 1.0, 1.0, True)


# ----------------------------------------------------------------- metrics


def test_reciprocal_rank_success_and_quality() -> None:
    rel = frozenset({"b", "z"})
    assert metrics.reciprocal_rank(["b"], rel) == 1.0
    assert metrics.reciprocal_rank(["a", "x", "z"], rel) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank([f"n{i}" for i in range(10)] + ["b"], rel) == 0.0  # rank 11
    assert metrics.reciprocal_rank([], rel) == 0.0
    assert metrics.success(["a", "z"], rel) == 1.0 and metrics.success(["a"], rel) == 0.0
    queries = [sets.Query(f"q{i}", frozenset({"b"}), "s") for i in range(4)]
    rankings = [["b"], ["a", "b"], ["a", "c", "d", "b"], ["a"]]
    quality = metrics.quality(rankings, queries)
    assert quality.mrr == pytest.approx((1 + 1 / 2 + 1 / 4 + 0) / 4)
    assert quality.success == quality.recall == pytest.approx(3 / 4)
    assert quality.ndcg == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(5) + 0) / 4)
    assert quality.n == 4
    with pytest.raises(ValueError):
        metrics.quality(rankings[:2], queries)


def test_ndcg_hand_computed() -> None:
    ndcg = metrics.ndcg
    assert ndcg(["a", "b"], frozenset({"a", "b"})) == pytest.approx(1.0)
    # relevant at ranks 2 and 4 of 3 relevant: (1/log2 3 + 1/log2 5) / (1 + 1/log2 3 + 1/2)
    got = ndcg(["x", "a", "y", "b"], frozenset({"a", "b", "c"}))
    assert got == pytest.approx((0.63093 + 0.43068) / (1 + 0.63093 + 0.5), abs=1e-4)
    # the ideal is capped at 10 relevant: 12 relevant, all 10 slots relevant -> 1
    many = frozenset(f"r{i}" for i in range(12))
    assert ndcg([f"r{i}" for i in range(10)], many) == pytest.approx(1.0)
    assert ndcg(["r0"], many) == pytest.approx(1 / sum(1 / math.log2(i + 2) for i in range(10)))
    assert ndcg(["x"], frozenset()) == 0.0
    assert ndcg([f"x{i}" for i in range(10)] + ["a"], frozenset({"a"})) == 0.0


def test_ceiling_counts_identical_texts_with_disjoint_answers() -> None:
    kq = sets.Query
    # one text, three listers, no shared answer: at best ranks 1, 2, 3
    disjoint = [kq("same headline here", frozenset({p}), p) for p in ("a", "b", "c")]
    # one text whose answers share an article: all can be at rank 1
    shared = [kq("other headline here", frozenset({p, "u"}), p) for p in ("a", "b")]
    top = metrics.ceiling(disjoint + shared)
    assert top.exact and top.ndcg is None
    assert top.mrr == pytest.approx((1 + 1 / 2 + 1 / 3 + 2) / 5)
    assert top.success == 1.0
    eleven = [kq("one text", frozenset({f"p{i}"}), f"p{i}") for i in range(11)]
    assert metrics.ceiling(eleven).success == pytest.approx(10 / 11)


def test_cluster_bootstrap() -> None:
    assert metrics.cluster_bootstrap([0.5] * 6, list("aabbcc")) == pytest.approx((0.5, 0.5))
    diffs = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0] * 10
    clusters = [f"c{i // 2}" for i in range(len(diffs))]
    lo, hi = metrics.cluster_bootstrap(diffs, clusters)
    assert lo < sum(diffs) / len(diffs) < hi and lo >= 0.0 and hi <= 1.0
    assert metrics.cluster_bootstrap(diffs, clusters) == (lo, hi)  # seeded
    with pytest.raises(ValueError):
        metrics.cluster_bootstrap([1.0], ["a", "b"])


# ----------------------------------------------------------------- peers


def _direct(docs: list[Any], *words: str) -> tuple[int, dict[str, int]]:
    """Brute-force total and provider counts of the documents holding every
    word (words no stemmer changes in these fixtures, chosen by the caller)."""
    matches = [d for d in docs
               if all(w in " ".join((d.title, d.excerpt, *d.topics)).lower().replace(".", " ").split()
                      for w in words)]
    return len(matches), dict(Counter(d.provider for d in matches if d.provider))


PEER_MAKERS = [
    pytest.param("fts5", id="fts5"),
    pytest.param("tantivy", id="tantivy", marks=pytest.mark.skipif(
        not _has_tantivy(), reason="tantivy is not installed (pip install -e '.[bench]')")),
]


def _peer(name: str, mode: str = "or") -> Any:
    return peers.fts5_peer(mode) if name == "fts5" else peers.tantivy_peer(mode)


@pytest.mark.parametrize("name", PEER_MAKERS)
def test_peer_totals_and_provider_counts_are_exact(name: str, tiny: Path, tmp_path: Path) -> None:
    docs = peers.peer_docs([tiny])
    peer = _peer(name)
    peer.build(docs, tmp_path / "peer")
    for word in ("robots", "accelerators", "ai", "tomato"):
        total, top, counts = peer.search_with_facets(word, 10)
        assert (total, counts) == _direct(docs, word), word
        assert top == peer.search(word, 10)
        assert len(top) == min(total, 10)
    # OR: a document matching any word matches; AND: every word, each in any field
    both = peer.with_mode("and")
    assert peer.search_with_facets("tomato accelerators", 10)[0] == 3
    assert both.search_with_facets("tomato accelerators", 10)[0] == 0
    assert both.search_with_facets("cheaper accelerators", 10)[0] == 2
    assert _direct(docs, "cheaper", "accelerators")[0] == 2
    assert both.search_with_facets("frozen ai", 10)[0] == 1  # one word in the title, one in topics
    assert _direct(docs, "frozen", "ai")[0] == 1
    assert (peer.mode, both.mode, peer.name != both.name) == ("or", "and", True)
    # quoted tokens: operator words and punctuation are plain text, never syntax
    for p in (peer, both):
        assert p.search_with_facets('AND OR NOT NEAR "( * :', 10) == (0, [], {})
        assert p.search("", 10) == []
        # the known item comes first for its own headline (OR); AND needs every word
        assert p.search("Walking robots go solo on frozen lakes", 3)[0] == "news/solo.md"


@pytest.mark.parametrize("name", PEER_MAKERS)
def test_peer_ties_are_broken_by_path_and_the_index_reopens(name: str, tmp_path: Path) -> None:
    paths = [f"t/{i:02d}.md" for i in range(30)]
    random.Random(3).shuffle(paths)
    docs = [peers.PeerDoc(p, "Identical twin headline", "Same words.", (), "", None, "") for p in paths]
    peer = _peer(name)
    peer.build(docs, tmp_path / "peer")
    assert peer.search("twin headline", 3) == ["t/00.md", "t/01.md", "t/02.md"]
    assert peer.with_mode("and").search("twin headline", 12) == sorted(paths)[:12]
    again = _peer(name)
    again.open(tmp_path / "peer")
    assert again.search("twin headline", 5) == sorted(paths)[:5]
    with pytest.raises(FileNotFoundError):
        _peer(name).open(tmp_path / "nothing")


def test_query_tokens_and_match_expressions() -> None:
    assert peers.query_tokens("AI-generated faces: AI, faces!") == ["ai", "generated", "faces"]
    assert peers.query_tokens("?!") == []
    assert peers.Fts5Peer(mode="or").match_expression('say "NEAR" OR') == '"say" OR "near" OR "or"'
    assert peers.Fts5Peer(mode="and").match_expression('say "NEAR" OR') == '"say" "near" "or"'
    with pytest.raises(ValueError, match="mode"):
        peers.Fts5Peer(mode="xor")


def test_tantivy_missing_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tantivy", None)  # makes `import tantivy` fail
    with pytest.raises(ImportError, match="pip install"):
        peers.tantivy_peer()


def test_peer_docs_skip_what_our_indexer_skips(tiny: Path, tmp_path: Path) -> None:
    from search.indexer import build_index

    report = build_index(tmp_path / "ix", [tiny], full=True)
    assert report.documents == len(peers.peer_docs([tiny]))
    assert [Path(p).name for p, _ in report.skipped] == ["broken.md"]
    assert peers.peer_docs([tiny]) == [peers.to_peer_doc(a) for a in sets.load_corpus([tiny]).articles]


# ----------------------------------------------------------------- settings and caches


def test_parse_request_sets_existing_fields_typed() -> None:
    got = engines.parse_request(["highlight=off", "facet_size=5", "sort=newest", "facets=provider,topics"])
    assert got == {"highlight": False, "facet_size": 5, "sort": "newest", "facets": ("provider", "topics")}
    for bad, message in (("no_such_field=1", "has no field 'no_such_field'"),
                         ("query=x", "sets query itself"), ("facet_size=many", "not a valid int"),
                         ("highlight=maybe", "not a valid bool"), ("filters=x", "cannot be set"),
                         ("novalue", "expected NAME=VALUE")):
        with pytest.raises(engines.SettingError, match=message):
            engines.parse_request([bad])


def test_parse_ranking_overrides_fields() -> None:
    import dataclasses

    assert engines.parse_ranking([]) is None
    default = engines.ranking_class()()
    floats = [f.name for f in dataclasses.fields(default) if isinstance(getattr(default, f.name), float)]
    pairs = [f.name for f in dataclasses.fields(default) if isinstance(getattr(default, f.name), tuple)]
    tuned = engines.parse_ranking([f"{floats[0]}=0.123"] + ([f"{pairs[0]}.title=0.5"] if pairs else []))
    assert getattr(tuned, floats[0]) == 0.123
    if pairs:
        assert dict(getattr(tuned, pairs[0]))["title"] == 0.5
    assert all(getattr(tuned, f) == getattr(default, f) for f in floats[1:])
    with pytest.raises(engines.SettingError, match="unknown field"):
        engines.parse_ranking(["no_such_knob=1"])
    with pytest.raises(engines.SettingError, match="not a valid"):
        engines.parse_ranking([f"{floats[0]}=high"])


def test_corpus_cache_round_trip(combined: tuple[Path, Path], tmp_path: Path) -> None:
    corpus = _corpus(combined)
    sets.save_corpus(corpus, tmp_path / "c.json")
    again = sets.read_corpus(tmp_path / "c.json")
    assert again == corpus and again.files == corpus.files
    assert [[(r.title, r.url) for r in a.related] for a in again.articles] == \
        [[(r.title, r.url) for r in a.related] for a in corpus.articles]
    ai = combined[0] / "ai"
    assert sets.headline_queries(again, ai) == sets.headline_queries(corpus, ai)


# ----------------------------------------------------------------- end to end


def test_benchmark_runs_end_to_end(combined: tuple[Path, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    one, two = combined
    names = "ours,fts5,tantivy" if _has_tantivy() else "ours,fts5"
    out_json = tmp_path / "result.json"
    argv = [str(one), str(two), "--target", f"{one / 'ai'}=all", "--target", f"{two / 'az'}=3",
            "--headlines", str(one / "ai"), "--v1-from", str(one), "--seeds", "1,2", "--engines", names,
            "--json", str(out_json), "--workdir", str(tmp_path / "work"), "--misses", "S",
            "--request", "highlight=off"]
    assert relevance.main(argv) == 0
    printed = capsys.readouterr().out
    for title in ("### S, seed 1: 15 queries, 5 targets", "### S-typo, seed 2:", "### H: 2 queries",
                  "### v1:", "### S, mean over seeds 1, 2", "ceiling check: 1.000"):
        assert title in printed, title
    assert "| ours |" in printed and "| sqlite-fts5 and |" in printed and "| sqlite-fts5 or |" in printed
    assert "index built" in printed and "whole run:" in printed
    result = json.loads(out_json.read_text())
    assert [(s["set"], s["seed"]) for s in result["sets"]] == [
        ("S", 1), ("S-typo", 1), ("S", 2), ("S-typo", 2), ("H", None), ("v1", None)]
    s1 = result["sets"][0]
    queries = [sets.Query(q["text"], frozenset(q["relevant"]), q["cluster"]) for q in s1["queries"]]
    rankings = [q["results"]["ours"]["top"] for q in s1["queries"]]
    mrr = metrics.quality(rankings, queries).mrr
    assert f"| ours | {mrr:.3f} |" in printed  # the printed MRR is the one recomputed from the rankings
    assert s1["best_peer"] in s1["summary"]
    # the second run reuses every index and the parsed corpus
    assert relevance.main(argv[:-2]) == 0
    again = capsys.readouterr().out
    assert "index built" not in again and "ours: index reused" in again and "parsed corpus reused" in again
    assert f"| ours | {mrr:.3f} |" in again


def test_benchmark_runs_without_tantivy(combined: tuple[Path, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.metadata

    def version(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setitem(sys.modules, "tantivy", None)  # makes `import tantivy` fail
    monkeypatch.setattr(importlib.metadata, "version", version)  # as on a machine without it
    one, two = combined
    argv = [str(one), str(two), "--sets", "H", "--headlines", str(one / "ai"), "--engines", "fts5,tantivy",
            "--workdir", str(tmp_path / "work")]
    assert relevance.main(argv) == 0
    printed = capsys.readouterr().out
    assert "tantivy: unavailable: the tantivy peer needs the `tantivy` package" in printed
    assert "| sqlite-fts5 or |" in printed and "| tantivy" not in printed


def test_benchmark_usage_errors(combined: tuple[Path, Path], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    one, two = combined
    base = [str(one), str(two), "--engines", "fts5"]
    assert relevance.main([str(tmp_path / "missing")]) == 2
    assert relevance.main([*base, "--engines", "lucene"]) == 2
    assert relevance.main([*base, "--sets", "S,Q"]) == 2
    assert relevance.main([*base, "--sets", "S"]) == 2  # no target folders given
    assert relevance.main([*base, "--target", f"{tmp_path}=3"]) == 2  # not inside a root
    assert relevance.main([*base, "--target", f"{one}=none"]) == 2
    base += ["--target", str(one / "ai")]
    assert relevance.main([*base, "--sets", "H", "--misses", "S"]) == 2
    assert relevance.main([*base, "--headlines", str(tmp_path)]) == 2
    assert relevance.main([*base, "--ranking", "no_such_knob=1"]) == 2
    assert relevance.main([*base, "--request", "no_such_field=1"]) == 2
    err = capsys.readouterr().err
    assert "has no field 'no_such_field'" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        relevance.main([*base, "--seeds", "1,x"])
    capsys.readouterr()


@pytest.mark.corpus
@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason=f"{SHARED_CORPUS} is absent")
def test_real_corpus_queries() -> None:
    corpus = sets.load_corpus([SHARED_CORPUS])
    paths = corpus.by_path()
    queries = relevance.extract_queries(corpus.articles)
    assert queries, "the shared corpus has articles with related lists"
    for q in queries:
        assert q.source in q.relevant and q.relevant <= paths.keys()
        assert len(q.text.split()) >= 3
        assert relevance.normalize_title(q.text) != relevance.normalize_title(paths[q.source].title)
    assert len({(relevance.normalize_title(q.text), q.relevant) for q in queries}) == len(queries)
    headlines = sets.headline_queries(corpus, SHARED_CORPUS / "ai")
    assert headlines and metrics.ceiling(headlines, key=sets.title_key).mrr == 1.0
    assert len({sets.title_key(q.text) for q in headlines}) == len(headlines)
