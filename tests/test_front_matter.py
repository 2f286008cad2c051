"""The index reads only the front matter keys it needs; that reading must give
the same article as loading the whole front matter, on every real file and on
generated YAML, or fall back to loading it whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SHARED_AZURE, SHARED_CORPUS
from hypothesis import given, settings
from hypothesis import strategies as st

from search.documents import Article, article_from_mapping, parse_article
from search.errors import SkipFile
from search.front_matter import (
    _related_urls_from_lines,
    _split_keys,
    load_front_matter,
    load_index_fields,
    related_urls,
    split_front_matter,
)


def full_reading(relpath: str, data: bytes) -> Article:
    """The article from the whole front matter (the slow, obvious way)."""
    from search.front_matter import decode_text

    mapping = load_front_matter(split_front_matter(decode_text(data)))
    return article_from_mapping(relpath, mapping)


def same(a: Article, b: Article) -> bool:
    return a == b and a.related_urls == b.related_urls


@pytest.mark.parametrize("root", [SHARED_CORPUS, SHARED_AZURE], ids=["corpus", "corpus-azure"])
def test_every_real_file_reads_the_same_both_ways(root: Path) -> None:
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    fast_path = checked = 0
    for path in sorted(root.rglob("*.md")):
        data = path.read_bytes()
        try:
            expected = full_reading(path.name, data)
        except SkipFile as exc:
            with pytest.raises(SkipFile):
                parse_article(path.name, data)
            print(path, exc)
            continue
        assert same(parse_article(path.name, data), expected), path
        text = split_front_matter(data.decode("utf-8-sig"))
        split = _split_keys(text)
        if split is not None and (not split[1] or _related_urls_from_lines(split[1]) is not None):
            fast_path += 1
        checked += 1
    assert checked > 800
    assert fast_path > 0.95 * checked  # the fast reading is the common case


def test_related_urls_in_an_ordinary_block() -> None:
    text = """title: t
related:
  - title: "One"
    webUrl: "https://a.example/1"
    images:
      - url: "https://img.example/x.png"
        webUrl: "https://nested.example/not-an-entry"
    originalUrl: https://a.example/1-original
  - title: 'Two'
    originalUrl: 'https://b.example/2'
  -   title: misaligned entry key
excerpt: e"""
    kept, related = _split_keys(text)  # type: ignore[misc]
    assert "related" not in kept and "excerpt: e" in kept
    assert _related_urls_from_lines(related) is None  # entry keys at two columns: parse instead
    assert load_index_fields(text)[1] == ("https://a.example/1", "https://b.example/2")
    misaligned_url = text.replace("misaligned entry key", "x\n      webUrl: https://c.example/3")
    assert load_index_fields(misaligned_url)[1] == ("https://a.example/1", "https://b.example/2",
                                                    "https://c.example/3")
    flow = "title: t\nrelated:\n  - {title: x, webUrl: 'https://f.example/1'}\n  - webUrl: https://g.example/2"
    assert _related_urls_from_lines(_split_keys(flow)[1]) is None  # type: ignore[index]
    assert load_index_fields(flow)[1] == ("https://f.example/1", "https://g.example/2")
    ordinary = text.replace("  -   title: misaligned entry key\n", "")
    kept, related = _split_keys(ordinary)  # type: ignore[misc]
    assert _related_urls_from_lines(related) == ("https://a.example/1", "https://b.example/2")


@pytest.mark.parametrize("text", [
    "title: &t anchored\nexcerpt: *t",  # an alias in a read key
    "<<: {title: merged}\nexcerpt: e",  # a merge key
    "title: t\n? complex\n: key",  # a complex key
    '"title": quoted key',
    "title: [a, list]",
    "title: !!str tagged",
    "  indented: first\ntitle: t",
])
def test_unusual_layouts_are_loaded_whole(text: str) -> None:
    assert _split_keys(text) is None


KEYS = st.sampled_from(["title", "excerpt", "topics", "provider", "quality", "webUrl", "related",
                        "images", "heat", "x"])
SCALARS = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x85\u2028\u2029"),
            max_size=20),
    st.integers(), st.sampled_from(["", "null", "true", "2022-04-18T10:00:00Z", "&a x", "*a", "[1, 2]",
                                    "{a: 1}", "- x", "|", "'q'", '"d"', "a # c", "!!int 3"]),
)


@st.composite
def front_matters(draw: st.DrawFn) -> str:
    lines = []
    for key in draw(st.lists(KEYS, max_size=8)):
        kind = draw(st.sampled_from(["scalar", "list", "map", "related"]))
        value = draw(SCALARS)
        if kind == "scalar":
            lines.append(f"{key}: {value}")
        elif kind == "list":
            lines.append(f"{key}:")
            lines += [f"  - {draw(SCALARS)}" for _ in range(draw(st.integers(0, 3)))]
        elif kind == "map":
            lines.append(f"{key}:\n  name: {value}\n  domain: {draw(SCALARS)}")
        else:
            lines.append(f"{key}:")
            for _ in range(draw(st.integers(0, 3))):
                lines.append(f"  - title: {draw(SCALARS)}")
                lines.append(f"    webUrl: {draw(SCALARS)}")
    return "\n".join(lines)


@settings(max_examples=400, deadline=None)
@given(front_matters())
def test_generated_front_matter_reads_the_same_both_ways(text: str) -> None:
    data = ("---\n" + text + "\n---\n").encode("utf-8")
    try:
        expected: Article | None = full_reading("x.md", data)
    except SkipFile:
        expected = None
    try:
        got: Article | None = parse_article("x.md", data)
    except SkipFile:
        got = None
    if expected is None:
        # a broken key the index never reads does not cost the article
        return
    assert got is not None and same(got, expected)


def test_unread_keys_are_never_parsed() -> None:
    data = b"---\ntitle: fine\nimages: [unclosed\nheat: {\n---\n"
    article = parse_article("x.md", data)
    assert article.title == "fine"
    with pytest.raises(SkipFile, match="invalid YAML"):
        full_reading("x.md", data)
    assert related_urls(None) == ()
