"""Query text → query model (`search.query.model`). Never fails.

Grammar, loosest binding first:

    query    := item*                       words side by side
    item     := andchain ('OR' andchain)*   OR binds tighter than a space
    andchain := unary ('AND' unary)*        AND binds tighter than OR
    unary    := ('NOT' | '-' | '+')? primary
    primary  := '(' query ')' | FIELD ':' value | '"' phrase '"' | term

So `azure arc OR kubernetes` is azure AND (arc OR kubernetes), as in web
search engines. Side-by-side items must all match (the default matching
strategy; `any` makes them alternatives); `+x` makes x required and the
unmarked items beside it optional (Lucene's rule); `-x` and `NOT x` exclude.
Top-level clauses on filter fields (`provider:`, `topic:`, `published:`...)
filter without ranking: values of one field are alternatives, different
fields must all match, and an explicit AND of two values of one field means
both. `-` and `+` are operators only at the start of a word (`face-detection`
is one hyphenated word).

Text the grammar cannot read (an unbalanced quote, a range with bad bounds,
an unknown field) is searched as plain words, and `ParsedQuery.note` says so.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from ..analysis import GROUP, STOP_WORDS, WORD, is_compound, stem, surface_tokens
from ..errors import UsageError
from .dates import parse_date_bound
from .model import (
    TEXT_FIELDS,
    Bool,
    Clause,
    Compound,
    Exists,
    MatchAll,
    MatchNone,
    Node,
    Occur,
    ParsedQuery,
    Phrase,
    Prefix,
    Range,
    Value,
    Wildcard,
    Word,
)

MAX_QUERY_CHARS = 4_000
#: a word still being typed (`prefix_last`) expands to this many words at most
LIVE_PREFIX_WORDS = 40
_LAST_WORD = re.compile(r"(?:^|[\s(])([^\W_][\w.\-]*)$")
MAX_DEPTH = 32
MATCH_MODES = ("auto", "all", "any")

#: field names users may type before a colon → index field
FIELD_NAMES = {
    "title": "title", "excerpt": "excerpt", "topics": "topics",
    "topic": "topic", "tag": "topic", "tags": "topic",
    "provider": "provider", "source": "provider", "site": "provider",
    "published": "published", "date": "published",
    "year": "year", "quality": "quality",
    "type": "type", "category": "category", "path": "path",
}
#: the field names shown in help and completion
QUERY_FIELDS = ("title", "excerpt", "topics", "topic", "provider", "published", "year",
                "quality", "type", "category", "path")
FIELD_ALIASES = {"topic": ["tag", "tags"], "provider": ["source", "site"], "published": ["date"]}
FILTER_FIELDS = frozenset({"topic", "provider", "type", "category", "path"})
RANGE_FIELDS = frozenset({"published", "year", "quality"})

_FIELD = re.compile(r"([A-Za-z_]+):(?=\S)")
_BOOST = re.compile(r"\^(\d{1,6}(?:\.\d{1,6})?)$")
_FUZZY = re.compile(r"~([0-2])?$")
_SLOP = re.compile(r"~(\d{1,3})")
_RANGE = re.compile(r"([\[{])\s*(\S*?)\s*\bTO\b\s*(\S*?)\s*([\]}])")
_COMPARE = re.compile(r"(>=|<=|>|<)(\S+)")
_OPERATORS = ("AND", "OR", "NOT")
#: a term ends at whitespace, a parenthesis or a quote
_TERM_END = re.compile(r'[\s()"]')


class _Unreadable(Exception):
    """Raised inside the parser when a construct must be read as plain words."""


# ----------------------------------------------------------------- syntax tree


@dataclass
class _Leaf:
    node: Node
    filter_field: str = ""  # set for values and ranges of filter fields


@dataclass
class _Chain:
    op: str  # "AND" | "OR"
    items: list[object]


@dataclass
class _Group:
    items: list[object]
    #: text the grammar could not read, searched as words: its words join the
    #: enclosing group as words of their own (they may be relaxed like any)
    plain: bool = False


@dataclass
class _Marked:
    mark: str  # "+" | "-"
    item: object


@dataclass
class _State:
    text: str
    pos: int = 0
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------- parsing


def parse_query(text: str, match: str = "auto", today: dt.date | None = None,
                prefix_last: bool = False) -> ParsedQuery:
    """Parse user query text; never raises (bad syntax is read as words).

    With `prefix_last`, a plain word at the very end of the text (no space
    after it) is a word still being typed: it matches the most common
    indexed words that start with it (results while typing)."""
    if match not in MATCH_MODES:
        raise UsageError(f"unknown match mode {match!r}: choose one of {', '.join(MATCH_MODES)}")
    raw = text[:MAX_QUERY_CHARS]
    last = _LAST_WORD.search(raw) if prefix_last else None
    if last is not None and raw.count('"') % 2 == 0 and last.group(1) not in _OPERATORS:
        parsed = parse_query(raw + "*", match, today)
        return replace(parsed, text=text, root=_limit_prefix(parsed.root, last.group(1).lower()))
    stripped = raw.strip()
    if not stripped or stripped == "*":
        return ParsedQuery(text, MatchAll(), match=match)
    reader = _Reader(raw, today)
    try:
        tree = reader.group(0, top=True)
        root = _build_group(tree, match, top=True)
    except (_Unreadable, RecursionError):
        reader.state.notes.append("the query was read as plain words")
        root = _build_group(_plain_group(raw), match, top=True)
    if root is None:
        root = MatchNone()
    return ParsedQuery(text, root, note="; ".join(dict.fromkeys(reader.state.notes)), match=match)


class _Reader:
    def __init__(self, text: str, today: dt.date | None) -> None:
        self.state = _State(text)
        self.today = today

    # -- low level

    def _peek(self) -> str:
        s = self.state
        return s.text[s.pos] if s.pos < len(s.text) else ""

    def _skip_space(self) -> None:
        s = self.state
        while s.pos < len(s.text) and s.text[s.pos].isspace():
            s.pos += 1

    def _operator(self) -> str:
        """An operator word at the cursor (delimited), or ""."""
        s = self.state
        for op in _OPERATORS:
            end = s.pos + len(op)
            if s.text.startswith(op, s.pos) and (end == len(s.text) or s.text[end].isspace()
                                                  or s.text[end] in "()"):
                return op
        return ""

    # -- grammar

    def group(self, depth: int, top: bool = False) -> _Group:
        if depth > MAX_DEPTH:
            raise _Unreadable
        items: list[object] = []
        s = self.state
        while True:
            self._skip_space()
            ch = self._peek()
            if not ch:
                break
            if ch == ")":
                if top:
                    s.pos += 1  # a stray ")" means nothing
                    continue
                break
            op = self._operator()
            if op in ("AND", "OR"):
                s.pos += len(op)  # an operator with nothing on its left
                continue
            before = s.pos
            item = self.orchain(depth)
            if item is not None:
                items.append(item)
            elif s.pos == before:
                s.pos += 1  # nothing readable here: never loop on it
        return _Group(items)

    def orchain(self, depth: int) -> object | None:
        first = self.andchain(depth)
        items = [first] if first is not None else []
        while True:
            save = self.state.pos
            self._skip_space()
            if self._operator() != "OR":
                self.state.pos = save
                break
            self.state.pos += 2
            self._skip_space()
            nxt = self.andchain(depth)
            if nxt is not None:
                items.append(nxt)
        if not items:
            return None
        return items[0] if len(items) == 1 else _Chain("OR", items)

    def andchain(self, depth: int) -> object | None:
        first = self.unary(depth)
        items = [first] if first is not None else []
        while True:
            save = self.state.pos
            self._skip_space()
            if self._operator() != "AND":
                self.state.pos = save
                break
            self.state.pos += 3
            self._skip_space()
            nxt = self.unary(depth)
            if nxt is not None:
                items.append(nxt)
        if not items:
            return None
        return items[0] if len(items) == 1 else _Chain("AND", items)

    def unary(self, depth: int) -> object | None:
        s = self.state
        self._skip_space()
        if self._operator() == "NOT":
            s.pos += 3
            self._skip_space()
            inner = self.unary(depth + 1)
            return _Marked("-", inner) if inner is not None else None
        ch = self._peek()
        if ch in "+-" and s.pos + 1 < len(s.text) and not s.text[s.pos + 1].isspace():
            s.pos += 1
            inner = self.primary(depth + 1)
            return _Marked("+" if ch == "+" else "-", inner) if inner is not None else None
        return self.primary(depth)

    def primary(self, depth: int, fieldname: str = "") -> object | None:
        s = self.state
        self._skip_space()
        ch = self._peek()
        if not ch or ch == ")":
            return None
        if ch == "(":
            s.pos += 1
            inner = self.group(depth + 1)
            if self._peek() == ")":
                s.pos += 1
            return _FieldGroup(fieldname, inner) if fieldname else inner
        if ch == '"':
            return self.phrase(fieldname)
        m = _FIELD.match(s.text, s.pos)
        if m and not fieldname:
            name = FIELD_NAMES.get(m.group(1).lower())
            if name is not None:
                s.pos = m.end()
                return self.field_value(name, depth)
        return self.term(fieldname)

    def phrase(self, fieldname: str) -> object | None:
        s = self.state
        end = s.text.find('"', s.pos + 1)
        if end < 0:
            # an unbalanced quote: the rest is plain words
            s.notes.append("unbalanced quote ignored")
            s.pos += 1
            return None
        body = s.text[s.pos + 1 : end]
        s.pos = end + 1
        slop, boost = 0, 1.0
        m = _SLOP.match(s.text, s.pos)
        if m:
            slop = min(int(m.group(1)), 100)
            s.pos = m.end()
        b = re.match(r"\^(\d{1,6}(?:\.\d{1,6})?)", s.text[s.pos:])
        if b:
            boost = float(b.group(1))
            s.pos += b.end()
        if fieldname in FILTER_FIELDS:
            value = " ".join(body.split()).lower()
            return _Leaf(Value(fieldname, value), fieldname) if value else None
        fields = (fieldname,) if fieldname else TEXT_FIELDS
        terms = tuple(stem(w) for _, _, w in surface_tokens(body))
        if not terms:
            return None
        if len(terms) == 1:
            word = next(w for _, _, w in surface_tokens(body))
            return _Leaf(Word(body.strip(), terms[0], word, fields, exact=True, boost=boost))
        return _Leaf(Phrase(body.strip(), terms, fields, slop, boost))

    def _raw_term(self) -> str:
        s = self.state
        m = _TERM_END.search(s.text, s.pos)
        end = m.start() if m else len(s.text)
        raw = s.text[s.pos : end]
        s.pos = end
        return raw

    def field_value(self, name: str, depth: int) -> object | None:
        s = self.state
        ch = self._peek()
        if name in RANGE_FIELDS:
            return self.range_value(name)
        if name in FILTER_FIELDS:
            if ch == '"':
                return self.phrase(name)
            if ch == "(":
                return self.primary(depth, name)
            raw = self._raw_term().strip()
            if raw == "*":
                return _Leaf(Exists(name), name)
            value = raw.lower()
            if value.endswith("*") and "*" not in value[:-1] and len(value) > 1:
                return _Leaf(Value(name, value[:-1], prefix=True), name)
            return _Leaf(Value(name, value), name) if value else None
        # a text field
        if ch in "[{":
            raw = self._skip_bracket()
            s.notes.append(f"{name}: takes words, not a range; searched as words")
            return _plain_group(raw)
        if ch == "(" or ch == '"':
            return self.primary(depth, name)
        raw = self._raw_term()
        if raw.strip() == "*":
            return _Leaf(Exists(name))
        return self._term_leaf(raw, name)

    def range_value(self, name: str) -> object | None:
        s = self.state
        start = s.pos
        rest = s.text[s.pos:]
        try:
            m = _RANGE.match(rest)
            if m:
                s.pos += m.end()
                low = (None if m.group(2) in ("*", "") else
                       self._bound(name, m.group(2), "low", m.group(1) == "{"))
                high = (None if m.group(3) in ("*", "") else
                        self._bound(name, m.group(3), "high", m.group(4) == "}"))
                return _Leaf(Range(name, low, high), name)
            raw = self._raw_term()
            if raw == "*":
                return _Leaf(Exists(name), name)
            c = _COMPARE.fullmatch(raw)
            if c:
                op, value = c.groups()
                if op.startswith(">"):
                    return _Leaf(Range(name, self._bound(name, value, "low", op == ">"), None), name)
                return _Leaf(Range(name, None, self._bound(name, value, "high", op == "<")), name)
            return _Leaf(Range(name, self._bound(name, raw, "low", False),
                               self._bound(name, raw, "high", False)), name)
        except (UsageError, ValueError, OverflowError):
            s.pos = start
            raw = self._raw_term() if not rest.startswith(("[", "{")) else self._skip_bracket()
            s.notes.append(f"{name}:{raw} is not a valid {name} value; searched as words")
            return _plain_group(raw)

    def _skip_bracket(self) -> str:
        s = self.state
        close = min((i for i in (s.text.find("]", s.pos), s.text.find("}", s.pos)) if i >= 0),
                    default=len(s.text) - 1)
        raw = s.text[s.pos : close + 1]
        s.pos = close + 1
        return raw.strip("[]{}").replace(" TO ", " ")

    def _bound(self, name: str, value: str, side: str, exclusive: bool) -> int | dt.datetime:
        """A range bound, inclusive; `exclusive` bounds skip the whole period
        they name (`>2021-02-08` starts on February 9th)."""
        if name == "published":
            if exclusive:
                tick = dt.timedelta(microseconds=1)
                if side == "low":
                    return parse_date_bound(value, end=True, today=self.today) + tick
                return parse_date_bound(value, end=False, today=self.today) - tick
            return parse_date_bound(value, end=side == "high", today=self.today)
        number = int(value)
        if not -(2**31) < number < 2**31:
            raise ValueError(value)
        if exclusive:
            number += 1 if side == "low" else -1
        return number

    def term(self, fieldname: str) -> object | None:
        return self._term_leaf(self._raw_term(), fieldname)

    def _term_leaf(self, raw: str, fieldname: str) -> object | None:
        fields = (fieldname,) if fieldname in TEXT_FIELDS else TEXT_FIELDS
        return _term(raw, fields)


@dataclass
class _FieldGroup:
    fieldname: str
    group: _Group


def _term(raw: str, fields: tuple[str, ...]) -> object | None:
    """One typed term: a word, a compound, a prefix or wildcard, with an
    optional `^boost` or `~fuzziness`."""
    text = raw.strip()
    boost = 1.0
    fuzzy: int | None = None
    b = _BOOST.search(text)
    if b and b.start() > 0:
        boost = float(b.group(1))
        text = text[: b.start()]
    f = _FUZZY.search(text)
    if f and f.start() > 0:
        fuzzy = int(f.group(1)) if f.group(1) else 2
        text = text[: f.start()]
    # a "?" or "!" ending a word is punctuation ("… nearer?"), not a wildcard
    text = re.sub(r"(?<=\w)[?!.,;:]+$", "", text)
    if text == "*":
        return _Leaf(MatchAll())
    if "*" in text or "?" in text:
        return _wildcard(text, fields, boost)
    tokens = [w for _, _, w in surface_tokens(text)]
    if not tokens:
        return None
    groups = GROUP.findall(text)
    joined = ""
    if len(groups) == 1 and is_compound(groups[0]):
        joined = "".join(WORD.findall(groups[0].lower()))
    if len(tokens) == 1 and not joined:
        return _Leaf(Word(text, stem(tokens[0]), tokens[0], fields, boost=boost, fuzzy=fuzzy))
    # a compound (`gpt-3`, `node.js`, `u.s.`): its parts side by side, or joined
    parts = tuple(stem(w) for w in tokens)
    if len(parts) > 1:
        return _Leaf(Compound(text, parts, (stem(joined),) if joined else (), fields, boost))
    # one searchable part (`walk-in`, `u.s.`): that word, or the joined form
    return _Leaf(Compound(text, (), tuple(dict.fromkeys((stem(joined), parts[0]))), fields, boost))


def _wildcard(text: str, fields: tuple[str, ...], boost: float) -> object | None:
    pattern = text.lower()
    if pattern.endswith("*") and "*" not in pattern[:-1] and "?" not in pattern:
        words = WORD.findall(pattern[:-1])
        if not words:
            return None
        leaves: list[Node] = [Word(w, stem(w), w, fields) for w in words[:-1] if w not in STOP_WORDS]
        leaves.append(Prefix(words[-1], fields, boost))
        if len(leaves) == 1:
            return _Leaf(leaves[0])
        return _Leaf(Bool(tuple(Clause(Occur.MUST, n) for n in leaves)))
    if not re.fullmatch(r"[\w*?.]+", pattern) or not re.search(r"\w", pattern):
        return _term(re.sub(r"[*?]", " ", text), fields)
    return _Leaf(Wildcard(pattern, fields, boost))


def _plain_group(text: str) -> _Group:
    """Every word of `text` as a plain word (the fallback reading)."""
    items: list[object] = []
    for chunk in re.sub(r'[()"\[\]{}^~:*?+\\<>=!]', " ", text).split():
        if chunk in _OPERATORS:
            continue
        leaf = _term(chunk.lstrip("-"), TEXT_FIELDS)
        if leaf is not None and not chunk.startswith("-"):
            items.append(leaf)
    return _Group(items, plain=True)


# ----------------------------------------------------------------- building


def _build(item: object, match: str, fieldname: str = "") -> Node | None:
    if isinstance(item, _Leaf):
        return item.node
    if isinstance(item, _FieldGroup):
        return _build_group(item.group, match, top=False, fieldname=item.fieldname)
    if isinstance(item, _Group):
        return _build_group(item, match, top=False)
    if isinstance(item, _Marked):
        inner = _build(item.item, match)
        if inner is None:
            return None
        if item.mark == "-":
            return Bool((Clause(Occur.MUST_NOT, inner),))
        return inner
    if isinstance(item, _Chain):
        clauses = []
        for sub in item.items:
            node = _build(sub, match)
            if node is None:
                continue
            negated = isinstance(sub, _Marked) and sub.mark == "-"
            if negated and item.op == "AND":
                clauses.append(Clause(Occur.MUST_NOT, _unwrap_not(node)))
            else:
                clauses.append(Clause(Occur.MUST if item.op == "AND" else Occur.SHOULD, node))
        if not clauses:
            return None
        if len(clauses) == 1 and clauses[0].occur is not Occur.MUST_NOT:
            return clauses[0].node
        return Bool(tuple(clauses), min_should=1 if item.op == "OR" else 0)
    return None


def _unwrap_not(node: Node) -> Node:
    if isinstance(node, Bool) and len(node.clauses) == 1 and node.clauses[0].occur is Occur.MUST_NOT:
        return node.clauses[0].node
    return node


def _with_field(item: object, fieldname: str) -> object:
    """Apply `title:(...)` to the words inside the group."""
    if isinstance(item, _Leaf):
        node = item.node
        if fieldname in TEXT_FIELDS and hasattr(node, "fields"):
            return _Leaf(replace(node, fields=(fieldname,)))  # type: ignore[type-var]
        if fieldname in FILTER_FIELDS and isinstance(node, (Word, Compound)):
            return _Leaf(Value(fieldname, node.text.strip().lower()), fieldname)
        return item
    if isinstance(item, _Marked):
        return _Marked(item.mark, _with_field(item.item, fieldname))
    if isinstance(item, _Chain):
        return _Chain(item.op, [_with_field(i, fieldname) for i in item.items])
    if isinstance(item, _Group):
        return _Group([_with_field(i, fieldname) for i in item.items])
    return item


def _build_group(group: _Group, match: str, top: bool, fieldname: str = "") -> Node | None:
    items = [_with_field(i, fieldname) for i in group.items] if fieldname else list(group.items)
    # words read from unreadable syntax stand beside the others
    items = [w for i in items for w in (i.items if isinstance(i, _Group) and i.plain else [i])]
    has_plus = any(isinstance(i, _Marked) and i.mark == "+" for i in items)
    clauses: list[Clause] = []
    filters: dict[str, list[Node]] = {}
    plain = 0
    for item in items:
        node = _build(item, match)
        if node is None:
            continue
        if isinstance(item, _Marked) and item.mark == "-":
            clauses.append(Clause(Occur.MUST_NOT, _unwrap_not(node)))
            continue
        required = isinstance(item, _Marked) and item.mark == "+"
        leaf = item.item if isinstance(item, _Marked) else item
        if top and isinstance(leaf, _Leaf) and leaf.filter_field:
            filters.setdefault(leaf.filter_field, []).append(node)
            continue
        if isinstance(node, MatchAll):
            continue  # `*` beside other clauses adds nothing
        if any(c.node == node for c in clauses):
            continue  # a word typed twice is one word
        if required:
            clauses.append(Clause(Occur.MUST, node))
        elif has_plus or match == "any":
            clauses.append(Clause(Occur.SHOULD, node))
            plain += 1
        else:
            clauses.append(Clause(Occur.MUST, node))
            plain += 1
    for nodes in filters.values():
        node = nodes[0] if len(nodes) == 1 else Bool(tuple(Clause(Occur.SHOULD, n) for n in nodes),
                                                    min_should=1)
        clauses.append(Clause(Occur.FILTER, node))
    if not clauses:
        if top and group.items and all(_is_match_all(i) for i in group.items):
            return MatchAll()
        return None
    min_should = 1 if (match == "any" and not has_plus and plain
                       and not any(c.occur is Occur.MUST for c in clauses)) else 0
    if len(clauses) == 1 and clauses[0].occur in (Occur.MUST, Occur.SHOULD) and not top:
        return clauses[0].node
    return Bool(tuple(clauses), min_should=min_should, words=top and not has_plus)


def _limit_prefix(node: Node, text: str) -> Node:
    """The tree with the top-level prefix on `text` limited to the most
    common words (the word still being typed)."""
    if isinstance(node, Prefix) and node.text == text:
        return replace(node, limit=LIVE_PREFIX_WORDS)
    if isinstance(node, Bool):
        return replace(node, clauses=tuple(Clause(c.occur, _limit_prefix(c.node, text))
                                           if c.occur is not Occur.MUST_NOT else c
                                           for c in node.clauses))
    return node


def _is_match_all(item: object) -> bool:
    return isinstance(item, _Leaf) and isinstance(item.node, MatchAll)
