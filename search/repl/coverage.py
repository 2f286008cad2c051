"""An article's coverage list for `:show`: who else covered the story.

The list is numbered so `:show N.M` can open item M, in this order:

1. story members: the other indexed articles of the article's story
   (`Controller.story_members`), oldest first, as `:story N` lists them;
2. the article's `related` items that are in the index (found by URL);
3. the related items that are not.

Within 2 and 3, other outlets' coverage of the same story comes before the
site's topical picks. The corpus does not say which is which, so it is
judged from the titles: a related item is the same story when it was
published within `SAME_STORY_DAYS` of the article and most of its title's
weight (idf over the index's titles) is words of the article's title and
excerpt, or, in a second pass, of the same-story titles found in the first
(other outlets word the same story differently: "ChaosDB", "worst cloud
vulnerability"). Duplicates (same URL, or same title and provider) and
links back to the article itself are dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..searcher import Hit, url_key

STORY = "story"  # a story member (the stories feature)
SAME = "same story"  # a related item about the same story
RELATED = "related"  # a related item on the same topic

#: a related item published further than this from the article is topical
SAME_STORY_DAYS = 2.0
#: share of a related title's word weight that must be the article's words
SAME_STORY_SHARE = 0.35


@dataclass(frozen=True)
class CoverageItem:
    title: str
    url: str = ""
    provider: str = ""
    published: dt.datetime | None = None
    kind: str = RELATED
    #: the article in the index, when it is there (it can be opened)
    hit: Hit | None = None

    @property
    def in_index(self) -> bool:
        return self.hit is not None


def _days_apart(a: dt.datetime | None, b: dt.datetime | None) -> float:
    if a is None or b is None:
        return 0.0  # undated: the words alone decide
    return abs((a - b).total_seconds()) / 86400


def _share(words: set[str], title_words: set[str], weight: Callable[[str], float]) -> float:
    total = sum(weight(w) for w in title_words)
    return sum(weight(w) for w in title_words & words) / total if total > 0 else 0.0


def same_story(article_title: str, article_text: str, published: dt.datetime | None,
               items: Sequence[CoverageItem], weight: Callable[[str], float]) -> list[bool]:
    """For each item: is it coverage of the article's story?"""
    from ..analysis import stems

    words = set(stems(f"{article_title} {article_text}"))
    titles = [set(stems(item.title)) for item in items]
    near = [_days_apart(item.published, published) <= SAME_STORY_DAYS for item in items]
    same = [n and _share(words, t, weight) >= SAME_STORY_SHARE for n, t in zip(near, titles, strict=True)]
    widened = words.union(*(t for t, s in zip(titles, same, strict=True) if s))
    return [s or (n and _share(widened, t, weight) >= SAME_STORY_SHARE)
            for s, n, t in zip(same, near, titles, strict=True)]


def build_coverage(article: object, hit: Hit, members: Iterable[CoverageItem],
                   found: Mapping[str, Hit], weight: Callable[[str], float]) -> tuple[CoverageItem, ...]:
    """The numbered coverage list of `article` (a documents.Article, shown as
    result `hit`): story `members` first, then its related items, those in
    the index (`found`, by URL) before the others, same story before topical."""
    own = {url_key(u) for u in (getattr(article, "url", ""), getattr(article, "original_url", ""),
                                hit.url) if u}
    own_path = (hit.root, hit.path)
    seen_urls = set(own)
    seen_titles: set[tuple[str, str]] = set()
    out: list[CoverageItem] = []

    def fresh(item: CoverageItem) -> bool:
        key = url_key(item.url) if item.url else ""
        title = (" ".join(item.title.casefold().split()), item.provider.casefold())
        if (key and key in seen_urls) or title in seen_titles:
            return False
        if item.hit is not None and (item.hit.root, item.hit.path) == own_path:
            return False
        if key:
            seen_urls.add(key)
        seen_titles.add(title)
        return True

    for member in members:
        # every member is listed (`:story N` numbers them the same way);
        # noting them drops related items that repeat one
        fresh(member)
        if member.hit is None or (member.hit.root, member.hit.path) != own_path:
            out.append(replace(member, kind=STORY))
    related: list[CoverageItem] = []
    for rel in getattr(article, "related", ()):
        item = CoverageItem(rel.title, rel.url, rel.provider, rel.published, RELATED,
                            found.get(rel.url) if rel.url else None)
        if fresh(item):
            related.append(item)
    flags = same_story(getattr(article, "title", hit.title), getattr(article, "excerpt", hit.excerpt),
                       getattr(article, "published", hit.published), related, weight)
    related = [replace(item, kind=SAME) if flag else item for item, flag in zip(related, flags, strict=True)]
    # in the index first, then same story first; otherwise the file's order
    order = sorted(range(len(related)),
                   key=lambda i: (not related[i].in_index, related[i].kind != SAME, i))
    return tuple(out + [related[i] for i in order])
