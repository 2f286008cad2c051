"""Text analysis: one definition of a "word" for the index, the query parser
and highlighting.

A word is a run of letters and digits; it is lower-cased, dropped when it
is a stop word, and reduced to its English Snowball (Porter2) stem for
ranked search. Words joined by dots or hyphens (`node.js`, `gpt-3`,
`coca-cola`, `u.s.`) are indexed as their parts, side by side, and also as
one joined word (`nodejs`, `gpt3`), so `node js`, `node.js` and `nodejs`
all find each other; numbers keep their dots (`3.14`). The same rules run
when indexing and when reading a query, so what a user types and what an
article says meet in the same form.

The stop list is short on purpose: only function words. `us`, `may`, `can`,
`will`, `not`, `when` and `yet` are content words in news ("US sanctions",
"May 2021", "will.i.am") and stay searchable.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

#: a group of words joined by dots or hyphens (`node.js`, `gpt-3`, `3.14`)
GROUP = re.compile(r"\w+(?:[.\-]\w+)*")
#: a word: a run of letters and digits
WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:\.\d+)+")
#: words too common to search (function words only; see the module docstring)
STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "have", "if", "in", "is", "it",
    "of", "on", "or", "that", "the", "this", "to", "we", "with", "you", "your", "s",
))
#: longer "words" are base64 blobs or URLs run together, never something typed
MAX_WORD_CHARS = 60


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """English Snowball (Porter2) stem of a lower-case word.

    Not the original Porter stemmer: in a news corpus it conflates "news"
    with "new" and "uses" with "us". Words with a digit or a dot (`gpt3`,
    `3.14`) are names and numbers, kept as they are.
    """
    if "." in word or any(c.isdigit() for c in word):
        return word
    return _stemmer()(word)


@functools.lru_cache(maxsize=1)
def _stemmer() -> Any:
    from whoosh.lang.snowball.english import EnglishStemmer

    return EnglishStemmer().stem


def is_compound(group: str) -> bool:
    """Whether a GROUP match is words joined by dots or hyphens (not a number)."""
    return ("." in group or "-" in group) and not _NUMBER.fullmatch(group)


def _groups(text: str) -> Iterator[tuple[list[tuple[int, int, str]], str]]:
    """Each group of `text` as (its words as (start, end, lower-case word),
    the joined form of a compound or "")."""
    for m in GROUP.finditer(text):
        group = m.group()
        if not is_compound(group):
            yield [(m.start(), m.end(), group.lower())], ""
            continue
        parts = [(m.start() + p.start(), m.start() + p.end(), p.group().lower())
                 for p in WORD.finditer(group)]
        yield parts, "".join(w for _, _, w in parts)


def _searchable(word: str) -> bool:
    return word not in STOP_WORDS and len(word) <= MAX_WORD_CHARS


@functools.lru_cache(maxsize=200_000)
def searchable_stem(word: str) -> str | None:
    """The index term of one plain word as written (any case), or None for a
    stop word (a fast path for highlighting)."""
    lower = word.lower()
    return stem(lower) if _searchable(lower) else None


def surface_tokens(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, lower-case word) of every searchable word of `text`, in
    order: stop words and over-long words are left out; a compound gives
    its parts."""
    for parts, _ in _groups(text):
        for start, end, word in parts:
            if _searchable(word):
                yield start, end, word


def index_tokens(text: str) -> Iterator[tuple[int, int, int, str]]:
    """(position, start, end, index term) of everything indexed for `text`:
    the stems of its searchable words at consecutive positions, plus each
    compound's joined form at the position of its first part."""
    pos = 0
    for parts, joined in _groups(text):
        first = pos
        for start, end, word in parts:
            if _searchable(word):
                yield pos, start, end, stem(word)
                pos += 1
        if joined and pos > first and len(joined) <= MAX_WORD_CHARS:
            yield first, parts[0][0], parts[-1][1], stem(joined)


@functools.lru_cache(maxsize=200_000)
def _group_terms(group: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """A group as written → (its searchable words lower-cased, their index
    terms, the joined form's term or "") — cached: most words recur."""
    if not is_compound(group):
        word = group.lower()
        return ((word,), (stem(word),), "") if _searchable(word) else ((), (), "")
    parts = [w.lower() for w in WORD.findall(group)]
    kept = tuple(w for w in parts if _searchable(w))
    joined = "".join(parts)
    return kept, tuple(stem(w) for w in kept), stem(joined) if kept and len(joined) <= MAX_WORD_CHARS else ""


def index_terms(text: str) -> list[tuple[int, str]]:
    """(position, index term) of everything indexed for `text`: the same
    terms and positions as `index_tokens`, without character offsets, for
    indexing (one regex pass and cached groups: analysis is a large share of
    indexing time)."""
    out: list[tuple[int, str]] = []
    pos = 0
    for group in GROUP.findall(text):
        _, terms, joined = _group_terms(group)
        if not terms:
            continue
        first = pos
        for term in terms:
            out.append((pos, term))
            pos += 1
        if joined:
            out.append((first, joined))
    return out


def stems(text: str) -> list[str]:
    """The stems of the searchable words of `text`, in order (the positions
    of the index; compounds' joined forms are not in this list)."""
    return [stem(w) for _, _, w in surface_tokens(text)]


def surface_words(text: str) -> list[str]:
    """The distinct searchable words of `text` as written (lower-cased), in
    order of first appearance."""
    return list(dict.fromkeys(w for group in GROUP.findall(text) for w in _group_terms(group)[0]))


def is_stop_word(word: str) -> bool:
    return word.lower() in STOP_WORDS


# ----------------------------------------------------------------- Whoosh


def news_analyzer(surface: bool = False) -> Any:
    """The analyzer of the index's text fields (stems, with positions) or,
    with `surface=True`, of the `words` field (each distinct word as
    written, lower-cased): the vocabulary for prefixes and typo tolerance."""
    return _analyzer_class()(surface)


@functools.lru_cache(maxsize=1)
def _analyzer_class() -> type:
    from whoosh.analysis import Token, Tokenizer

    class NewsAnalyzer(Tokenizer):
        """One pass per value (tokenize, lower-case, stop, stem) instead of
        Whoosh's chain of four generators: analysis is a large share of
        indexing time. Positions count searchable words only (stop words
        are renumbered away, as Whoosh's StopFilter does), so a phrase
        query skips the same stop words the text did."""

        def __init__(self, surface: bool = False) -> None:
            self.surface = surface

        def __eq__(self, other: object) -> bool:
            return type(other) is type(self) and other.surface == self.surface  # type: ignore[attr-defined]

        def __hash__(self) -> int:
            return hash((type(self).__name__, self.surface))

        def __reduce__(self) -> Any:
            # pickled into the index's schema: by reference to this module
            return (news_analyzer, (self.surface,))

        def __call__(self, value: str, positions: bool = False, chars: bool = False,
                     keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                     start_char: int = 0, tokenize: bool = True, mode: str = "",
                     **kwargs: Any) -> Iterator[Any]:
            t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
            t.boost = 1.0
            t.stopped = False
            if not tokenize:
                t.original = t.text = value
                if positions:
                    t.pos = start_pos
                if chars:
                    t.startchar, t.endchar = start_char, start_char + len(value)
                yield t
                return
            if self.surface:
                for pos, word in enumerate(surface_words(value)):
                    t.text = word
                    if keeporiginal:
                        t.original = word
                    if positions:
                        t.pos = start_pos + pos
                    yield t
                return
            if not chars and not keeporiginal:
                for pos, term in index_terms(value):
                    t.text = term
                    if positions:
                        t.pos = start_pos + pos
                    yield t
                return
            for pos, start, end, term in index_tokens(value):
                t.text = term
                if keeporiginal:
                    t.original = value[start:end]
                if positions:
                    t.pos = start_pos + pos
                if chars:
                    t.startchar, t.endchar = start_char + start, start_char + end
                yield t

    return NewsAnalyzer
