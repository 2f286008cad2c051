"""The matching strategy: which articles a query's words select.

By default (`auto`) an article matches when it has every word of the query
(a phrase, a quoted word, a `field:` word, an OR group each count as one
word). When no article has them all, the most frequent words are dropped
first until something matches, and the result says which were dropped. A
long query (`Ranking.long_words` words or more: a pasted headline) matches
articles that have at least `Ranking.long_share` of its words instead, more
words ranking higher. `all` never relaxes; `any` matches articles with any
word.

Before matching, a word the index does not have at all (and that is not
quoted) is corrected: it also matches indexed words within one edit (words
of 5+ letters) or two (9+ letters), scored below an exact word, and the
result lists the correction.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np

from .evaluator import Evaluation, Evaluator, Match, combine
from .index_arrays import IndexArrays
from .query.model import (
    TEXT_LEAVES,
    Bool,
    Clause,
    Compound,
    MatchAll,
    Node,
    Occur,
    ParsedQuery,
    Phrase,
    Prefix,
    Wildcard,
    Word,
    scoring_leaves,
)
from .vocabulary import Vocabulary, typo_distance

#: at most this many words are relaxed by trying every subset (2**n checks)
MAX_SUBSET_WORDS = 12


@dataclass(frozen=True)
class Correction:
    """A query word the index does not have, and the words used instead."""

    word: str
    used: tuple[str, ...]


@dataclass(frozen=True)
class Relaxation:
    """Fewer than all of the query's words were required."""

    dropped: tuple[str, ...]  # words left out (empty for a long query's share rule)
    required: int  # words an article must have
    of: int  # words in the query


@dataclass
class Outcome:
    """The matched set and how the query was read."""

    match: Match
    root: Node  # the tree as evaluated (typos resolved, dropped words removed)
    evaluation: Evaluation
    corrections: tuple[Correction, ...] = ()
    relaxed: Relaxation | None = None
    unknown: list[str] = field(default_factory=list)  # typed words the index lacks


def run(arrays: IndexArrays, parsed: ParsedQuery, filters: tuple[Clause, ...] = (),
        typos: bool = True) -> Outcome:
    """Match a parsed query (plus extra FILTER clauses) over the index."""
    vocab = Vocabulary(arrays)
    corrections: list[Correction] = []
    unknown: list[str] = []
    root = _resolve_words(arrays, vocab, parsed.root, typos, corrections, unknown)
    ev = Evaluator(arrays)
    extra = [(c.occur, ev.evaluate(c.node)) for c in filters]
    if not isinstance(root, Bool):
        match = combine(arrays, [(Occur.MUST, ev.evaluate(root)), *extra], 0, 1.0, 0.0)
        return Outcome(match, root, ev.info, tuple(corrections), None, unknown)
    parts = [(c.occur, ev.evaluate(c.node)) for c in root.clauses] + extra
    relaxed: Relaxation | None = None
    if root.words and parsed.match == "auto":
        parts, root, relaxed = _strategy(arrays, root, parts)
    coordination = arrays.ranking.coordination if root.words else 0.0
    match = combine(arrays, parts, root.min_should, root.boost, coordination)
    return Outcome(match, root, ev.info, tuple(corrections), relaxed, unknown)


# ----------------------------------------------------------------- typos


def _resolve_words(arrays: IndexArrays, vocab: Vocabulary, node: Node, typos: bool,
                   corrections: list[Correction], unknown: list[str]) -> Node:
    """Give each word the index lacks its typo variants (a rewritten tree)."""
    if isinstance(node, Bool):
        clauses = tuple(
            c if c.occur is Occur.MUST_NOT
            else Clause(c.occur, _resolve_words(arrays, vocab, c.node, typos, corrections, unknown))
            for c in node.clauses
        )
        return replace(node, clauses=clauses)
    if not isinstance(node, Word) or _has_term(arrays, node.term, node.fields):
        return node
    unknown.append(node.surface)
    if not typos or node.exact:
        return node
    maxdist = typo_distance(node.surface) if node.fuzzy is None else node.fuzzy
    near = vocab.near(node.surface, maxdist)
    if not near:
        return node
    from .analysis import stem

    weights: dict[str, float] = {}
    for word, dist in near:
        term = stem(word)
        w = arrays.ranking.typo_weight ** dist
        if term != node.term and w > weights.get(term, 0.0):
            weights[term] = w
    if not weights:
        return node
    corrections.append(Correction(node.text, tuple(w for w, _ in near)))
    return replace(node, variants=tuple(weights.items()))


def _has_term(arrays: IndexArrays, term: str, fields: tuple[str, ...]) -> bool:
    for f in fields:
        ids, _ = arrays.postings(f, term)
        if len(ids) and arrays.live[ids].any():
            return True
    return False


# ----------------------------------------------------------------- strategy


def is_unit(clause: Clause) -> bool:
    """Whether a top-level clause counts as one of the query's words."""
    if clause.occur is not Occur.MUST:
        return False
    node = clause.node
    if isinstance(node, TEXT_LEAVES):
        return True
    return (isinstance(node, Bool) and node.min_should >= 1
            and all(c.occur is Occur.SHOULD for c in node.clauses)
            and any(True for _ in scoring_leaves(node)))


def label(node: Node) -> str:
    """A unit as the user typed it (for 'dropped: …')."""
    if isinstance(node, Word | Compound):
        return node.text
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, Prefix):
        return node.text + "*"
    if isinstance(node, Wildcard):
        return node.text
    if isinstance(node, Bool):
        return "(" + " OR ".join(label(c.node) for c in node.clauses) + ")"
    return "?"


def _strategy(arrays: IndexArrays, root: Bool, parts: list[tuple[Occur, Match]]
              ) -> tuple[list[tuple[Occur, Match]], Bool, Relaxation | None]:
    """Apply `auto` matching to the top-level words: all of them, a share
    of a long query, or the largest subset that matches something."""
    n_clauses = len(root.clauses)
    units = [i for i in range(n_clauses) if is_unit(root.clauses[i])]
    n = len(units)
    if n < 2:
        return parts, root, None
    r = arrays.ranking
    base = arrays.live.copy()
    for i, (occur, m) in enumerate(parts):
        if i in units:
            continue
        if occur in (Occur.MUST, Occur.FILTER):
            base &= m.mask
        elif occur is Occur.MUST_NOT:
            base &= ~m.mask
    masks = [parts[i][1].mask for i in units]

    if n >= r.long_words:
        count = np.zeros(arrays.n, dtype=np.int32)
        for m in masks:
            count += m
        count[~base] = 0
        required = min(n, max(1, math.ceil(r.long_share * n)))
        best = int(count.max()) if count.size else 0
        required = max(1, min(required, best)) if best else required
        new_parts = [(Occur.SHOULD, m) if i in units else (o, m) for i, (o, m) in enumerate(parts)]
        new_root = replace(root, clauses=tuple(
            Clause(Occur.SHOULD, c.node) if i in units else c for i, c in enumerate(root.clauses)),
            min_should=required)
        return new_parts, new_root, Relaxation((), required, n)

    every = base.copy()
    for m in masks:
        every &= m
    if every.any():
        return parts, root, None
    if r.relax == "union":
        return _most_words(arrays, root, parts, units, masks, base)
    if n > MAX_SUBSET_WORDS:
        return parts, root, None
    df = [int((m & base).sum()) for m in masks]
    for size in range(n - 1, 0, -1):
        # keep the rarest words: drop the most frequent first
        subsets = sorted(itertools.combinations(range(n), size),
                         key=lambda keep: (-sum(df[j] for j in range(n) if j not in keep), keep))
        for keep in subsets:
            mask = base.copy()
            for j in keep:
                mask &= masks[j]
            if mask.any():
                dropped = {units[j] for j in range(n) if j not in keep}
                new_parts = [p for i, p in enumerate(parts) if i not in dropped]
                new_root = replace(root, clauses=tuple(
                    c for i, c in enumerate(root.clauses) if i not in dropped))
                labels = tuple(label(root.clauses[i].node) for i in sorted(dropped))
                return new_parts, new_root, Relaxation(labels, size, n)
    return parts, root, None


def _most_words(arrays: IndexArrays, root: Bool, parts: list[tuple[Occur, Match]], units: list[int],
                masks: list[np.ndarray], base: np.ndarray
                ) -> tuple[list[tuple[Occur, Match]], Bool, Relaxation | None]:
    """The articles with the most of the words (n-1 of n, or fewer)."""
    count = np.zeros(arrays.n, dtype=np.int32)
    for m in masks:
        count += m
    count[~base] = 0
    best = int(count.max()) if count.size else 0
    if best == 0:
        return parts, root, None
    chosen = count == best
    dropped = tuple(label(root.clauses[i].node) for i, m in zip(units, masks, strict=True)
                    if not m[chosen].all())
    new_parts = [(Occur.SHOULD, m) if i in units else (o, m) for i, (o, m) in enumerate(parts)]
    new_root = replace(root, clauses=tuple(
        Clause(Occur.SHOULD, c.node) if i in units else c for i, c in enumerate(root.clauses)),
        min_should=best)
    return new_parts, new_root, Relaxation(dropped, best, len(units))


# ----------------------------------------------------------------- reading back


def leaf_terms(leaf: Node, outcome: Outcome) -> list[str]:
    """The index terms a text leaf searches for."""
    if isinstance(leaf, Word):
        return [t for t, _ in leaf.variants] or [leaf.term]
    if isinstance(leaf, Phrase):
        return list(leaf.terms)
    if isinstance(leaf, Compound):
        return [*leaf.parts, *leaf.forms]
    if isinstance(leaf, Prefix | Wildcard):
        return outcome.evaluation.expanded.get(id(leaf), [])
    return []


def matched_leaves(outcome: Outcome) -> list[tuple[Node, np.ndarray]]:
    """Each text leaf that took part in matching, with the documents where
    it and every clause above it matched: a failed, excluded or dropped
    clause's words are not highlighted."""
    matches = outcome.evaluation.matches
    out: list[tuple[Node, np.ndarray]] = []

    def walk(node: Node, where: np.ndarray) -> None:
        m = matches.get(id(node))
        here = where & m.mask if m is not None else where
        if isinstance(node, Bool):
            for c in node.clauses:
                if c.occur not in (Occur.MUST_NOT, Occur.FILTER):
                    walk(c.node, here)
        elif isinstance(node, TEXT_LEAVES):
            out.append((node, here))

    walk(outcome.root, outcome.match.mask)
    return out


def highlight_terms(outcome: Outcome, leaves: list[tuple[Node, np.ndarray]], docnum: int
                    ) -> dict[str, set[str]]:
    """Index terms to highlight per text field in one matching document."""
    out: dict[str, set[str]] = {}
    for leaf, where in leaves:
        if where[docnum]:
            for f in leaf.fields:  # type: ignore[union-attr]
                out.setdefault(f, set()).update(leaf_terms(leaf, outcome))
    return out


def typed_words(root: Node) -> list[str]:
    """The words of a query as typed (lower-case), that a matching article
    may contain: not excluded words, not filter values."""
    from .analysis import surface_tokens

    out: list[str] = []
    for leaf in scoring_leaves(root):
        if isinstance(leaf, Word):
            out.append(leaf.surface)
        elif isinstance(leaf, Phrase):
            out += [w for _, _, w in surface_tokens(leaf.text)]
    return list(dict.fromkeys(out))


def is_unscored(root: Node) -> bool:
    """A query that ranks nothing: only filters, exclusions or `*`."""
    return isinstance(root, MatchAll) or not any(True for _ in scoring_leaves(root))
