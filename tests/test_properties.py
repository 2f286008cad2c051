"""Property-based tests (Hypothesis): arbitrary input never raises anything but
the project's own errors.

* The front matter reader: arbitrary bytes, arbitrary text between `---` lines,
  YAML assembled from its own syntax tokens (anchors, aliases, merge keys,
  tags, flow and block collections...), and arbitrary mappings of the fields
  we read. A file gives an Article or SkipFile; an Article always becomes a
  document Whoosh accepts.
* File names: any name the file system allows is indexed or skipped, never a crash.
* The query path: arbitrary text into `Searcher.search` and `search query`
  gives a result page or a SearchError (exit 1 or 2 with one line), never a
  traceback.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from search.cli import main
from search.documents import Article, parse_article
from search.env import Env
from search.errors import SearchError, SkipFile
from search.indexer import _checked_fields, article_fields, build_index, stamp
from search.query import parse_date_bound
from search.searcher import Searcher, SearchRequest

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def read(data: bytes) -> Article | None:
    """parse_article, where skipping is a fine outcome and anything else fails the test."""
    try:
        article = parse_article("a.md", data)
    except SkipFile as exc:
        assert str(exc) and "\n" not in str(exc)  # a one-line reason
        return None
    assert article.title or article.excerpt
    assert len(article.title) <= 1000 and len(article.excerpt) <= 10_000
    assert article.published is None or article.published.tzinfo is not None
    return article


_RAM_INDEX: Any = None


def add_to_index(article: Article) -> None:
    """The article's document goes into a Whoosh index (in memory) cleanly."""
    global _RAM_INDEX
    from whoosh.filedb.filestore import RamStorage

    from search.schema import build_schema

    if _RAM_INDEX is None:
        _RAM_INDEX = RamStorage().create_index(build_schema())
    fields = article_fields(article, Path("/corpus"), stamp(1, 1, "d"))
    if _checked_fields(fields):
        return  # the indexer skips it with that reason
    writer = _RAM_INDEX.writer()
    try:
        writer.add_document(**fields)
    finally:
        writer.cancel()


# ----------------------------------------------------------------- the reader


@FAST
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(data: bytes):
    read(data)


@FAST
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_inside_front_matter(data: bytes):
    article = read(b"---\n" + data + b"\n---\n")
    if article:
        add_to_index(article)


@FAST
@given(st.text(max_size=2000))
def test_arbitrary_text_inside_front_matter(text: str):
    article = read(("---\n" + text + "\n---\n").encode("utf-8", "surrogatepass"))
    if article:
        add_to_index(article)


YAML_TOKENS = [
    "title", "excerpt", "topics", "provider", "name", "quality", "publishedDateTime", "related",
    ": ", ":", "- ", "-", "\n", "\n  ", "\n    ", "  ", "[", "]", "{", "}", ", ", "&a ", "&b ", "*a",
    "*b", "<<: ", "<<", "? ", "!!python/object/apply:os.system ", "!!python/name:os.getcwd ",
    "!!binary ", "!!set ", "!!omap ", "!!timestamp ", "!!float ", "!!int ", "!!str ", "!!null ",
    "!local ", "!<tag:yaml.org,2002:str> ", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "---\n", "...\n",
    "|\n  ", ">-\n  ", "'", '"', "\\", "\\e", "\\x1b", "\\u202e", "\\0", "#", "@", "`", "%",
    "2022-13-45", "2022-04-18T22:59:00Z", "9999-12-31T23:59:59-23:59", "0001-01-01", "1e400",
    ".nan", ".inf", "-.inf", "0x7fffffff", "2147483648", "99999999999999999999999999", "0o777",
    "1_000", "true", "~", "null", "yes", "x" * 50, "ünïcödé", "日本", "🔥", "\t", "\r\n", "\ufeff",
]


@FAST
@given(st.lists(st.sampled_from(YAML_TOKENS), max_size=60))
def test_yaml_assembled_from_its_own_syntax(tokens: list[str]):
    article = read(("---\n" + "".join(tokens) + "\n---\n").encode())
    if article:
        add_to_index(article)


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300), st.datetimes(timezones=st.none() | st.timezones()),
    st.dates(), st.binary(max_size=20),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
FIELDS = st.sampled_from(["title", "excerpt", "topics", "provider", "publishedDateTime", "quality",
                          "webUrl", "originalUrl", "category", "type", "related", "other"])


@FAST
@given(st.dictionaries(FIELDS, VALUES, min_size=1, max_size=8), st.text(min_size=1, max_size=80))
def test_arbitrary_values_of_the_fields_we_read(mapping: dict[str, Any], title: str):
    mapping.setdefault("title", title)
    try:
        text = yaml.safe_dump(mapping, allow_unicode=True)
    except (yaml.YAMLError, ValueError, OverflowError):
        assume(False)  # not representable as YAML: not a file anyone can write
        return
    article = read(("---\n" + text + "---\n").encode("utf-8", "surrogatepass"))
    if article:
        add_to_index(article)


@SLOW
@given(st.lists(st.text(min_size=1, max_size=60).filter(
    lambda n: "/" not in n and "\x00" not in n and n not in (".", "..")), min_size=1, max_size=5))
def test_any_file_name_is_indexed_or_skipped(tmp_path: Path, names: list[str]):
    case = tmp_path / os.urandom(6).hex()
    root = case / "corpus"
    root.mkdir(parents=True)
    written = set()
    for name in names:
        fname = name + ".md"
        if len(os.fsencode(fname)) > 255 or fname in written:
            continue
        try:
            (root / fname).write_text("---\ntitle: A story\n---\n", "utf-8")
        except (OSError, UnicodeEncodeError):
            continue  # a name this file system refuses
        written.add(fname)
    skipped: list[tuple[str, str]] = []
    report = build_index(case / "index", [root], on_skip=lambda p, r: skipped.append((p, r)))
    assert report.indexed + len(report.skipped) == len(written)
    for path, reason in skipped:
        path.encode("utf-8")  # printable and JSON-encodable as it is
        assert reason == "file name is not valid UTF-8"


# ----------------------------------------------------------------- the query path


@pytest.fixture(scope="module")
def qindex(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("props")
    root = base / "corpus"
    root.mkdir()
    for i in range(12):
        (root / f"a{i}.md").write_text(
            f'---\ntitle: "Story {i} about harbours and glaciers"\nexcerpt: "Excerpt {i} ünï"\n'
            f"publishedDateTime: 20{10 + i}-03-0{1 + i % 9}T00:00:00Z\nquality: {i}\n"
            f"topics: [Topic {i % 3}]\nprovider: P{i % 2}\n---\n", "utf-8")
    build_index(base / "index", [root])
    return base / "index"


QUERY_TOKENS = ["story", "harbour", "glacier", "AND", "OR", "NOT", "TO", "-", "+", "*", "?", "~",
                "^2", '"', "'", "(", ")", "[", "]", "{", "}", ":", "title:", "provider:", "topic:",
                "published:", "year:", "quality:", "foo:", "2022", "2022-13-45", "<", ">", "=", "\\",
                " ", "  ", "\t", "ünï", "🔥", "\x00", "\x1b", "\u202e", ".*", "|"]
QUERIES = st.one_of(st.text(max_size=200), st.lists(st.sampled_from(QUERY_TOKENS), max_size=30).map("".join))


@FAST
@given(QUERIES)
def test_searcher_search_never_raises_foreign_errors(qindex: Path, text: str):
    with Searcher(qindex) as searcher:
        try:
            page = searcher.search(SearchRequest(text, limit=5, facets=("provider", "topic", "year")))
        except SearchError:
            return
    assert 0 <= len(page.hits) <= min(5, page.total) and page.total <= 12


@SLOW
@given(QUERIES, st.sampled_from(["json", "text", "jsonl"]))
def test_cli_query_exits_0_1_or_2_with_one_line(qindex: Path, text: str, fmt: str):
    out, err = io.StringIO(), io.StringIO()
    code = main(["query", text, "--index", str(qindex), "--format", fmt, "--color", "never"],
                Env(stdin=io.StringIO(""), stdout=out, stderr=err, environ={"HOME": "/nonexistent"}))
    assert code in (0, 1, 2)
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert err.getvalue().count("\n") == 1 and out.getvalue() == ""
    elif fmt == "json":
        assert isinstance(json.loads(out.getvalue())["total"], int)


@FAST
@given(st.text(max_size=40), st.booleans())
def test_date_bounds_parse_or_raise_usage_error(text: str, end: bool):
    try:
        value = parse_date_bound(text, end=end)
    except SearchError:
        return
    assert isinstance(value, dt.datetime) and value.tzinfo is not None
