"""The corpus reader: every odd case a real folder throws at it."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from conftest import Corpus, article_text

from search.documents import parse_article, read_article, walk_corpus
from search.errors import CorpusNotFoundError, SkipFile

UTC = dt.timezone.utc


def parse(text: str | bytes, rel: str = "a.md"):
    return parse_article(rel, text.encode("utf-8") if isinstance(text, str) else text)


def skip_reason(text: str | bytes) -> str:
    with pytest.raises(SkipFile) as info:
        parse(text)
    return str(info.value)


def test_full_article_fields():
    a = parse(article_text("Title here", excerpt="An excerpt", provider="Reuters",
                           topics=["AI", "Computer Vision"], quality=79,
                           url="https://x.example/a", published="2022-04-18T22:59:00Z",
                           originalUrl='"https://orig.example/a"'))
    assert a.title == "Title here"
    assert a.excerpt == "An excerpt"
    assert a.provider == "Reuters" and a.provider_domain == "example.com"
    assert a.topics == ("AI", "Computer Vision")
    assert a.quality == 79
    assert a.url == "https://x.example/a"
    assert a.original_url == "https://orig.example/a"
    assert a.published == dt.datetime(2022, 4, 18, 22, 59, tzinfo=UTC)
    assert a.category == "news" and a.type == "article"


def test_bom_and_crlf():
    text = "\ufeff" + article_text("BOM title").replace("\n", "\r\n")
    assert parse(text).title == "BOM title"


def test_utf16_with_bom():
    assert parse(article_text("Sixteen").encode("utf-16")).title == "Sixteen"


def test_undecodable_bytes_are_skipped_with_offset():
    data = article_text("Bad").encode() + b"\xff\xfe\xfa"
    data = data.replace(b"Bad", b"B\xffd")
    assert "not valid UTF-8" in skip_reason(data)


def test_no_front_matter():
    assert "no front matter" in skip_reason("# Just markdown\n")


def test_unterminated_front_matter():
    assert "unterminated" in skip_reason("---\ntitle: x\n")


def test_invalid_yaml_names_line():
    reason = skip_reason("---\ntitle: [unclosed\nexcerpt: x\n---\n")
    assert reason.startswith("invalid YAML")


def test_front_matter_not_a_mapping():
    assert "not a mapping" in skip_reason("---\n- a\n- b\n---\n")
    assert "empty front matter" in skip_reason("---\n---\n")


def test_unsafe_tag_is_refused_and_never_executed(tmp_path: Path):
    marker = tmp_path / "pwned"
    text = f"---\ntitle: !!python/object/apply:os.system ['touch {marker}']\n---\n"
    assert "unsafe or unsupported YAML tag" in skip_reason(text)
    assert not marker.exists()


def test_topics_single_string_and_odd_items():
    assert parse("---\ntitle: t\ntopics: AI\n---\n").topics == ("AI",)
    a = parse("---\ntitle: t\ntopics: [AI, 42, {x: 1}, null, AI]\n---\n")
    assert a.topics == ("AI", "42")


def test_provider_plain_string():
    a = parse("---\ntitle: t\nprovider: Reuters\n---\n")
    assert a.provider == "Reuters" and a.provider_domain == ""


@pytest.mark.parametrize("value", ["not a date", "2022-13-45", "[1, 2]", "''"])
def test_unparseable_date_still_indexed(value: str):
    a = parse(f"---\ntitle: t\npublishedDateTime: {value}\n---\n")
    assert a.title == "t" and a.published is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2022-04-18T22:59:00Z", dt.datetime(2022, 4, 18, 22, 59, tzinfo=UTC)),
        ("2022-04-18T22:59:00+02:00", dt.datetime(2022, 4, 18, 20, 59, tzinfo=UTC)),
        ("2022-04-18", dt.datetime(2022, 4, 18, tzinfo=UTC)),
        ('"2022-04-18T22:59:00Z"', dt.datetime(2022, 4, 18, 22, 59, tzinfo=UTC)),
        ("2022-04-18 22:59:00", dt.datetime(2022, 4, 18, 22, 59, tzinfo=UTC)),
    ],
)
def test_dates_are_timezone_aware_utc(value: str, expected: dt.datetime):
    assert parse(f"---\ntitle: t\npublishedDateTime: {value}\n---\n").published == expected


def test_title_or_excerpt_required():
    assert parse("---\nexcerpt: only an excerpt\n---\n").title == ""
    assert "no title or excerpt" in skip_reason("---\ntitle: ''\nprovider: X\n---\n")
    assert "no title or excerpt" in skip_reason("---\ntitle: [a, list]\n---\n")


def test_odd_types():
    a = parse("---\ntitle: 2022\nquality: '61'\n---\n")
    assert a.title == "2022" and a.quality == 61
    assert parse("---\ntitle: t\nquality: high\n---\n").quality is None
    assert parse("---\ntitle: t\nquality: true\n---\n").quality is None
    assert parse("---\ntitle: t\nquality: 61.7\n---\n").quality == 61


def test_huge_title_is_capped():
    a = parse("---\ntitle: " + "x" * 100_000 + "\n---\n")
    assert 0 < len(a.title) <= 1000


def test_yaml_alias_bomb_is_bounded():
    bomb = "---\n" + "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 12):
        prev = "a" if i == 1 else f"a{i - 1}"
        bomb += f"a{i}: &a{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    bomb += "title: *a11\nexcerpt: *a11\ntopics: *a11\n---\n"
    # the lists are shared references, never expanded: skipped quickly
    assert "no title or excerpt" in skip_reason(bomb)


def test_deep_nesting_is_skipped_not_crashing():
    text = "---\ntitle: " + "[" * 50_000 + "]" * 50_000 + "\n---\n"
    with pytest.raises(SkipFile):
        parse(text)


def test_control_characters_are_kept_verbatim_for_json():
    a = parse('---\ntitle: "evil \\e[31m red"\n---\n')
    assert "\x1b" in a.title  # escaping is the renderers' job


def test_related_only_when_asked():
    text = ("---\ntitle: t\nrelated:\n  - title: Other coverage\n    webUrl: https://o.example\n"
            "    provider:\n      name: Other\n---\n")
    assert parse(text).related == ()
    rel = parse_article("a.md", text.encode(), with_related=True).related
    assert rel[0].title == "Other coverage" and rel[0].url == "https://o.example"
    assert rel[0].provider == "Other"


def test_read_article_unreadable(tmp_path: Path):
    with pytest.raises(SkipFile, match="cannot read file"):
        read_article(tmp_path / "missing.md")


def test_walk_finds_markdown_recursively_and_skips_others(corpus: Corpus):
    corpus.add("_news/a.md", "A")
    corpus.add("deep/er/b.markdown", "B")
    corpus.write("notes.txt", "not markdown")
    (corpus.root / "folder.md").mkdir()  # a folder named like a file
    (corpus.root / "folder.md" / "c.md").write_text(article_text("C"))
    found = [cf.relpath for cf in walk_corpus(corpus.root)]
    assert sorted(found) == ["_news/a.md", "deep/er/b.markdown", "folder.md/c.md"]


def test_walk_survives_symlink_loops(corpus: Corpus):
    corpus.add("sub/a.md", "A")
    os.symlink(corpus.root, corpus.root / "sub" / "loop")
    os.symlink(corpus.root / "nowhere", corpus.root / "dangling.md")
    found = [cf.relpath for cf in walk_corpus(corpus.root)]
    assert found == ["sub/a.md"]


def test_walk_missing_root(tmp_path: Path):
    with pytest.raises(CorpusNotFoundError):
        list(walk_corpus(tmp_path / "nope"))
