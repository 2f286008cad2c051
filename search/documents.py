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

MARKDOWN_SUFFIXES = (".md", ".markdown")
#: files larger than this are skipped: no news article's front matter is this big
MAX_FILE_BYTES = 4 * 1024 * 1024
#: front matter (the YAML part) larger than this is skipped: real articles have
#: a few KB (11 KB at most in the sample), while PyYAML needs ~200 bytes of
#: memory per node, so 4 MB of `[1,1,1,...]` would cost ~740 MB and 20 s
MAX_FRONT_MATTER_CHARS = 256 * 1024
#: how many key/value pairs YAML merge keys (`<<: *anchor`) may copy in one
#: file: merges of merges double at every level, a bomb that aliases alone
#: (shared, never copied) are not
MAX_MERGED_PAIRS = 10_000
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


_LOADER: Any = None
#: deeper YAML nesting than this is refused before constructing objects: the
#: constructor would otherwise overflow the C stack and kill the process
MAX_YAML_DEPTH = 200
#: front matter smaller than this with few brackets cannot nest that deep
_DEPTH_SCAN_BYTES = 16_384


def _yaml_loader() -> Any:
    """The safe loader (libyaml's when available), lenient where one odd value
    should not cost the whole article: an impossible date such as 2022-13-45,
    or an integer too long for Python to convert, stays a string. Merge keys
    get a budget (see `_flatten_mapping`)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        safe = yaml.constructor.SafeConstructor

        def lenient(construct: Any) -> Any:
            def constructor(loader: Any, node: Any) -> Any:
                try:
                    return construct(loader, node)
                except (ValueError, OverflowError, IndexError, AttributeError, TypeError):
                    # `!!int ''`, a 5000-digit number, a date that does not exist or
                    # a time zone with seconds: PyYAML fails in odd ways; keep the text
                    return loader.construct_scalar(node)

            return constructor

        _LOADER = type("LenientSafeLoader", (base,), {"flatten_mapping": _flatten_mapping})
        _LOADER.add_constructor("tag:yaml.org,2002:timestamp", lenient(safe.construct_yaml_timestamp))
        _LOADER.add_constructor("tag:yaml.org,2002:int", lenient(safe.construct_yaml_int))
        _LOADER.add_constructor("tag:yaml.org,2002:float", lenient(safe.construct_yaml_float))
    return _LOADER


def _flatten_mapping(loader: Any, node: Any) -> None:
    """PyYAML's SafeConstructor.flatten_mapping (merge keys) with a budget.

    The original copies the pairs of every merged mapping into the merging
    one, recursively: `a1: {<<: [*a0, *a0]}`, `a2: {<<: [*a1, *a1]}`... doubles
    at each level and never finishes. Here each copy is charged against
    MAX_MERGED_PAIRS per document first.
    """
    from yaml.constructor import ConstructorError
    from yaml.nodes import MappingNode, SequenceNode

    def charge(pairs: list[Any]) -> None:
        left = getattr(loader, "_merge_budget", MAX_MERGED_PAIRS) - len(pairs)
        if left < 0:
            raise SkipFile(f"invalid YAML: merge keys expand to more than {MAX_MERGED_PAIRS} entries")
        loader._merge_budget = left

    merge: list[Any] = []
    index = 0
    while index < len(node.value):
        key_node, value_node = node.value[index]
        if key_node.tag == "tag:yaml.org,2002:merge":
            del node.value[index]
            if isinstance(value_node, MappingNode):
                _flatten_mapping(loader, value_node)
                charge(value_node.value)
                merge.extend(value_node.value)
            elif isinstance(value_node, SequenceNode):
                submerge = []
                for subnode in value_node.value:
                    if not isinstance(subnode, MappingNode):
                        raise ConstructorError("while constructing a mapping", node.start_mark,
                                               f"expected a mapping for merging, but found {subnode.id}",
                                               subnode.start_mark)
                    _flatten_mapping(loader, subnode)
                    charge(subnode.value)
                    submerge.append(subnode.value)
                for value in reversed(submerge):
                    merge.extend(value)
            else:
                raise ConstructorError("while constructing a mapping", node.start_mark,
                                       "expected a mapping or list of mappings for merging, "
                                       f"but found {value_node.id}", value_node.start_mark)
        elif key_node.tag == "tag:yaml.org,2002:value":
            key_node.tag = "tag:yaml.org,2002:str"
            index += 1
        else:
            index += 1
    if merge:
        node.value = merge + node.value


def _check_depth(yaml_text: str) -> None:
    """Refuse pathological nesting cheaply: a full event scan only for large
    or bracket-heavy front matter."""
    if len(yaml_text) < _DEPTH_SCAN_BYTES and yaml_text.count("[") + yaml_text.count("{") < 100:
        return
    import yaml

    depth = 0
    try:
        for event in yaml.parse(yaml_text, Loader=_yaml_loader()):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise SkipFile(f"invalid YAML: nesting deeper than {MAX_YAML_DEPTH} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return  # the real load reports the syntax error with its line


def decode_text(data: bytes) -> str:
    """Decode a corpus file: UTF-8 (with or without BOM), or UTF-16 with a BOM."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SkipFile(f"invalid UTF-16 text ({exc.reason})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkipFile(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    if "\x00" in text:
        raise SkipFile("binary file (NUL bytes)")
    return text


def split_front_matter(text: str) -> str:
    """Return the YAML text between the opening `---` line and the closing
    `---` (or `...`) line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first, _, rest = text.partition("\n")
    if first.rstrip() != "---":
        raise SkipFile("no front matter (file does not start with a '---' line)")
    lines = rest.split("\n")
    for i, line in enumerate(lines):
        if line.rstrip() in ("---", "..."):
            return "\n".join(lines[:i])
    raise SkipFile("unterminated front matter (no closing '---' line)")


def load_front_matter(yaml_text: str) -> dict[str, Any]:
    """Parse front matter YAML safely into a mapping, or raise SkipFile."""
    import yaml

    if len(yaml_text) > MAX_FRONT_MATTER_CHARS:
        raise SkipFile(f"front matter too large ({len(yaml_text)} characters; "
                       f"limit {MAX_FRONT_MATTER_CHARS})")
    _check_depth(yaml_text)
    try:
        data = yaml.load(yaml_text, Loader=_yaml_loader())
    except yaml.constructor.ConstructorError as exc:
        problem = " ".join((exc.problem or "unsupported YAML").split())[:200]
        if "constructor for the tag" in problem:
            raise SkipFile(f"unsafe or unsupported YAML tag: {problem}") from None
        raise SkipFile(f"unsupported YAML: {problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise SkipFile(f"invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise SkipFile("invalid YAML: nesting too deep") from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise SkipFile(f"invalid YAML value: {' '.join(str(exc).split())[:200]}") from None
    except (MemoryError, SkipFile):
        raise
    except Exception as exc:  # noqa: BLE001 - PyYAML fails in assorted ways on odd input
        raise SkipFile(f"invalid YAML ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    if data is None:
        raise SkipFile("empty front matter")
    if not isinstance(data, dict):
        raise SkipFile(f"front matter is a {type(data).__name__}, not a mapping")
    return data


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


def article_from_mapping(relpath: str, data: dict[str, Any], with_related: bool = False) -> Article:
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
    )


def parse_article(relpath: str, data: bytes, with_related: bool = False) -> Article:
    """Parse one corpus file's bytes into an Article, or raise SkipFile."""
    if len(data) > MAX_FILE_BYTES:
        raise SkipFile(f"file too large ({len(data)} bytes; limit {MAX_FILE_BYTES})")
    mapping = load_front_matter(split_front_matter(decode_text(data)))
    return article_from_mapping(relpath, mapping, with_related=with_related)


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
