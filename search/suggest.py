"""'Did you mean …': spelling corrections of a query from the index vocabulary.

The text fields are stemmed, so the index vocabulary is a list of stems
("recognit", "technolog"), not words a person would type. Corrections are
therefore made in stem space with Whoosh's own edit-distance machinery
(a Levenshtein automaton, `whoosh.spelling.ListCorrector`, over the
index's stems of titles and excerpts), and the chosen stem is turned back
into a real word by reading some of the documents that contain it. The
vocabulary is built on the first misspelling, not at start-up, so
well-spelled queries never pay for it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .repl_lexer import NEGATION, PHRASE, SPACE, WORD, tokenize_query
from .schema import TEXT_FIELDS, text_analyzer

#: a word whose stem occurs in at most this many documents counts as rare:
#: when a query finds very little, a rare word is corrected to a far more
#: common neighbour one edit away ("aple" → "apple")
RARE_DF = 2
#: ... and the neighbour must be this many times more common
RARE_FACTOR = 10
#: misspellings seldom touch the first letter, and requiring it makes the
#: automaton walk a small part of the term index
PREFIX = 1
#: near stems asked of the automaton per probe (more than enough to rank by frequency)
POOL = 60
#: nearest indexed stems whose written forms are compared with the typed word
CANDIDATES = 4
#: documents read to find how a stem is spelled as a word
SURFACE_DOCS = 40

#: fields whose terms make the correction vocabulary; topic names are words
#: of titles and excerpts too
_WALKED_FIELDS = ("title", "excerpt")
_LETTERS = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class Change:
    """One corrected word of the query text."""

    start: int
    end: int
    original: str
    replacement: str


def correctable_words(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, word) of the query words worth spell-checking: plain
    words and the words of phrases; not field values, wildcards, operators,
    or negated words (correcting what is excluded helps nobody)."""
    tokens = [t for t in tokenize_query(text) if t.kind != SPACE]
    for i, tok in enumerate(tokens):
        negated = i > 0 and tokens[i - 1].kind == NEGATION
        if tok.kind == WORD and not negated and _LETTERS.fullmatch(tok.text):
            yield tok.start, tok.end, tok.text
        elif tok.kind == PHRASE and not negated:
            for m in _LETTERS.finditer(tok.text):
                yield tok.start + m.start(), tok.start + m.end(), m.group(0)


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _match_case(template: str, word: str) -> str:
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class Speller:
    """Suggests corrected query text; `whoosh_searcher` is a callable
    returning the current Whoosh searcher (Searcher.whoosh_searcher)."""

    def __init__(self, whoosh_searcher: Any) -> None:
        self._whoosh_searcher = whoosh_searcher
        self._analyzer: Any = None
        self._vocab_reader: Any = None
        self._corrector: Any = None

    def _vocabulary(self, reader: Any) -> Any:
        """A Whoosh ListCorrector over the stems of titles and excerpts, built
        on first need and again when the index changed (a new reader).

        Walking a Levenshtein automaton over this in-memory sorted list is
        far cheaper than over the on-disk term index of every field and
        segment (measured: ~150 ms → a few ms per word at 20,000 articles),
        for a one-time cost of reading the term lists (~40 ms there)."""
        from whoosh.spelling import ListCorrector

        if self._vocab_reader is not reader:
            words: set[str] = set()
            for field in _WALKED_FIELDS:
                for term in reader.lexicon(field):
                    words.add(term.decode("utf-8") if isinstance(term, bytes) else term)
            self._corrector = ListCorrector(sorted(words))
            self._vocab_reader = reader
        return self._corrector

    def _stem(self, word: str) -> str | None:
        if self._analyzer is None:
            self._analyzer = text_analyzer()
        stems = [t.text for t in self._analyzer(word)]
        return stems[0] if len(stems) == 1 else None  # None: a stop word

    @staticmethod
    def _df(reader: Any, stem: str) -> int:
        return sum(reader.doc_frequency(f, stem) for f in TEXT_FIELDS)

    def changes(self, text: str, few_hits: bool) -> list[Change]:
        """The corrections to make: words absent from the index, and, when
        the query found little, rare words with a far more common neighbour."""
        reader = self._whoosh_searcher().reader()
        out: list[Change] = []
        for start, end, word in correctable_words(text):
            stem = self._stem(word.lower())
            if stem is None:
                continue
            df = self._df(reader, stem)
            if df == 0:
                best = self._best(reader, stem, word.lower(), maxdist=2, min_df=1)
            elif few_hits and df <= RARE_DF:
                best = self._best(reader, stem, word.lower(), maxdist=1, min_df=df * RARE_FACTOR)
            else:
                continue
            if best and best != word.lower():
                out.append(Change(start, end, word, _match_case(word, best)))
        return out

    def suggest(self, text: str, few_hits: bool = True) -> str | None:
        """The corrected query text, or None when nothing needs correcting."""
        changes = self.changes(text, few_hits)
        if not changes:
            return None
        fixed = text
        for ch in sorted(changes, key=lambda c: c.start, reverse=True):
            fixed = fixed[: ch.start] + ch.replacement + fixed[ch.end :]
        return fixed

    def _best(self, reader: Any, stem: str, typed: str, maxdist: int, min_df: int) -> str | None:
        """The corpus word that best replaces `typed`: indexed stems near its
        stem or near the word itself (stemming a typo can cut it differently,
        "artifical" → "artif" but "artificial" → "artifici"), nearest first,
        then the one whose written form is closest to what was typed."""
        corrector = self._vocabulary(reader)
        found: dict[str, tuple[int, int]] = {}  # stem -> (distance, df)
        # one edit first: most typos are one edit away, and a distance-2
        # automaton is much slower to build and walk
        for dist in range(1, maxdist + 1):
            for probe in {stem, typed}:
                for term in corrector.suggest(probe, limit=POOL, maxdist=dist, prefix=PREFIX):
                    if term == stem or term in found:
                        continue
                    near = min(edit_distance(term, stem), edit_distance(term, typed))
                    found[term] = (near, self._df(reader, term))
            if any(df >= min_df for _, df in found.values()):
                break
        ranked = sorted((v[0], -v[1], t) for t, v in found.items() if v[1] >= min_df)
        best: tuple[int, int, str] | None = None
        for _dist, neg_df, term in ranked[:CANDIDATES]:
            surface = self._surface(reader, term, typed)
            if surface is None:
                continue
            key = (edit_distance(surface, typed), neg_df, surface)
            if best is None or key < best:
                best = key
        return best[2] if best else None

    def _surface(self, reader: Any, stem: str, typed: str) -> str | None:
        """A word as written in the corpus whose stem is `stem`: of the forms
        seen in some documents that contain it, the one closest to what was
        typed. Only words sharing the stem's first letters are stemmed (the
        stemmer changes endings), not whole excerpts."""
        if self._analyzer is None:
            self._analyzer = text_analyzer()
        near = re.compile(r"\b" + re.escape(stem[:4]) + r"[^\W_]*", re.IGNORECASE)
        stems: dict[str, str | None] = {}
        forms: Counter[str] = Counter()
        seen = 0
        for field in TEXT_FIELDS:
            if not reader.doc_frequency(field, stem):
                continue
            matcher = reader.postings(field, stem)
            while matcher.is_active() and seen < SURFACE_DOCS:
                docnum = matcher.id()
                matcher.next()
                if reader.is_deleted(docnum):
                    continue
                seen += 1
                stored = reader.stored_fields(docnum)
                text = " ".join([stored.get("title") or "", stored.get("excerpt") or "",
                                 *(stored.get("topics_list") or ())])
                for m in near.finditer(text):
                    word = m.group(0).lower()
                    if word not in stems:
                        stems[word] = self._stem(word)
                    if stems[word] == stem:
                        forms[word] += 1
            if seen >= SURFACE_DOCS:
                break
        if not forms:
            return None
        return min(forms, key=lambda f: (edit_distance(f, typed), -forms[f], f))
