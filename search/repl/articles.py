"""The controller's commands about articles and results as a whole:
`:show N[.M]` with the coverage list, `:open`, `:export`, and the saved
searches (`:save`, `:saved`, `:load`). A mixin of `Controller`, kept apart
so each module stays readable; it uses the controller's state and searcher.
"""

from __future__ import annotations

import math
import shlex
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SkipFile
from ..searcher import Hit, ResultPage, Searcher, SearchRequest
from .coverage import STORY, CoverageItem, build_coverage
from .export import ReplError, write_export
from .outcomes import (
    ArticleOutcome,
    ConfirmOutcome,
    ExportOutcome,
    LinkOutcome,
    Message,
    OpenOutcome,
    Outcome,
    SavedListOutcome,
    SearchOutcome,
    StoryOutcome,
)
from .saved import SavedSearch, SavedSearches, check_name

if TYPE_CHECKING:
    from .controller import State


def result_count(page: ResultPage) -> int:
    """What a page's results are counted in: stories when grouped, else articles."""
    return page.stories if page.stories is not None else page.total


def address(hit: Hit) -> str:
    """How `Searcher.find` finds a hit's article, whichever corpus folder it is in."""
    return str(Path(hit.root) / hit.path) if hit.root else hit.path

URL_SCHEMES = ("http://", "https://")


def default_opener(url: str) -> bool:
    """Open `url` in a web browser; False when this machine has none."""
    import webbrowser

    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    try:
        return bool(browser.open(url))
    except (OSError, webbrowser.Error):
        return False


def positive(text: str, usage: str) -> int:
    try:
        number = int(text.strip())
    except ValueError:
        raise ReplError(usage) from None
    if number < 1:
        raise ReplError(usage)
    return number


class ArticleCommands:
    """`:show`, `:open`, `:export`, `:save`, `:saved`, `:load` (see `Controller`)."""

    searcher: Searcher
    state: State
    lock: threading.RLock
    saved: SavedSearches
    _opener: Callable[[str], bool]

    # provided by Controller
    def _need_results(self) -> ResultPage: ...
    def _request(self, **changes: Any) -> SearchRequest: ...
    def _search(self, request: SearchRequest) -> ResultPage: ...
    def run_query(self, text: str, prefix_last: bool = False) -> SearchOutcome: ...
    def _outcome(self, page: ResultPage) -> SearchOutcome: ...

    # -- results by number

    def hit(self, rank_text: str, usage: str) -> Hit:
        """Result number N of the current query (any page, not only this one)."""
        rank = positive(rank_text, usage)
        last = self._need_results()
        for hit in last.hits:
            if hit.rank == rank:
                return hit
        count = result_count(last)
        if rank > count:
            noun = ("stor" + ("y" if count == 1 else "ies")) if count != last.total \
                else "hit" + "s" * (count != 1)
            raise ReplError(f"no result {rank}: the query has {count} {noun}")
        page = self._search(self._request(offset=rank - 1, limit=1, facets=()))
        if not page.hits:
            raise ReplError(f"no result {rank}")
        return page.hits[0]

    # -- coverage

    def story_members(self, hit: Hit) -> list[CoverageItem]:
        """The other indexed articles of `hit`'s story, oldest first, as
        CoverageItems of kind `coverage.STORY` with their `hit`."""
        if hit.story is None or hit.story.size <= 1:
            return []
        with self.lock:
            members = self.searcher.story(address(hit))
        own = (hit.root, hit.path)
        return [CoverageItem(m.title, m.url, m.provider, m.published, STORY, m)
                for m in members if (m.root, m.path) != own]

    def coverage(self, hit: Hit, article: Any | None) -> tuple[CoverageItem, ...]:
        """The numbered coverage list of an article (see `coverage`)."""
        members = self.story_members(hit)
        if article is None:
            return tuple(members)
        urls = [r.url for r in article.related if r.url]
        with self.lock:
            found = self.searcher.articles_by_url(urls) if urls else {}
            arrays = self.searcher.arrays()
            documents = max(1, arrays.n)

            def weight(stem: str) -> float:
                # idf over the titles: "microsoft" and "azure" say little
                return max(0.0, math.log(documents / (1 + arrays.doc_frequency("title", stem))))

            return build_coverage(article, hit, members, found, weight)

    def _article(self, hit: Hit, label: str) -> ArticleOutcome:
        try:
            article = self.searcher.article(hit)
        except SkipFile as exc:
            return ArticleOutcome(hit, None, f"the file cannot be read any more: {exc}",
                                  self.coverage(hit, None), label)
        return ArticleOutcome(hit, article, "", self.coverage(hit, article), label)

    def _item(self, arg: str, usage: str) -> tuple[Hit, CoverageItem | None, str]:
        """Result N, and item M of its coverage list for `N.M`."""
        rank_text, dot, item_text = arg.strip().partition(".")
        hit = self.hit(rank_text, usage)
        if not dot:
            return hit, None, str(hit.rank)
        number = positive(item_text, usage)
        outcome = self._article(hit, str(hit.rank))
        if number > len(outcome.coverage):
            count = len(outcome.coverage)
            raise ReplError(f"result {hit.rank} lists {count} related item{'s' * (count != 1)}")
        return hit, outcome.coverage[number - 1], f"{hit.rank}.{number}"

    # -- commands

    def cmd_story(self, arg: str) -> Outcome:
        hit = self.hit(arg, "usage: :story N (a result number)")
        if hit.story is None:
            raise ReplError("this index has no stories yet: run `search index` to the end")
        with self.lock:
            members = self.searcher.story(address(hit))
        return StoryOutcome(hit, members)

    def cmd_similar(self, arg: str) -> Outcome:
        hit = self.hit(arg, "usage: :similar N (a result number)")
        self.state.source = address(hit)
        self.state.offset = 0
        self.state.back = []
        return self._outcome(self._search(self._request()))

    def cmd_show(self, arg: str) -> Outcome:
        hit, item, label = self._item(arg, "usage: :show N (a result number) or N.M (item M of its list)")
        if item is None:
            return self._article(hit, label)
        if item.hit is None:
            return LinkOutcome(label, item)
        return self._article(item.hit, label)

    def cmd_open(self, arg: str) -> Outcome:
        hit, item, label = self._item(arg, "usage: :open N (a result number) or N.M (item M of its list)")
        url = (item.url if item is not None else hit.url).strip()
        if not url:
            raise ReplError(f"{'item' if item else 'result'} {label} has no URL")
        # corpus text is untrusted: never hand a file:, javascript: or other
        # scheme to the browser
        if not url.lower().startswith(URL_SCHEMES):
            raise ReplError(f"{'item' if item else 'result'} {label} has no web URL "
                            f"(not opening {url[:80]!r})")
        return OpenOutcome(url, self._opener(url))

    def cmd_export(self, arg: str) -> Outcome:
        usage = "usage: :export [--force] FILE (FILE ending in .jsonl or .csv)"
        try:
            words = shlex.split(arg)
        except ValueError:
            words = [arg]
        force = "--force" in words
        rest = [w for w in words if w != "--force"]
        if len(rest) != 1:
            raise ReplError(usage)
        target = rest[0]
        self._need_results()
        path = Path(target).expanduser()
        fmt = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(path.suffix.lower())
        if fmt is None:
            raise ReplError(f"{target}: name the file .jsonl (JSON Lines) or .csv")
        if path.is_dir():
            raise ReplError(f"{target}: is a folder")
        if path.exists() and not force:
            return ConfirmOutcome(f"{target} exists; overwrite it?",
                                  f":export --force {shlex.quote(target)}",
                                  f"{target} exists; not overwritten (:export --force FILE overwrites it)")
        # every article, grouped or not: an export is data for other tools
        request = self._request(offset=0, limit=500, facets=(), facet_size=0, highlight=False,
                                group="none")
        with self.lock:
            scored = request.sort == "relevance" and (
                self.state.source is not None
                or not self.searcher.parse(request.query, request.match).is_match_all())
            count = write_export(path, fmt, self._all_hits(request), scored)
        return ExportOutcome(path, count, fmt)

    def _all_hits(self, request: SearchRequest) -> Iterable[Hit]:
        from ..searcher import iter_all

        if self.state.source is None:
            return iter_all(self.searcher, request)
        return self._all_similar(request)

    def _all_similar(self, request: SearchRequest) -> Iterator[Hit]:
        offset = 0
        while True:
            page = self._search(replace(request, offset=offset))
            yield from page.hits
            offset += len(page.hits)
            if not page.hits or offset >= page.total:
                return

    def cmd_save(self, arg: str) -> Outcome:
        name = check_name(arg.strip())
        st = self.state
        if st.query is None:
            raise ReplError("no query yet: type a query first, then :save NAME")
        if st.source is not None:
            raise ReplError("a :similar list cannot be saved: run a query, then :save NAME")
        search = SavedSearch(name, st.query, st.filters.providers, st.filters.topics,
                             st.since_text, st.until_text, st.sort)
        replaced = self.saved.put(search)
        return Message(f"{'replaced' if replaced else 'saved'} {name}: {search.describe()} "
                       f"(:load {name} runs it)")

    def cmd_saved(self, arg: str) -> Outcome:
        return SavedListOutcome(tuple(self.saved.all()), self.saved.path)

    def cmd_load(self, arg: str) -> Outcome:
        name = arg.strip()
        if not name:
            raise ReplError("usage: :load NAME (:saved lists them)")
        search = self.saved.get(name)
        filters = search.filters()
        st = self.state
        st.filters, st.since_text, st.until_text, st.sort = filters, search.since, search.until, search.sort
        outcome = self.run_query(search.query)
        return replace(outcome, note=f"{name}: {search.describe()}")
