"""The merge policy of a run's last commit (`commits.segments_to_merge`):
small segments merge like a binary counter, large ones stay unless holey,
and the indexer applies it."""

from __future__ import annotations

import math
from pathlib import Path

from conftest import Corpus
from hypothesis import given
from hypothesis import strategies as st

from search import whoosh_adapter as wa
from search.commits import HOLEY_SHARE, LARGE_SEGMENT, segments_to_merge
from search.indexer import build_index
from search.searcher import Searcher, SearchRequest


def simulate(runs: list[int], large: list[int]) -> tuple[list[int], int]:
    """Segment sizes after incremental runs adding `runs[i]` documents each
    on top of `large` segments, and the most documents one run rewrote."""
    segments = list(large)
    worst = 0
    for added in runs:
        chosen = segments_to_merge([(n, 0) for n in segments])
        moved = sum(segments[i] for i in chosen)
        worst = max(worst, moved)
        segments = [n for i, n in enumerate(segments) if i not in chosen] + [added + moved]
    return segments, worst


def test_a_build_of_full_batches_is_left_alone():
    assert segments_to_merge([(5000, 0)] * 40) == []
    # Whoosh's MERGE_SMALL merged all of these into one (every document rewritten)
    assert segments_to_merge([(5000, 0)] * 22 + [(1, 0)]) == []


def test_small_segments_merge_and_large_holey_ones_are_rewritten():
    assert segments_to_merge([(1, 0), (1, 0)]) == [0, 1]
    assert segments_to_merge([(1, 0), (9, 0)]) == []  # too small a share of the next
    holey = int(5000 * HOLEY_SHARE) + 1
    assert segments_to_merge([(5000, holey), (5000, holey - 2)]) == [0]


def test_many_one_article_runs_keep_few_segments_and_cheap_runs():
    segments, worst = simulate([1] * 3000, [5000] * 20)
    small = [n for n in segments if n < LARGE_SEGMENT]
    assert sum(segments) == 5000 * 20 + 3000
    assert segments.count(5000) == 20  # never touched
    assert len(small) <= math.log2(3000) + 2
    assert worst <= LARGE_SEGMENT * 1.5


@given(st.lists(st.integers(1, 3000), max_size=60),
       st.lists(st.integers(LARGE_SEGMENT, 20000), max_size=10))
def test_policy_properties(runs: list[int], large: list[int]):
    segments, worst = simulate(runs, large)
    assert sum(segments) == sum(runs) + sum(large)  # nothing lost or doubled
    small = [n for n in segments if n < LARGE_SEGMENT]
    assert len(small) <= math.log2(max(2, sum(runs) + sum(large))) + 3
    # a run rewrites small segments only, and there are few of them
    assert worst < LARGE_SEGMENT * (math.log2(max(2, sum(runs))) + 3)
    assert all(n in segments for n in large)  # large ones untouched


def test_the_indexer_merges_the_small_segments_of_incremental_runs(tmp_path: Path):
    corpus = Corpus(tmp_path / "c")
    index = tmp_path / "ix"
    for i in range(6):
        corpus.add(f"a/{i}.md", f"Robot number {i} learns chess")
    build_index(index, [corpus.root], commit_docs=2, commit_seconds=1e9)
    counts = []
    for i in range(6, 40):
        corpus.add(f"a/{i}.md", f"Robot number {i} learns chess")
        build_index(index, [corpus.root])
        with Searcher(index) as s:
            counts.append(len(list(wa.leaves(s.whoosh_searcher().reader()))))
            assert s.search(SearchRequest("robot", limit=0)).total == i + 1
    # one new segment per run, merged away again: never more than log2(documents)+2
    assert max(counts) <= math.log2(40) + 2 and min(counts) <= 2
