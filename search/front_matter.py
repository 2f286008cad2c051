"""Front matter text → a mapping, safely and as cheaply as the index allows.

Everything read here is untrusted: YAML is loaded with the safe loader only
(libyaml's when available), with budgets for size, nesting and merge keys, and
a file that cannot be read raises `SkipFile` with a one-line reason.

The index needs a dozen top-level keys of an article, and of its `related`
list only the entries' URLs; real articles carry far more (image lists, long
related lists: a corpus-azure file is ~28 KB of YAML, 5 ms to load whole).
`load_index_fields` therefore reads the front matter's lines once, keeps the
lines of the keys the index needs, takes the related entries' URLs from their
`webUrl:`/`originalUrl:` lines, and loads only what it kept (~0.15 ms): the
rest is never parsed, so nothing in it can cost time, memory or the article.
Whenever the text is not the plain block layout that this reading
understands (a top-level line that is not `key:`, anchors, aliases, tags,
merge keys, flow collections, escapes), it falls back to loading the whole
front matter. `tests/test_front_matter.py` checks both ways give the same
article for every file of the shared corpora.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .errors import SkipFile

#: front matter (the YAML part) larger than this is skipped: real articles have
#: a few KB (11 KB at most in the sample), while PyYAML needs ~200 bytes of
#: memory per node, so 4 MB of `[1,1,1,...]` would cost ~740 MB and 20 s
MAX_FRONT_MATTER_CHARS = 256 * 1024
#: how many key/value pairs YAML merge keys (`<<: *anchor`) may copy in one
#: file: merges of merges double at every level, a bomb that aliases alone
#: (shared, never copied) are not
MAX_MERGED_PAIRS = 10_000


#: deeper YAML nesting than this is refused before constructing objects: the
#: constructor would otherwise overflow the C stack and kill the process
MAX_YAML_DEPTH = 200
#: front matter smaller than this with few brackets cannot nest that deep
_DEPTH_SCAN_BYTES = 16_384


@functools.lru_cache(maxsize=1)
def _yaml_loader() -> Any:
    """The safe loader (libyaml's when available), lenient where one odd value
    should not cost the whole article: an impossible date such as 2022-13-45,
    or an integer too long for Python to convert, stays a string. Merge keys
    get a budget (see `_flatten_mapping`)."""
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

    loader = type("LenientSafeLoader", (base,), {"flatten_mapping": _flatten_mapping})
    loader.add_constructor("tag:yaml.org,2002:timestamp", lenient(safe.construct_yaml_timestamp))
    loader.add_constructor("tag:yaml.org,2002:int", lenient(safe.construct_yaml_int))
    loader.add_constructor("tag:yaml.org,2002:float", lenient(safe.construct_yaml_float))
    return loader


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


_CLOSING = re.compile(r"\n(?:---|\.\.\.)[ \t]*(?=\n|$)")


def split_front_matter(text: str) -> str:
    """Return the YAML text between the opening `---` line and the closing
    `---` (or `...`) line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    first, _, rest = text.partition("\n")
    if first.rstrip() != "---":
        raise SkipFile("no front matter (file does not start with a '---' line)")
    if rest.startswith(("---", "...")) and rest[3:].split("\n", 1)[0].strip(" \t") == "":
        return ""
    end = _CLOSING.search(rest)
    if end is None:
        raise SkipFile("unterminated front matter (no closing '---' line)")
    return rest[: end.start()]


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


# ----------------------------------------------------------------- the fast path

#: top-level keys the index reads (`related` is read for its URLs only)
INDEX_KEYS = frozenset({"title", "excerpt", "publishedDateTime", "provider", "topics", "quality",
                        "webUrl", "originalUrl", "category", "type"})
_KEY_LINE = re.compile(r"([A-Za-z_][\w-]*)[ \t]*:(?=[ \t\n]|$)")
#: a value that starts with a YAML construct the line reading does not
#: follow: an anchor, alias, tag or flow collection (after `key:` or `- `);
#: merge keys anywhere
_RISKY = re.compile(r"^[ \t]*(?:-[ \t]+)*(?:[\w-]+[ \t]*:(?:[ \t]+|$))?[&*!\[{]|<<[ \t]*:", re.M)
_URL_KEY = re.compile(r"(webUrl|originalUrl)[ \t]*:[ \t]*(.*)$")


def load_index_fields(yaml_text: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(the front matter's INDEX_KEYS as a mapping, its related entries' URLs),
    reading only the lines the index needs; or SkipFile."""
    if len(yaml_text) > MAX_FRONT_MATTER_CHARS:
        raise SkipFile(f"front matter too large ({len(yaml_text)} characters; "
                       f"limit {MAX_FRONT_MATTER_CHARS})")
    split = _split_keys(yaml_text) if yaml_text.strip() else None
    if split is None:
        data = load_front_matter(yaml_text)
        return {k: v for k, v in data.items() if k in INDEX_KEYS}, related_urls(data.get("related"))
    kept, related = split
    data = load_front_matter(kept) if kept.strip() else {}
    urls: tuple[str, ...] = ()
    if related:
        found = _related_urls_from_lines(related)
        urls = found if found is not None else related_urls(load_front_matter(related).get("related"))
    return data, urls


#: the line break before a line that starts at column 0 (a top-level key, or
#: something this reading does not follow); a literal first character keeps
#: the regex engine's scan fast
_TOP_BREAK = re.compile(r"\n(?=[^ \t#\n-]|-[^ \t\n])")
_FIRST_ENTRY = re.compile(r"\n( *)-( +)")
_URL_KEYS = ("webUrl", "originalUrl")


def _split_keys(yaml_text: str) -> tuple[str, str] | None:
    """(the text of the INDEX_KEYS, the text of `related`), or None when the
    text is not a plain block mapping this reading can follow."""
    text = "\n" + yaml_text
    starts = [m.start() + 1 for m in _TOP_BREAK.finditer(text)]
    head = text[: starts[0]] if starts else text
    if any(line.strip() and not line.lstrip().startswith("#") for line in head.split("\n")):
        return None  # indented text before the first key: only comments may come first
    kept: list[str] = []
    related = ""
    for i, start in enumerate(starts):
        end = starts[i + 1] - 1 if i + 1 < len(starts) else len(text)
        block = text[start:end]
        key = _KEY_LINE.match(block)
        if key is None:
            return None
        if key.group(1) in INDEX_KEYS:
            kept.append(block)
        elif key.group(1) == "related":
            related = block
    kept_text = "\n".join(kept)
    if _RISKY.search(kept_text):
        return None
    return kept_text, related


def _related_urls_from_lines(block: str) -> tuple[str, ...] | None:
    """Each related entry's webUrl (or originalUrl) from the text of a block
    sequence of mappings; None when the block is anything else.

    The entries are cut apart at their `- ` (found with string searches, not
    line by line: a corpus-azure list is ~700 lines), and an entry's own keys
    are the lines indented exactly as its first key."""
    first_line, _, body = block.partition("\n")
    head = first_line.split(":", 1)[1].strip()
    if (head and not head.startswith("#")) or "\t" in block:
        return None  # `related: [...]`, a scalar, or tabs: not for this reading
    if not body.strip():
        return ()
    body = "\n" + body
    first = _FIRST_ENTRY.match(body)
    if first is None:
        return None
    dash_col, key_col = len(first.group(1)), len(first.group(1)) + 1 + len(first.group(2))
    chunks = body.split("\n" + " " * dash_col + "-" + " " * (key_col - dash_col - 1))
    shallow = re.compile(r"\n {0,%d}[^ \n#]" % (key_col - 1))  # noqa: UP031 - a regex quantifier
    if any(chunk[:1] == " " for chunk in chunks[1:]):
        return None  # an entry whose first key starts further right
    if any(chunk[:1] in "{[&*!?|>\"'" for chunk in chunks[1:]):
        return None  # a flow mapping, an alias, a tag, a complex key... as an entry
    if chunks[0].strip() or shallow.search(body.replace("\n" + " " * dash_col + "-", "\n" + " " * key_col)):
        return None  # lines outside the entries, or shallower than their keys
    own = "\n" + " " * key_col
    urls: list[str] = []
    for chunk in chunks[1:]:
        entry = "\n" + chunk
        found = ""
        for key in _URL_KEYS:
            at = entry.find(own + key)
            while at >= 0:
                line_end = entry.find("\n", at + 1)
                line = entry[at + len(own) : line_end if line_end >= 0 else len(entry)]
                rest = line[len(key):].lstrip(" ")
                if rest.startswith(":"):
                    value = _plain_scalar(rest[1:])
                    if value is None:
                        return None
                    found = found or value
                    break
                at = entry.find(own + key, at + 1)
            if found:
                break
        if found:
            urls.append(found)
    return tuple(urls)


def _plain_scalar(raw: str) -> str | None:
    """A one-line YAML scalar without escapes, or None when it needs a parser."""
    value = raw.strip()
    if not value:
        return ""
    if value[0] == '"':
        inner = value[1:-1]
        return inner if len(value) > 1 and value.endswith('"') and '"' not in inner \
            and "\\" not in inner else None
    if value[0] == "'":
        inner = value[1:-1]
        return inner if len(value) > 1 and value.endswith("'") and "'" not in inner else None
    if value[0] in "&*!|>{[%@`#":
        return None
    comment = value.find(" #")
    return (value[:comment] if comment >= 0 else value).rstrip()


def related_urls(value: Any) -> tuple[str, ...]:
    """Each related entry's webUrl (or originalUrl) from a loaded `related` value."""
    if not isinstance(value, list):
        return ()
    out = []
    for item in value[:200]:
        if isinstance(item, dict):
            url = item.get("webUrl") or item.get("originalUrl")
            if isinstance(url, str) and url.strip():
                out.append(url.strip())
    return tuple(out)
