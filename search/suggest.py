"""'Did you mean …': spelling corrections of a query from the index vocabulary.

The text fields are stemmed, so the index vocabulary is a list of stems
("recognit", "technolog"), not words a person would type. Corrections are
therefore made in stem space with Whoosh's own edit-distance machinery
(`IndexReader.terms_within`, a Levenshtein automaton over the term index,
per segment), and the chosen stem is turned back into a real word by
reading a few of the documents that contain it. No vocabulary is built up
front, so nothing here costs anything at start-up or for well-spelled
queries.
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
#: nearest indexed stems whose written forms are compared with the typed word
CANDIDATES = 4
#: documents read to find how a stem is spelled as a word
SURFACE_DOCS = 12

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
        found: dict[str, tuple[int, int]] = {}  # stem -> (distance, df)
        for field in TEXT_FIELDS:
            for leaf, _offset in reader.leaf_readers():
                for probe in {stem, typed}:
                    for term in leaf.terms_within(field, probe, maxdist, prefix=PREFIX):
                        term = term.decode("utf-8") if isinstance(term, bytes) else term
                        if term == stem or term in found:
                            continue
                        dist = min(edit_distance(term, stem), edit_distance(term, typed))
                        found[term] = (dist, self._df(reader, term))
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
        seen in a few documents, the one closest to what was typed."""
        if self._analyzer is None:
            self._analyzer = text_analyzer()
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
                topics = stored.get("topics_list") or ()
                for value in (stored.get("title") or "", stored.get("excerpt") or "", " ".join(topics)):
                    for tok in self._analyzer(value, chars=True, mode="index"):
                        if tok.text == stem:
                            forms[value[tok.startchar : tok.endchar].lower()] += 1
            if seen >= SURFACE_DOCS:
                break
        if not forms:
            return None
        return min(forms, key=lambda f: (edit_distance(f, typed), -forms[f], f))
