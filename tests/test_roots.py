"""Corpus roots: named once, never nested, other roots' articles kept and reported, --prune."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

from conftest import Corpus

from search.cli import main
from search.env import Env


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdin=io.StringIO(""), stdout=out, stderr=err,
                                environ={"HOME": "/nonexistent"}))
    return code, out.getvalue(), err.getvalue()


def hits(index: Path) -> Counter[tuple[str, str]]:
    """(root, path) of every article, counted (a doubled article counts 2)."""
    code, out, err = cli("query", "*", "--index", str(index), "--format", "json", "--limit", "1000")
    assert code in (0, 1), err
    page = json.loads(out)
    assert page["total"] == len(page["hits"])
    return Counter((h["root"], h["path"]) for h in page["hits"])


def fill(corpus: Corpus, n: int = 5) -> None:
    for i in range(n):
        corpus.add(f"sub/a{i}.md" if i % 2 else f"a{i}.md", f"Story {i} about harbours")


def test_same_root_twice_indexes_each_article_once(news: Corpus, index_dir: Path):
    root = str(news.root)
    code, out, err = cli("index", root, root, root + "/", "--index", str(index_dir))
    assert code == 0, err
    assert out.startswith("indexed 6,")
    assert set(hits(index_dir).values()) == {1} and sum(hits(index_dir).values()) == 6
    assert json.loads(cli("stats", "--index", str(index_dir), "--format", "json")[1])["roots"] == [
        str(news.root.resolve())]


def test_nested_roots_are_refused(news: Corpus, index_dir: Path):
    sub = news.root / "_news"
    for order in ((news.root, sub), (sub, news.root)):
        code, out, err = cli("index", *map(str, order), "--index", str(index_dir))
        assert code == 2 and out == ""
        assert err == (f"search: {sub.resolve()} is inside {news.root.resolve()}: its articles would "
                       f"be indexed twice; name only {news.root.resolve()}\n")
    assert not index_dir.exists()  # refused before anything was written


def test_moved_corpus_keeps_old_copies_reported_until_pruned(tmp_path: Path, index_dir: Path):
    old = Corpus(tmp_path / "C")
    fill(old)
    assert cli("index", str(old.root), "--index", str(index_dir))[0] == 0
    moved = tmp_path / "C2"
    old.root.rename(moved)

    code, out, err = cli("index", str(moved), "--index", str(index_dir))
    assert code == 0
    assert out.startswith("indexed 5, updated 0, removed 0, unchanged 0")
    assert err == (f"search: kept 5 articles of {old.root}, which no longer exists: "
                   "'search index --prune' removes them\n")
    counts = hits(index_dir)
    assert set(counts.values()) == {1}  # no article twice under one root...
    assert Counter(root for root, _ in counts) == {str(old.root): 5, str(moved): 5}  # ...old copies kept

    code, out, err = cli("index", "--index", str(index_dir), "--format", "json")  # recorded root: C2
    assert code == 0
    report = json.loads(out)
    assert report["kept"] == [{"root": str(old.root), "articles": 5, "exists": False}]
    assert json.loads(err)["warning"]["kind"] == "kept_articles"

    code, out, err = cli("index", "--prune", "--index", str(index_dir))
    assert code == 0 and err == ""
    assert out.startswith("indexed 0, updated 0, removed 5, unchanged 5")
    assert Counter(root for root, _ in hits(index_dir)) == {str(moved): 5}


def test_other_existing_root_is_kept_and_named(tmp_path: Path, index_dir: Path):
    a, b = Corpus(tmp_path / "A"), Corpus(tmp_path / "B")
    fill(a, 3)
    fill(b, 2)
    assert cli("index", str(a.root), str(b.root), "--index", str(index_dir))[0] == 0
    code, _, err = cli("index", str(b.root), "--index", str(index_dir))
    assert code == 0
    assert err == (f"search: kept 3 articles of {a.root}, which this run did not name: "
                   "'search index --prune' removes them\n")
    assert sum(hits(index_dir).values()) == 5
    code, out, _ = cli("index", str(b.root), "--full", "--index", str(index_dir), "--format", "json")
    assert code == 0 and json.loads(out)["pruned"] == 3
    assert Counter(root for root, _ in hits(index_dir)) == {str(b.root): 2}
