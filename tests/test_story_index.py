"""Stories through the indexer and the searcher: kept up to date by every run
(incremental runs give the stories of a full build), grouped results, and
what each hit says about its story."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from conftest import Corpus

from search.cli import main
from search.env import Env
from search.indexer import build_index
from search.searcher import Searcher, SearchRequest
from search.story_store import STORY_FILE

EVENTS = [
    ("Contoso acquires Fabrikam for 4.2 billion dollars",
     "Contoso agreed to buy Fabrikam, the Zurich robotics maker, for 4.2 billion dollars."),
    ("Northwind recalls 80,000 Zephyr scooters over battery fires",
     "Northwind is recalling 80,000 Zephyr electric scooters after battery fires in Oslo."),
    ("Tailspin outage takes down Quasar cloud for six hours",
     "A Tailspin network outage took the Quasar cloud offline for six hours on Monday."),
]
OUTLETS = ["Daily A", "Wire B", "Paper C", "Blog D"]


def write_event(corpus: Corpus, event: int, outlet: int, day: int, variant: str = "") -> str:
    title, excerpt = EVENTS[event]
    rel = f"n/2022-05-{day:02d}-e{event}-{outlet}{variant}.md"
    corpus.add(rel, f"{title}{variant}", excerpt=excerpt, provider=OUTLETS[outlet],
               published=f"2022-05-{day:02d}T{8 + outlet}:00:00Z")
    return rel


SINGLES = [
    ("Tomato seedlings prefer morning sun", "Gardeners share watering tips for balcony pots."),
    ("Orchestra opens its summer season", "The violin section premieres a new symphony in Vienna."),
    ("Marathon route changes near the harbour", "Runners will cross two bridges instead of the tunnel."),
    ("Bakery wins regional sourdough prize", "Judges praised the crust and the long fermentation."),
    ("Library extends weekend opening hours", "Readers can borrow novels until nine on Saturdays."),
]


def write_single(corpus: Corpus, i: int, day: int) -> str:
    rel = f"n/2022-05-{day:02d}-single-{i}.md"
    corpus.add(rel, SINGLES[i][0], excerpt=SINGLES[i][1], provider=OUTLETS[i % 4],
               published=f"2022-05-{day:02d}T07:00:00Z")
    return rel


def groups(index: Path) -> set[frozenset[str]]:
    """The stories of an index as sets of paths."""
    with Searcher(index) as s:
        page = s.search(SearchRequest("*", limit=1000, facets=(), highlight=False))
    by_story: dict[str, set[str]] = {}
    for hit in page.hits:
        assert hit.story is not None
        by_story.setdefault(hit.story.id, set()).add(hit.path)
    return {frozenset(v) for v in by_story.values()}


@pytest.fixture
def news(tmp_path: Path) -> tuple[Corpus, Path]:
    corpus = Corpus(tmp_path / "c")
    for event, outlets in ((0, (0, 1, 2)), (1, (0, 3)), (2, (1,))):
        for outlet in outlets:
            write_event(corpus, event, outlet, 3 + event)
    for i in range(5):
        write_single(corpus, i, 3 + i)
    index = tmp_path / "ix"
    build_index(index, [corpus.root])
    return corpus, index


def test_stories_of_a_build(news: tuple[Corpus, Path]) -> None:
    _, index = news
    stories = groups(index)
    assert frozenset({"n/2022-05-03-e0-0.md", "n/2022-05-03-e0-1.md", "n/2022-05-03-e0-2.md"}) in stories
    assert frozenset({"n/2022-05-04-e1-0.md", "n/2022-05-04-e1-3.md"}) in stories
    assert sum(len(s) for s in stories) == 11 and len(stories) == 8  # the rest alone


def test_incremental_runs_equal_a_full_build(news: tuple[Corpus, Path], tmp_path: Path) -> None:
    corpus, index = news
    rng = random.Random(7)
    files = sorted(p.relative_to(corpus.root).as_posix() for p in corpus.root.rglob("*.md"))
    for step in range(6):
        action = rng.choice(["add", "delete", "change"])
        if action == "add" or len(files) < 4:
            files.append(write_event(corpus, rng.randrange(3), rng.randrange(4), 3 + rng.randrange(3),
                                     f" v{step}"))
        elif action == "delete":
            (corpus.root / files.pop(rng.randrange(len(files)))).unlink()
        else:
            rel = files[rng.randrange(len(files))]
            event = rng.randrange(3)
            corpus.add(rel, EVENTS[event][0], excerpt=EVENTS[event][1], provider="Wire B",
                       published="2022-05-04T12:00:00Z")
            corpus.touch_later(corpus.root / rel)
        build_index(index, [corpus.root])
        full = tmp_path / f"full-{step}"
        build_index(full, [corpus.root], full=True)
        assert groups(index) == groups(full), (step, action)


def test_a_lost_story_index_is_rebuilt_by_the_next_run(news: tuple[Corpus, Path]) -> None:
    corpus, index = news
    before = groups(index)
    (index / STORY_FILE).unlink()
    build_index(index, [corpus.root])  # nothing changed: the stories are computed again
    assert groups(index) == before
    assert (index / STORY_FILE).is_file()


def test_grouped_results_page_by_story(news: tuple[Corpus, Path]) -> None:
    _, index = news
    with Searcher(index) as s:
        flat = s.search(SearchRequest("*", limit=100, facets=("provider",)))
        grouped = s.search(SearchRequest("*", limit=3, facets=("provider",), group="story", members=1))
        page2 = s.search(SearchRequest("*", limit=3, offset=3, facets=(), group="story"))
    assert grouped.total == flat.total == 11  # articles, not stories
    assert grouped.stories == 8
    assert grouped.facets == flat.facets  # facets count articles
    ids = [h.story.id for h in grouped.hits + page2.hits]  # type: ignore[union-attr]
    assert len(set(ids)) == 6  # no story twice across pages
    for hit in grouped.hits:
        story = hit.story
        assert story is not None and story.members is not None
        assert len(story.members) == min(1, story.size - 1)
        assert hit.path not in {m.path for m in story.members}
    assert all(h.story is not None and h.story.members is None for h in flat.hits)


def test_cli_json_and_text(news: tuple[Corpus, Path]) -> None:
    _, index = news
    out = io.StringIO()
    main(["query", "--index", str(index), "--format", "json", "--group", "story", "Contoso Fabrikam"],
         Env(stdin=io.StringIO(), stdout=out, stderr=io.StringIO(), environ={"HOME": "/nonexistent"}))
    data = json.loads(out.getvalue())
    assert data["total"] == 3 and data["stories"] == 1
    story = data["hits"][0]["story"]
    assert story["size"] == 3 and len(story["members"]) == 2
    assert [m["published"] for m in story["members"]] == sorted(m["published"] for m in story["members"])
    out = io.StringIO()
    main(["query", "--index", str(index), "--color", "never", "--group", "story", "Contoso Fabrikam"],
         Env(stdin=io.StringIO(), stdout=out, stderr=io.StringIO(), environ={"HOME": "/nonexistent"}))
    assert "+2 more: " in out.getvalue() and "(May 3)" in out.getvalue()
    assert "1 story (3 articles)" in out.getvalue()


def test_grouped_ranking_equals_grouping_every_match(tmp_path: Path) -> None:
    """Only the best documents are sorted; the stories shown must be those of
    sorting every match and keeping each story's first."""
    import numpy as np

    from search import story_groups
    from search.ranking import sort_key

    corpus = Corpus(tmp_path / "c")
    for event in range(3):
        for outlet in range(40):
            title, excerpt = EVENTS[event]
            corpus.add(f"n/e{event}-{outlet:02d}.md", title, excerpt=excerpt, provider=f"Outlet {outlet}",
                       published=f"2022-05-0{3 + event}T{outlet % 24:02d}:{outlet:02d}:00Z")
    for i in range(5):
        write_single(corpus, i, 3 + i)
    build_index(tmp_path / "ix", [corpus.root])
    with Searcher(tmp_path / "ix") as s:
        arrays = s.arrays()
        stories = story_groups.labels(arrays)
        assert stories is not None
        matched = np.flatnonzero(arrays.live)
        for sort in ("newest", "oldest", "quality"):
            key = sort_key(arrays, sort, None)
            ts = arrays.numeric_column("ts", -(2**63))
            everything = sorted(matched.tolist(), key=lambda d: (key[d], -ts[d], arrays.path_rank()[d]))
            seen: list[int] = []
            labels: set[int] = set()
            for d in everything:
                if stories.label[d] not in labels:
                    labels.add(int(stories.label[d]))
                    seen.append(d)
            for want in (1, 2, 4, 8):
                reps, n = story_groups.representatives(arrays, matched, key, stories, want)
                assert reps.tolist() == seen[:want] and n == len(seen) == 8, (sort, want)
