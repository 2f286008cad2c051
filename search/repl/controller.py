"""The REPL's executor: one input line in, one result object out.

Like litecli's and pgcli's executors, nothing here knows about the terminal
or prompt_toolkit: `Controller.handle(line)` runs a query or a `:command`
against the shared search API (`Searcher`/`SearchRequest`, the same calls
as `search query`) and returns a plain data object from `outcomes`
(`SearchOutcome`, `ArticleOutcome`, `Message`…). `render` turns those into
text and `session` shows them, so almost all behaviour is testable without
a terminal. The article commands (`:show`, `:open`, `:export`, saved
searches) are in `articles.py`.
"""

from __future__ import annotations

import difflib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import SearchError, SkipFile
from ..facet_values import closest_values
from ..query import Filters, parse_date_bound
from ..searcher import FACETS, SORTS, FacetValue, Hit, ResultPage, Searcher, SearchRequest
from .articles import ArticleCommands, default_opener, positive, result_count
from .commands import COMMAND_NAMES, COMMANDS, candidates, resolve_command
from .export import ReplError
from .layout import page_numbers
from .lexer import split_command
from .outcomes import (
    HelpOutcome,
    Message,
    NothingOutcome,
    Outcome,
    QuitOutcome,
    SearchOutcome,
    StatsOutcome,
    Suggestion,
)
from .saved import SavedSearches

#: facet values shown under a result page (the rest are summed up as "+N more")
FACET_SIZE = 10
#: a query with at most this many hits is worth a spelling suggestion
FEW_HITS = 3
#: upper bound of :limit, so one page cannot flood the terminal for minutes
MAX_PAGE = 500
#: how far down the results `pick` looks for the story of a hit picked from the live list
PICK_DEPTH = 100
#: a last word shorter than this is not searched while typing: as a prefix
#: it matches a large share of the vocabulary and says little
LIVE_MIN_PREFIX = 2


# ----------------------------------------------------------------- state


@dataclass
class State:
    """What the session remembers between lines."""

    query: str | None = None
    #: the query's last word is a prefix (a hit picked from the live list)
    prefix_last: bool = False
    filters: Filters = field(default_factory=Filters)
    #: the date bounds as typed, so a saved `7d` stays relative
    since_text: str = ""
    until_text: str = ""
    sort: str = "relevance"
    offset: int = 0
    #: hits the last page showed (the renderer decides); paging moves by it
    shown: int | None = None
    #: offsets of the pages before this one (PageUp goes back through them)
    back: list[int] = field(default_factory=list)
    limit: int | None = None  # None: as many as fit the terminal
    facet: str = "provider"
    view: str = "full"  # full | compact
    live: bool = True
    #: one hit per story (:group)
    group: bool = True
    #: :similar N: the results are the articles like this one (its address
    #: for `Searcher.similar`) until the next query
    source: str | None = None
    last: ResultPage | None = None


@dataclass(frozen=True)
class Status:
    """What the bottom toolbar shows; read on every redraw, so only cached facts."""

    filters: str
    sort: str
    page: int
    pages: int
    total: int | None
    took_ms: float | None
    documents: int | None


def describe_filters(filters: Filters) -> str:
    parts = []
    if filters.providers:
        parts.append("provider=" + "|".join(filters.providers))
    if filters.topics:
        parts.append("topic=" + "|".join(filters.topics))
    if filters.since:
        parts.append("since " + filters.since.date().isoformat())
    if filters.until:
        parts.append("until " + filters.until.date().isoformat())
    return ", ".join(parts)


def unquote(text: str) -> str:
    """A command argument without the quotes completion may have put around it."""
    text = text.strip()
    if text[:1] in ('"', "'") and text:
        quote, text = text[0], text[1:]
        text = text[:-1] if text.endswith(quote) else text
    return text.strip()


def live_query(text: str) -> tuple[str, bool] | None:
    """What to search for a line still being typed: (query, last word is a
    prefix), or None for a command line or too little text. A last word of
    one letter is left out until the next letter comes."""
    if not text.strip() or text.lstrip().startswith(":"):
        return None
    if text[-1].isspace():
        return text.strip(), False
    head, _, last = text.rstrip().rpartition(" ")
    if len(last) < LIVE_MIN_PREFIX:
        return (head.strip(), False) if head.strip() else None
    return text.strip(), True


# ----------------------------------------------------------------- controller


class Controller(ArticleCommands):
    """Runs REPL lines against one index.

    `page_size` says how many hits to fetch for a page (used while no :limit
    is set); `opener` opens URLs (injected so tests never start a browser);
    `saved` is the saved-searches file. Every use of the searcher goes
    through `lock`, because the completer, the live list and a start-up
    warm-up thread share it with the main loop.
    """

    def __init__(self, index_dir: Path, page_size: Callable[[], int] = lambda: 10,
                 opener: Callable[[str], bool] = default_opener,
                 searcher: Searcher | None = None, saved: SavedSearches | None = None) -> None:
        self.searcher = searcher or Searcher(Path(index_dir))
        self.state = State()
        self.lock = threading.RLock()
        self.saved = saved or SavedSearches(None)
        self._page_size = page_size
        self._opener = opener
        self._values: dict[str, list[FacetValue]] = {}
        self._documents: int | None = None

    # -- cached facts (completion, toolbar)

    def warm_up(self) -> None:
        """Open the index and load completion values and the vocabulary that
        typing searches; run off the main thread right after the first
        prompt is drawn, so the prompt is not kept waiting. Errors are left
        for the first query to report."""
        try:
            with self.lock:
                self._documents = self.searcher.document_count()
                for name in ("provider", "topic"):
                    self.values(name)
                self.searcher.search(SearchRequest("th", limit=1, facets=(), highlight=False,
                                                   prefix_last=True))
        except Exception:  # noqa: BLE001 - the first query reports the problem
            pass

    def values(self, name: str) -> list[FacetValue]:
        """Every value of a facet in the index, most common first (cached)."""
        with self.lock:
            if name not in self._values:
                self._values[name] = self.searcher.values(name)
            return self._values[name]

    def saved_names(self) -> list[str]:
        try:
            return [s.name for s in self.saved.all()]
        except SearchError:
            return []

    def status(self) -> Status:
        st = self.state
        page = pages = 0
        total = took = None
        if st.last is not None:
            req = st.last.request
            total, took = st.last.total, st.last.took_ms
            per = st.shown or req.limit
            if per:
                page, pages = page_numbers(len(st.back) + 1, req.offset, per, result_count(st.last))
        return Status(describe_filters(st.filters), st.sort, page, pages, total, took, self._documents)

    @property
    def limit(self) -> int:
        return self.state.limit or max(1, self._page_size())

    def note_shown(self, count: int) -> None:
        """The renderer drew `count` hits of the last page: paging goes on from there."""
        self.state.shown = max(1, count)

    # -- dispatch

    def handle(self, line: str) -> Outcome:
        """Run one REPL line. Expected problems come back as an error
        Message; KeyboardInterrupt goes up to the UI (it cancels)."""
        text = line.strip()
        if not text:
            return NothingOutcome()
        try:
            parts = split_command(text)
            if parts is None:
                return self.run_query(text)
            name, arg = parts
            command = resolve_command(name)
            if command is None:
                return Message(self._unknown(name), error=True, kind="usage")
            handler: Callable[[str], Outcome] = getattr(self, "cmd_" + command)
            return handler(arg)
        except SearchError as exc:
            return Message(str(exc), error=True, kind=exc.kind)
        except SkipFile as exc:
            return Message(f"cannot read the article: {exc}", error=True)

    @staticmethod
    def _unknown(name: str) -> str:
        several = candidates(name)
        if len(several) > 1:
            return f"ambiguous command :{name}: {' '.join(':' + c for c in several)}"
        close = difflib.get_close_matches(name.lower(), COMMAND_NAMES, n=1)
        hint = f"did you mean :{close[0]}? " if close else ""
        return f"unknown command :{name}; {hint}(:help lists the commands)"

    # -- searching

    def _request(self, **changes: Any) -> SearchRequest:
        st = self.state
        request = SearchRequest(query=st.query or "*", filters=st.filters, sort=st.sort,
                                limit=self.limit, offset=st.offset, facets=(st.facet,),
                                facet_size=FACET_SIZE, prefix_last=st.prefix_last,
                                group="story" if st.group else "none")
        return replace(request, **changes) if changes else request

    def _search(self, request: SearchRequest) -> ResultPage:
        with self.lock:
            if self.state.source is not None:
                page = self.searcher.similar(self.state.source, request)
            else:
                page = self.searcher.search(request)
            documents = self.searcher.document_count()
        if documents != self._documents:  # re-indexed underneath us
            self._documents = documents
            self._values.clear()
        return page

    def _outcome(self, page: ResultPage, suggestion: Suggestion | None = None, note: str = "",
                 refine: bool = False) -> SearchOutcome:
        self.state.last = page
        self.state.shown = None
        return SearchOutcome(page, suggestion, note, describe_filters(self.state.filters), refine,
                             compact=self.state.view == "compact", everything=self.state.limit is not None,
                             number=len(self.state.back) + 1)

    def run_query(self, text: str, prefix_last: bool = False) -> SearchOutcome:
        self.state.query = text
        self.state.prefix_last = prefix_last
        self.state.source = None
        self._reset_paging()
        page = self._search(self._request())
        return self._outcome(page, self._suggest(page))

    def _reset_paging(self) -> None:
        self.state.offset = 0
        self.state.back = []

    def _rerun(self, note: str) -> Outcome:
        """Show the current query again after a change of filters, sort or page."""
        if self.state.query is None:
            return Message(note + " (applies to the next query)")
        return self._outcome(self._search(self._request()), None, note, refine=True)

    def _suggest(self, page: ResultPage) -> Suggestion | None:
        """'Did you mean': a corrected query that finds more than this one."""
        text = page.request.query
        if text.strip() in ("", "*") or page.request.prefix_last:
            return None
        try:
            with self.lock:
                fixed = page.did_you_mean or (self.searcher.suggest(text) if page.total <= FEW_HITS
                                              else None)
        except (OSError, ValueError, KeyError, IndexError):  # best effort only
            return None
        if not fixed or fixed == text:
            return None
        total = self._search(replace(page.request, query=fixed, limit=0, offset=0, facets=(),
                                     highlight=False)).total
        return Suggestion(fixed, total) if total > page.total else None

    # -- results while typing

    def live(self, text: str, limit: int) -> ResultPage | None:
        """The top `limit` hits for a line still being typed, with the
        current filters and sort (its last word a prefix), or None when the
        line is a command or too short. Runs on the live-list thread."""
        wanted = live_query(text)
        if wanted is None:
            return None
        query, prefix = wanted
        # articles, not stories: a preview of what the words find, and
        # enough lines to choose from when a few stories hold every match
        request = self._request(query=query, prefix_last=prefix, limit=limit, offset=0, facets=(),
                                highlight=False, facet_size=0, group="none")
        with self.lock:
            return self.searcher.search(request)

    def pick(self, page: ResultPage, rank: int) -> Outcome:
        """Enter on hit `rank` of a live list: its query (as typed, the last
        word a prefix) becomes the current query, and the hit is shown,
        numbered as the results address it: `N` when it is result N, `N.M`
        when it is article M of result N's story (`:story N`)."""
        try:
            picked = next((h for h in page.hits if h.rank == rank), None)
            outcome = self.run_query(page.request.query, prefix_last=page.request.prefix_last)
            if picked is None:
                return self.cmd_show(str(rank))
            return self._article(*self._address_of(picked, outcome.page))
        except SearchError as exc:
            return Message(str(exc), error=True, kind=exc.kind)

    def _address_of(self, picked: Hit, page: ResultPage) -> tuple[Hit, str]:
        """`picked` as the current results number it (see `pick`); "" when
        they do not reach it."""
        key = (picked.root, picked.path)
        story = picked.story.id if picked.story is not None else None
        if not any(h.story is not None and h.story.id == story for h in page.hits) and story:
            # its story may rank below this page: look a little further
            page = self._search(self._request(limit=PICK_DEPTH, facets=(), highlight=False))
        for hit in page.hits:
            if (hit.root, hit.path) == key:
                return hit, str(hit.rank)
            if story is not None and hit.story is not None and hit.story.id == story:
                for number, item in enumerate(self.story_members(hit), 1):
                    if item.hit is not None and (item.hit.root, item.hit.path) == key:
                        return item.hit, f"{hit.rank}.{number}"
        return picked, ""

    # -- commands: filters

    def _known_value(self, kind: str, name: str) -> str:
        """The index's spelling of a provider or topic name (case-insensitive),
        so a typo is caught here instead of silently matching nothing."""
        labels = [str(v.value) for v in self.values(kind)]
        by_fold = {label.casefold(): label for label in labels}
        if name.casefold() in by_fold:
            return by_fold[name.casefold()]
        close = closest_values(name, labels)
        hint = f"; did you mean {', '.join(close)}?" if close else " (Tab completes names)"
        raise ReplError(f"no {kind} named {name!r} in the index{hint}")

    def cmd_provider(self, arg: str) -> Outcome:
        return self._add_value("provider", arg)

    def cmd_topic(self, arg: str) -> Outcome:
        return self._add_value("topic", arg)

    def _add_value(self, kind: str, arg: str) -> Outcome:
        attr = "providers" if kind == "provider" else "topics"
        name = unquote(arg)
        current: tuple[str, ...] = getattr(self.state.filters, attr)
        if not name:
            self.state.filters = replace(self.state.filters, **{attr: ()})
            self._reset_paging()
            return self._rerun(f"{kind} filter cleared")
        label = self._known_value(kind, name)
        if label not in current:
            self.state.filters = replace(self.state.filters, **{attr: (*current, label)})
        self._reset_paging()
        return self._rerun(f"{kind} filter: {' | '.join(getattr(self.state.filters, attr))}")

    def cmd_since(self, arg: str) -> Outcome:
        return self._date_bound("since", unquote(arg))

    def cmd_until(self, arg: str) -> Outcome:
        return self._date_bound("until", unquote(arg))

    def _date_bound(self, which: str, arg: str) -> Outcome:
        value = parse_date_bound(arg, end=which == "until") if arg else None
        filters = replace(self.state.filters, **{which: value})
        if filters.since and filters.until and filters.since > filters.until:
            raise ReplError(f":since {filters.since.date()} is after :until {filters.until.date()}")
        self.state.filters = filters
        setattr(self.state, which + "_text", arg if value else "")
        self._reset_paging()
        if value is None:
            return self._rerun(f"{which} cleared")
        typed = "" if arg == value.date().isoformat() else f" ({arg})"
        return self._rerun(f"{which} {value.date().isoformat()}{typed}")

    def cmd_clear(self, arg: str) -> Outcome:
        self.state.filters = Filters()
        self.state.since_text = self.state.until_text = ""
        self._reset_paging()
        return self._rerun("filters cleared")

    # -- commands: order, paging, view

    def cmd_sort(self, arg: str) -> Outcome:
        choice = arg.strip().lower()
        matches = [s for s in SORTS if s.startswith(choice)] if choice else []
        if len(matches) != 1:
            raise ReplError(f"usage: :sort {'|'.join(SORTS)} (now {self.state.sort})")
        self.state.sort = matches[0]
        self._reset_paging()
        return self._rerun(f"sorted by {self.state.sort}")

    def _need_results(self) -> ResultPage:
        if self.state.query is None or self.state.last is None:
            raise ReplError("no query yet: type a query first")
        return self.state.last

    @property
    def per_page(self) -> int:
        """Hits per page: what the last page showed, else what it fetched."""
        return self.state.shown or self.limit

    def _goto(self, offset: int) -> Outcome:
        last = self._need_results()
        count = result_count(last)
        if offset < 0 or (offset >= count and offset > 0):
            pages = max(1, math.ceil(count / self.per_page))
            raise ReplError(f"no such page: the results have {pages} page{'s' * (pages != 1)}")
        self.state.offset = offset
        return self._rerun("")

    def cmd_next(self, arg: str) -> Outcome:
        last = self._need_results()
        start = self.state.offset + self.per_page
        if start >= result_count(last):
            raise ReplError("already on the last page")
        # by rank: the next page starts right after the last hit shown,
        # whatever the terminal's size is now
        self.state.back.append(self.state.offset)
        return self._goto(start)

    def cmd_prev(self, arg: str) -> Outcome:
        self._need_results()
        if self.state.offset == 0:
            raise ReplError("already on the first page")
        back = self.state.back
        if back and back[-1] < self.state.offset:
            offset = back.pop()
        else:
            offset = max(0, self.state.offset - self.per_page)
        return self._goto(offset)

    def cmd_page(self, arg: str) -> Outcome:
        number = positive(arg, "usage: :page N (a page number, 1 is the first)")
        per = self.per_page
        self._need_results()
        self.state.back = [n * per for n in range(number - 1)]
        return self._goto((number - 1) * per)

    def cmd_limit(self, arg: str) -> Outcome:
        if not arg.strip():
            self.state.limit = None
            note = f"page size: fits the terminal (up to {self.limit})"
        else:
            number = positive(arg, f"usage: :limit N (1 to {MAX_PAGE}), or :limit alone to fit the terminal")
            if number > MAX_PAGE:
                raise ReplError(f"limit must be between 1 and {MAX_PAGE}")
            self.state.limit = number
            note = f"page size: {number}"
        # keep the first hit of the current page in view
        before = self.state.offset // self.limit
        self.state.offset = before * self.limit
        self.state.back = [n * self.limit for n in range(before)]
        return self._rerun(note)

    def cmd_view(self, arg: str) -> Outcome:
        choice = arg.strip().lower()
        matches = [v for v in ("full", "compact") if v.startswith(choice)] if choice else []
        if len(matches) != 1:
            raise ReplError(f"usage: :view full|compact (now {self.state.view})")
        self.state.view = matches[0]
        return self._rerun(f"view: {self.state.view}")

    def cmd_live(self, arg: str) -> Outcome:
        choice = arg.strip().lower()
        if choice not in ("on", "off"):
            raise ReplError(f"usage: :live on|off (now {'on' if self.state.live else 'off'})")
        self.state.live = choice == "on"
        return Message(f"results while typing: {choice}")

    def cmd_group(self, arg: str) -> Outcome:
        choice = arg.strip().lower()
        if choice not in ("on", "off"):
            raise ReplError(f"usage: :group on|off (now {'on' if self.state.group else 'off'})")
        self.state.group = choice == "on"
        self._reset_paging()
        return self._rerun("one hit per story" if self.state.group
                           else "every article (not grouped by story)")

    def cmd_facets(self, arg: str) -> Outcome:
        choice = arg.strip().lower()
        if choice not in FACETS:
            raise ReplError(f"usage: :facets {'|'.join(FACETS)} (now {self.state.facet})")
        self.state.facet = choice
        return self._rerun(f"facet: {choice}")

    # -- commands: the rest

    def cmd_help(self, arg: str) -> Outcome:
        name = arg.strip().lstrip(":")
        if not name:
            return HelpOutcome(COMMANDS)
        command = resolve_command(name)
        if command is None:
            return Message(self._unknown(name), error=True, kind="usage")
        return HelpOutcome(tuple(c for c in COMMANDS if c.name == command), detail=True)

    def cmd_stats(self, arg: str) -> Outcome:
        with self.lock:
            return StatsOutcome(self.searcher.stats())

    def cmd_quit(self, arg: str) -> Outcome:
        return QuitOutcome()
