"""The benchmark corpus generator: deterministic, and articles of the real shape."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from conftest import SHARED_CORPUS, load_generator, requires_shared_corpus

from search.documents import parse_article, read_article, walk_corpus

REPO = Path(__file__).resolve().parents[1]

pytestmark = requires_shared_corpus()


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return load_generator()


@pytest.fixture(scope="module")
def sample(gen: ModuleType) -> object:
    return gen.load_sample(SHARED_CORPUS)


def test_same_seed_gives_identical_files(gen: ModuleType, tmp_path: Path) -> None:
    a, made_a = gen.write_corpus(SHARED_CORPUS, tmp_path / "a", 300, 7)
    b, made_b = gen.write_corpus(SHARED_CORPUS, tmp_path / "b", 300, 7)
    assert made_a and made_b
    digest_a = tree_digest(a)
    assert digest_a == tree_digest(b)
    assert len([p for p in digest_a if p.endswith(".md")]) == 300


def test_other_seed_gives_other_articles(gen: ModuleType, tmp_path: Path) -> None:
    a, _ = gen.write_corpus(SHARED_CORPUS, tmp_path / "a", 200, 1)
    b, _ = gen.write_corpus(SHARED_CORPUS, tmp_path / "b", 200, 2)
    assert tree_digest(a) != tree_digest(b)


def test_existing_identical_corpus_is_reused(gen: ModuleType, tmp_path: Path) -> None:
    out, made = gen.write_corpus(SHARED_CORPUS, tmp_path / "c", 50, 3)
    assert made
    marker = next(out.rglob("*.md"))
    before = marker.stat().st_mtime_ns
    _, made_again = gen.write_corpus(SHARED_CORPUS, out, 50, 3)
    assert not made_again
    assert marker.stat().st_mtime_ns == before
    _, regenerated = gen.write_corpus(SHARED_CORPUS, out, 60, 3)  # other N: regenerated
    assert regenerated
    assert sum(1 for _ in out.rglob("*.md")) == 60


def test_refuses_foreign_folders_and_the_repository(gen: ModuleType, tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit):
        gen.write_corpus(SHARED_CORPUS, foreign, 10, 1)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(SystemExit):
        gen.write_corpus(SHARED_CORPUS, REPO / "bench" / "corpus-test", 10, 1)
    assert not (REPO / "bench" / "corpus-test").exists()


def test_articles_have_the_real_shape(gen: ModuleType, sample: object, tmp_path: Path) -> None:
    n = 1500
    out, _ = gen.write_corpus(SHARED_CORPUS, tmp_path / "shape", n, 11)
    files = list(walk_corpus(out))
    assert len(files) == n
    articles = [read_article(cf.abspath, cf.relpath, with_related=True) for cf in files]

    # every article parses with our reader and is indexable, with the real fields
    assert all(a.title and a.excerpt and a.url for a in articles)
    assert all(a.topics for a in articles)
    real_topics = set(sample.topics)  # type: ignore[attr-defined]
    assert {t for a in articles for t in a.topics} <= real_topics

    # titles and excerpts are recombined (not copies), and mostly distinct
    real_titles = {t.title for t in sample.templates}  # type: ignore[attr-defined]
    titles = [a.title for a in articles]
    assert len(set(titles)) > 0.95 * n
    assert sum(t in real_titles for t in titles) < 0.2 * n

    # provider distribution: one dominant provider, a long tail of rare ones
    providers = Counter(a.provider for a in articles)
    top, top_count = providers.most_common(1)[0]
    assert top == "Microsoft"
    assert 0.2 * n < top_count < 0.6 * n
    singletons = sum(1 for c in providers.values() if c == 1)
    assert len(providers) > 100
    assert singletons > 30
    # no two provider names differ only in case (facets fold case)
    assert len({p.casefold() for p in providers}) == len(providers)

    # dates spread over several years; a few articles have none; file names carry the date
    years = Counter(a.published.year for a in articles if a.published)
    assert set(years) == set(range(2017, 2025))
    assert 0 < sum(a.published is None for a in articles) < 0.03 * n
    for cf, a in zip(files, articles, strict=True):
        if a.published:
            assert cf.relpath.rsplit("/", 1)[1].startswith(a.published.strftime("%Y-%m-%d"))

    # some articles carry related coverage, as in the sample
    with_related = sum(1 for a in articles if a.related)
    assert 0.005 * n < with_related < 0.05 * n

    # both sources of the sample are represented, under their own folders
    assert {cf.relpath.split("/", 1)[0] for cf in files} == {"ai", "powerapps"}

    # sizes are those of real files (the template blocks are kept)
    sizes = sorted(cf.size for cf in files)
    assert 700 < sizes[len(sizes) // 2] < 4000


def test_generated_text_is_valid_for_tricky_titles(gen: ModuleType) -> None:
    """Quotes, backslashes and control characters survive the YAML round trip."""
    text = "---\ntitle: " + gen.yq('He said "hi" \\ back\x07\u2028there') + "\nexcerpt: x\n---\n"
    article = parse_article("a.md", text.encode())
    assert article.title == 'He said "hi" \\ back there'
