"""End to end over the real sample corpus in ../shared/corpus.

The expected numbers are computed here directly from the files with plain
PyYAML, independently of the project's reader.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import SHARED_CORPUS, requires_shared_corpus

from search.cli import main
from search.env import Env

pytestmark = [requires_shared_corpus(), pytest.mark.corpus]


def direct_articles(root: Path) -> list[dict]:
    """Every indexable article's front matter, parsed the obvious way."""
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in (".md", ".markdown"):
            continue
        text = path.read_text("utf-8-sig")
        if not text.startswith("---"):
            continue
        data = yaml.safe_load(text.split("\n---", 1)[0][3:])
        if isinstance(data, dict) and (data.get("title") or data.get("excerpt")):
            data["_path"] = path
            out.append(data)
    return out


def run_json(*argv: str) -> tuple[int, dict]:
    import io

    out, err = io.StringIO(), io.StringIO()
    code = main([*list(argv), "--format", "json"], Env(stdin=io.StringIO(), stdout=out, stderr=err,
                                                        environ={"HOME": "/nonexistent"}))
    assert err.getvalue() == "", err.getvalue()
    return code, json.loads(out.getvalue())


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> tuple[Path, Path]:
    """A private copy of the shared corpus (so it can be modified) and its index."""
    base = tmp_path_factory.mktemp("shared")
    corpus = base / "corpus"
    shutil.copytree(SHARED_CORPUS, corpus)
    index = base / "index"
    code, _report = run_json("index", str(corpus), "--index", str(index))
    assert code == 0
    return corpus, index


def test_totals_and_provider_counts_equal_direct_counts(shared):
    corpus, index = shared
    articles = direct_articles(corpus)
    code, data = run_json("query", "*", "--index", str(index), "--facet", "provider",
                          "--facet-size", "100000", "--limit", "0")
    assert code == 0
    assert data["total"] == len(articles) == 808
    direct = Counter(a["provider"]["name"] for a in articles if a.get("provider"))
    assert {f["value"]: f["count"] for f in data["facets"]["provider"]} == dict(direct)


def test_provider_and_date_filters_equal_direct_counts(shared):
    corpus, index = shared
    articles = direct_articles(corpus)
    by_provider = Counter(a["provider"]["name"] for a in articles)
    for name in [n for n, _ in by_provider.most_common(3)] + ["Business Insider"]:
        _, data = run_json("query", "*", "--index", str(index), "--provider", name, "--limit", "0")
        assert data["total"] == by_provider[name], name

    def day(a: dict) -> dt.date:
        value = a["publishedDateTime"]
        return value.astimezone(dt.timezone.utc).date() if value.tzinfo else value.date()

    for since, until in [("2021-01-01", "2021-12-31"), ("2019-12-16", "2019-12-20"), ("2022-04-18", None)]:
        args = ["--since", since] + (["--until", until] if until else [])
        _, data = run_json("query", "*", "--index", str(index), "--limit", "0", *args)
        lo = dt.date.fromisoformat(since)
        hi = dt.date.fromisoformat(until) if until else dt.date.max
        assert data["total"] == sum(1 for a in articles if lo <= day(a) <= hi), (since, until)


def test_pasted_headline_with_noise_finds_the_article(shared):
    corpus, index = shared
    articles = [a for a in direct_articles(corpus) if len(str(a["title"]).split()) >= 6]
    sample = articles[:: max(1, len(articles) // 25)]
    misses = []
    for a in sample:
        query = f"{a['title']} umbrella giraffe saxophone"
        _, data = run_json("query", query, "--index", str(index), "--limit", "10")
        found = {h["path"] for h in data["hits"]}
        if a["_path"].relative_to(corpus).as_posix() not in found:
            misses.append(a["title"])
    assert not misses


def test_incremental_change_delete_add(shared, tmp_path):
    corpus, index = shared
    files = sorted(corpus.rglob("*.md"))
    changed, deleted = files[10], files[20]
    text = changed.read_text("utf-8")
    changed.write_text(text.replace("title: ", "title: Zyxwvut ", 1), "utf-8")
    deleted_rel = deleted.relative_to(corpus).as_posix()
    deleted.unlink()
    added = corpus / "_added" / "2026-01-01-new.md"
    added.parent.mkdir()
    added.write_text('---\ntitle: "Quuxotic breakthrough announced"\nprovider:\n  name: Newcomer\n---\n')

    code, report = run_json("index", str(corpus), "--index", str(index))
    assert code == 0
    assert (report["indexed"], report["updated"], report["removed"]) == (1, 1, 1)
    assert report["unchanged"] == 806 and report["documents"] == 808

    _, data = run_json("query", "zyxwvut", "--index", str(index))
    assert [h["path"] for h in data["hits"]] == [changed.relative_to(corpus).as_posix()]
    _, data = run_json("query", "quuxotic", "--index", str(index))
    assert [h["path"] for h in data["hits"]] == ["_added/2026-01-01-new.md"]
    _, data = run_json("query", "*", "--index", str(index), "--limit", "1000")
    assert deleted_rel not in {h["path"] for h in data["hits"]}
