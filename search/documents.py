"""Corpus files → `Article` records.

Everything read here is untrusted: YAML is loaded with the safe loader only
(libyaml's when available), text fields are size-capped, and a file that cannot
be turned into an article raises `SkipFile` with a one-line reason.
"""

from __future__ import annotations

import datetime as dt
import errno
import html
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CorpusNotFoundError, SkipFile
from .front_matter import (
    MAX_FRONT_MATTER_CHARS,
    decode_text,
    load_front_matter,
    load_index_fields,
    related_urls,
    split_front_matter,
)

__all__ = ["MAX_FRONT_MATTER_CHARS", "Article", "CorpusFile", "Related", "decode_text",
           "load_front_matter", "parse_article", "read_article", "read_capped", "split_front_matter",
           "walk_corpus"]

MARKDOWN_SUFFIXES = (".md", ".markdown")
#: files larger than this are skipped: no news article's front matter is this big
MAX_FILE_BYTES = 4 * 1024 * 1024
#: caps that keep one hostile article from bloating the index or the terminal
MAX_TITLE_CHARS = 1_000
MAX_EXCERPT_CHARS = 10_000
MAX_TOPICS = 100
MAX_FIELD_CHARS = 2_000


@dataclass(frozen=True)
class Related:
    """Another outlet's coverage of the same story (shown, never indexed)."""

    title: str
    url: str = ""
    provider: str = ""
    published: dt.datetime | None = None


@dataclass(frozen=True)
class Article:
    """One indexable news article read from a corpus file."""

    path: str  # relative to its corpus root, with forward slashes: the document key
    title: str
    excerpt: str = ""
    topics: tuple[str, ...] = ()
    provider: str = ""
    provider_domain: str = ""
    published: dt.datetime | None = None  # timezone-aware (UTC) or None
    quality: int | None = None
    url: str = ""  # webUrl, or originalUrl when there is no webUrl
    original_url: str = ""
    category: str = ""
    type: str = ""
    related: tuple[Related, ...] = field(default=(), compare=False)
    #: the related entries' URLs (read even without `related`, for stories)
    related_urls: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class CorpusFile:
    """A file found by the corpus walk, with the stat data used for change detection."""

    root: Path  # the corpus root it was found under (absolute)
    relpath: str  # forward-slash path relative to root
    abspath: str  # a str, not a Path: building 100,000 Paths was a third of a no-change walk
    size: int
    mtime_ns: int


# --------------------------------------------------------------------- walking


def walk_corpus(root: Path, on_error: Callable[[str, str], None] | None = None) -> Iterator[CorpusFile]:
    """Yield every Markdown file under `root`, recursively, in sorted order.

    Symlinked folders are followed once (a loop is cut by remembering the
    (device, inode) of every folder entered); anything that is not a regular
    file is skipped. What cannot be read is reported through
    `on_error(path, reason)`: a sub-folder that cannot be listed, and a
    Markdown name that cannot be followed (a broken or looping symlink). A
    root that cannot be listed raises CorpusNotFoundError.
    """
    root = root.resolve() if root.exists() else root
    try:
        st = root.stat()
    except OSError as exc:
        raise CorpusNotFoundError(f"{root}: corpus folder not found ({exc.strerror})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CorpusNotFoundError(f"{root}: not a folder")
    seen: set[tuple[int, int]] = {(st.st_dev, st.st_ino)}
    stack: list[Path] = [root]
    prefix_len = len(os.path.join(str(root), ""))
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if folder == root:
                raise CorpusNotFoundError(
                    f"{root}: cannot read corpus folder ({exc.strerror or exc})"
                ) from None
            if on_error:  # nothing under it can be indexed: say so, and go on
                on_error(str(folder), f"cannot read folder ({exc.strerror or exc})")
            continue
        subdirs: list[Path] = []
        for entry in entries:
            try:
                est = entry.stat(follow_symlinks=True)
            except OSError as exc:
                if on_error and entry.name.lower().endswith(MARKDOWN_SUFFIXES):
                    broken = exc.errno == errno.ENOENT and entry.is_symlink()
                    on_error(entry.path, "broken symbolic link" if broken
                             else f"cannot read file ({exc.strerror or exc})")
                continue  # dangling symlink or vanished entry
            if stat.S_ISDIR(est.st_mode):
                key = (est.st_dev, est.st_ino)
                if key not in seen:
                    seen.add(key)
                    subdirs.append(Path(entry.path))
            elif stat.S_ISREG(est.st_mode) and entry.name.lower().endswith(MARKDOWN_SUFFIXES):
                # string slicing, not Path.relative_to: the walk is most of a
                # no-change re-run, and pathlib was half of the walk
                rel = entry.path[prefix_len:]
                if os.sep != "/":
                    rel = rel.replace(os.sep, "/")
                yield CorpusFile(root, rel, entry.path, est.st_size, est.st_mtime_ns)
        stack.extend(reversed(subdirs))


# --------------------------------------------------------------------- parsing


def _scalar_text(value: Any, limit: int) -> str:
    """A scalar as text, capped; lists, mappings and aliases to them give ''.

    Refusing containers is what keeps YAML alias bombs harmless: we never
    stringify a structure.
    """
    if value is None or isinstance(value, (list, dict, set, tuple, bytes)):
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (dt.datetime, dt.date)):
        text = value.isoformat()
    else:
        text = str(value)
    text = " ".join(text.split()) if "\n" in text or "\t" in text else text.strip()
    return text[:limit]


def _text(value: Any, limit: int) -> str:
    """Display text: a scalar as text with HTML entities decoded. Feeds and
    CMSs leave `&amp;` and `&#8217;` in titles and excerpts; shown or searched
    as they are, `look &amp; feel` finds nothing and reads badly. Decoded
    twice at most (`&amp;amp;` is a common double encoding)."""
    text = _scalar_text(value, limit)
    for _ in range(2):
        if "&" not in text:
            break
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = " ".join(decoded.split()) if any(c in decoded for c in "\n\t\r\xa0") else decoded
    return text[:limit]


def _topics(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    out: list[str] = []
    for item in value[:MAX_TOPICS]:
        text = _text(item, MAX_FIELD_CHARS)
        if text and text not in out:
            out.append(text)
    return tuple(out)


def _provider(value: Any) -> tuple[str, str]:
    if isinstance(value, dict):
        return (
            _text(value.get("name"), MAX_FIELD_CHARS),
            _scalar_text(value.get("domain"), MAX_FIELD_CHARS),
        )
    return _text(value, MAX_FIELD_CHARS), ""


def parse_datetime(value: Any) -> dt.datetime | None:
    """A timezone-aware UTC datetime from a YAML value, or None when unusable.

    Naive datetimes are taken as UTC (the corpus writes `Z` times).
    """
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, dt.date):
        result = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            result = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if result.tzinfo is None:
        result = result.replace(tzinfo=dt.timezone.utc)
    try:
        return result.astimezone(dt.timezone.utc)
    except (OverflowError, ValueError):
        return None


def _quality(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    # NaN, infinities and anything outside the index's signed 32-bit field
    # (whose lowest value means "no quality") are no quality at all
    if number != number or not -(2**31) < number < 2**31:
        return None
    return int(number)


def _related(value: Any) -> tuple[Related, ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for item in value[:200]:
        if not isinstance(item, dict):
            continue
        title = _text(item.get("title"), MAX_TITLE_CHARS)
        if not title:
            continue
        url = _scalar_text(item.get("webUrl") or item.get("originalUrl"), MAX_FIELD_CHARS)
        out.append(
            Related(
                title=title,
                url=url,
                provider=_provider(item.get("provider"))[0],
                published=parse_datetime(item.get("publishedDateTime")),
            )
        )
    return tuple(out)


def article_from_mapping(relpath: str, data: dict[str, Any], with_related: bool = False,
                         urls: tuple[str, ...] | None = None) -> Article:
    """Build an Article from parsed front matter, or raise SkipFile."""
    title = _text(data.get("title"), MAX_TITLE_CHARS)
    excerpt = _text(data.get("excerpt"), MAX_EXCERPT_CHARS)
    if not title and not excerpt:
        raise SkipFile("no title or excerpt")
    provider, domain = _provider(data.get("provider"))
    web_url = _scalar_text(data.get("webUrl"), MAX_FIELD_CHARS)
    original_url = _scalar_text(data.get("originalUrl"), MAX_FIELD_CHARS)
    return Article(
        path=relpath,
        title=title,
        excerpt=excerpt,
        topics=_topics(data.get("topics")),
        provider=provider,
        provider_domain=domain,
        published=parse_datetime(data.get("publishedDateTime")),
        quality=_quality(data.get("quality")),
        url=web_url or original_url,
        original_url=original_url,
        category=_scalar_text(data.get("category"), MAX_FIELD_CHARS),
        type=_scalar_text(data.get("type"), MAX_FIELD_CHARS),
        related=_related(data.get("related")) if with_related else (),
        related_urls=urls if urls is not None else related_urls(data.get("related")),
    )


def parse_article(relpath: str, data: bytes, with_related: bool = False) -> Article:
    """Parse one corpus file's bytes into an Article, or raise SkipFile.

    Only what the index needs is read (see `search.front_matter`); with
    `with_related` the whole front matter is loaded, related coverage included."""
    if len(data) > MAX_FILE_BYTES:
        raise SkipFile(f"file too large ({len(data)} bytes; limit {MAX_FILE_BYTES})")
    yaml_text = split_front_matter(decode_text(data))
    if with_related:
        return article_from_mapping(relpath, load_front_matter(yaml_text), with_related=True)
    mapping, urls = load_index_fields(yaml_text)
    return article_from_mapping(relpath, mapping, urls=urls)


def read_article(path: Path | str, relpath: str | None = None, with_related: bool = False) -> Article:
    """Read and parse one file; unreadable files raise SkipFile too."""
    data, _ = read_capped(path)
    return parse_article(relpath or Path(path).name, data, with_related=with_related)


def read_capped(path: Path | str) -> tuple[bytes, os.stat_result]:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file, with its stat
    data (for change detection); or SkipFile.

    Opened non-blocking and checked with fstat: a FIFO named `x.md` (or a
    file swapped for one after the walk) must not hang the reader, and a huge
    file (or a symlink to /proc/kcore) must not be read whole.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SkipFile(f"cannot read file ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SkipFile("not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise SkipFile(f"file too large ({st.st_size} bytes; limit {MAX_FILE_BYTES})")
        chunks = []
        left = MAX_FILE_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks), st
    except OSError as exc:
        raise SkipFile(f"cannot read file ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def iter_articles(files: Iterable[CorpusFile]) -> Iterator[tuple[CorpusFile, Article | SkipFile]]:
    """Parse files one by one, pairing each with its Article or its SkipFile."""
    for cf in files:
        try:
            yield cf, read_article(cf.abspath, cf.relpath)
        except SkipFile as exc:
            yield cf, exc
