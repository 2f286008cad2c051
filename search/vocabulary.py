"""The index's vocabulary as written: typo candidates and spelling suggestions.

Ranked fields hold stems ("vulner"), which are not words a person types, so
typos are looked up among the words of titles, excerpts and topics as
written (the `words` field: each article's distinct words, lower-cased,
unstemmed). The vocabulary is read once per index generation, on the first
word that needs it, and bucketed by length: a word of length L can only be
within d edits of words of length L-d … L+d.

Edit distance is optimal string alignment (insert, delete, substitute, and
transpose two neighbours, each one edit), computed by rapidfuzz: C++ with
bit-parallel algorithms, about 20 times faster than a Python loop over the
same candidates, which is why it is a dependency.
"""

from __future__ import annotations

from typing import Any

from .analysis import WORD
from .index_arrays import IndexArrays

#: words shorter than this are never corrected (too many neighbours)
MIN_TYPO_LEN = 5
#: words this long may be two edits away
TWO_EDITS_LEN = 9
#: "did you mean" looks at words this long and up
MIN_SUGGEST_LEN = 3


def typo_distance(word: str) -> int:
    """How many edits a word of this length may be corrected by (0: none)."""
    if len(word) >= TWO_EDITS_LEN:
        return 2
    return 1 if len(word) >= MIN_TYPO_LEN else 0


class Vocabulary:
    """Near neighbours of typed words among the index's written words."""

    FIELD = "words"

    def __init__(self, arrays: IndexArrays) -> None:
        self.a = arrays

    def _buckets(self) -> dict[int, list[str]]:
        def make() -> dict[int, list[str]]:
            out: dict[int, list[str]] = {}
            for word in self.a.lexicon(self.FIELD):
                out.setdefault(len(word), []).append(word)
            return out

        return self.a.memo("vocabulary:buckets", make)

    def complete(self, prefix: str, limit: int) -> list[str]:
        """The `limit` most common indexed words that start with `prefix`
        (most common first, then alphabetical): the bounded prefix of a word
        still being typed."""
        import bisect

        import numpy as np

        words, dfs = self.a.term_frequencies(self.FIELD)
        lo = bisect.bisect_left(words, prefix)
        hi = bisect.bisect_left(words, prefix + "\U0010ffff")
        if hi <= lo or limit <= 0:
            return []
        counts = dfs[lo:hi]
        idx = np.argpartition(-counts, limit - 1)[:limit] if hi - lo > limit else np.arange(hi - lo)
        idx = idx[np.lexsort((idx, -counts[idx]))]  # most common first, then alphabetical
        return [words[lo + int(i)] for i in idx]

    def df(self, word: str) -> int:
        return self.a.doc_frequency(self.FIELD, word)

    def near(self, word: str, maxdist: int) -> list[tuple[str, int]]:
        """Indexed words within `maxdist` edits of `word` (itself excluded),
        as (word, distance), nearest and most common first."""
        if maxdist <= 0 or not word:
            return []
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        buckets = self._buckets()
        found: list[tuple[str, int]] = []
        for length in range(max(1, len(word) - maxdist), len(word) + maxdist + 1):
            choices = buckets.get(length)
            if not choices:
                continue
            for choice, dist, _ in process.extract(word, choices, scorer=OSA.distance,
                                                   score_cutoff=maxdist, limit=None, processor=None):
                if choice != word:
                    found.append((choice, int(dist)))
        dfs = {w: self.df(w) for w, _ in found}
        found = [(w, d) for w, d in found if dfs[w] > 0]
        found.sort(key=lambda wd: (wd[1], -dfs[wd[0]], wd[0]))
        return found

    def best(self, word: str, maxdist: int) -> str | None:
        """The single best replacement for a word, or None."""
        near = self.near(word, maxdist)
        return near[0][0] if near else None

    def suggest_text(self, text: str, words: list[str], min_df_factor: int = 0) -> str | None:
        """`text` with each of `words` (lower-case surface forms that the
        index does not have) replaced by its best neighbour, keeping the
        typed capitalisation; None when none has a neighbour. Whole words
        only: a replacement never cuts a word at a non-ASCII letter. With
        `min_df_factor`, a replacement must be that many times as common as
        the word it replaces."""
        fixes: dict[str, str] = {}
        for w in words:
            if len(w) < MIN_SUGGEST_LEN or w in fixes:
                continue
            floor = max(1, self.df(w) * min_df_factor)
            near = [c for c, _ in self.near(w, 1 if len(w) < MIN_TYPO_LEN else 2) if self.df(c) >= floor]
            if near:
                fixes[w] = near[0]
        if not fixes:
            return None

        def swap(m: Any) -> str:
            typed = m.group(0)
            fix = fixes.get(typed.lower())
            return _match_case(typed, fix) if fix else typed

        fixed = WORD.sub(swap, text)
        return fixed if fixed != text else None


def _match_case(template: str, word: str) -> str:
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word
