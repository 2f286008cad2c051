"""The REPL's executor: one input line in, one result object out.

Like litecli's and pgcli's executors, nothing here knows about the terminal
or prompt_toolkit: `Controller.handle(line)` runs a query or a `:command`
against the shared search API (`Searcher`/`SearchRequest`, the same calls
as `search query`) and returns a plain data object (`SearchOutcome`,
`ArticleOutcome`, `Message`…). `repl_render` turns those into text and
`repl` shows them, so almost all behaviour is testable without a terminal.
"""

from __future__ import annotations

import difflib
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import SearchError, SkipFile
from ..query import Filters, parse_date_bound
from ..searcher import FACETS, SORTS, FacetValue, Hit, IndexStats, ResultPage, Searcher, SearchRequest
from .export import ReplError, write_export
from .lexer import split_command

#: facet values shown under a result page (the rest are summed up as "+N more")
FACET_SIZE = 10
#: a query with at most this many hits is worth a spelling suggestion
FEW_HITS = 3
#: upper bound of :limit, so one page cannot flood the terminal for minutes
MAX_PAGE = 500
URL_SCHEMES = ("http://", "https://")


# ----------------------------------------------------------------- commands


@dataclass(frozen=True)
class Command:
    name: str
    args: str
    help: str


COMMANDS: tuple[Command, ...] = (
    Command("help", "[COMMAND]", "list the commands, or describe one"),
    Command("provider", "[NAME]", "add a provider filter (several: any of them); alone: clear them"),
    Command("topic", "[NAME]", "add a topic filter (several: any of them); alone: clear them"),
    Command("since", "[DATE]", "only articles published on or after DATE (2022, 2022-04, 2022-04-18)"),
    Command("until", "[DATE]", "only articles published on or before DATE; alone: clear"),
    Command("clear", "", "drop every filter"),
    Command("sort", "relevance|newest|oldest|quality", "order of the results"),
    Command("next", "", "next page of results"),
    Command("prev", "", "previous page of results"),
    Command("page", "N", "go to page N"),
    Command("limit", "[N]", "results per page; alone: as many as fit the terminal"),
    Command("show", "N", "the whole article N: every field, URL, related coverage"),
    Command("open", "N", "open the URL of article N in the web browser"),
    Command("facets", "provider|topic|year", "which counts to show under the results"),
    Command("stats", "", "index statistics"),
    Command("export", "FILE", "write every result of the query to FILE (.jsonl or .csv)"),
    Command("quit", "", "leave the REPL (Ctrl-D does too)"),
)
COMMAND_NAMES = tuple(c.name for c in COMMANDS)
ALIASES = {"q": "quit", "exit": "quit", "h": "help", "?": "help", "n": "next", "p": "prev",
           "facet": "facets", "filter": "provider"}


def resolve_command(name: str) -> str | None:
    """The command a typed name means: exact, alias, or unambiguous prefix."""
    name = name.lower()
    if name in COMMAND_NAMES:
        return name
    if name in ALIASES:
        return ALIASES[name]
    matches = [c for c in COMMAND_NAMES if c.startswith(name)] if name else []
    return matches[0] if len(matches) == 1 else None


# ----------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Message:
    text: str
    error: bool = False


@dataclass(frozen=True)
class Suggestion:
    """A corrected query and how many hits it would find."""

    query: str
    total: int


@dataclass(frozen=True)
class SearchOutcome:
    page: ResultPage
    suggestion: Suggestion | None = None
    note: str = ""
    filters: str = ""  # the active filters, described, for a "no hits" hint


@dataclass(frozen=True)
class HelpOutcome:
    commands: tuple[Command, ...]
    detail: bool = False  # one command asked for: show its aliases too


@dataclass(frozen=True)
class StatsOutcome:
    stats: IndexStats


@dataclass(frozen=True)
class ArticleOutcome:
    hit: Hit
    article: Any | None  # documents.Article, or None when the file is unreadable
    problem: str = ""


@dataclass(frozen=True)
class OpenOutcome:
    url: str
    opened: bool


@dataclass(frozen=True)
class ExportOutcome:
    path: Path
    count: int
    format: str


@dataclass(frozen=True)
class QuitOutcome:
    pass


@dataclass(frozen=True)
class NothingOutcome:
    pass


Outcome = (Message | SearchOutcome | HelpOutcome | StatsOutcome | ArticleOutcome | OpenOutcome
           | ExportOutcome | QuitOutcome | NothingOutcome)


# ----------------------------------------------------------------- state


@dataclass
class State:
    """What the session remembers between lines."""

    query: str | None = None
    filters: Filters = field(default_factory=Filters)
    sort: str = "relevance"
    offset: int = 0
    limit: int | None = None  # None: as many as fit the terminal
    facet: str = "provider"
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


# ----------------------------------------------------------------- controller


class Controller:
    """Runs REPL lines against one index.

    `page_size` says how many hits fit the terminal (used while no :limit is
    set); `opener` opens URLs (injected so tests never start a browser).
    Every use of the searcher goes through `lock`, because the completer and
    a start-up warm-up thread share it with the main loop.
    """

    def __init__(self, index_dir: Path, page_size: Callable[[], int] = lambda: 10,
                 opener: Callable[[str], bool] = default_opener,
                 searcher: Searcher | None = None) -> None:
        self.searcher = searcher or Searcher(Path(index_dir))
        self.state = State()
        self.lock = threading.RLock()
        self._page_size = page_size
        self._opener = opener
        self._values: dict[str, list[FacetValue]] = {}
        self._documents: int | None = None

    # -- cached facts (completion, toolbar)

    def warm_up(self) -> None:
        """Open the index and load completion values; run off the main
        thread right after the first prompt is drawn, so the prompt is not
        kept waiting. Errors are left for the first query to report."""
        try:
            with self.lock:
                self._documents = self.searcher.document_count()
                for name in ("provider", "topic"):
                    self.values(name)
        except Exception:  # noqa: BLE001 - the first query reports the problem
            pass

    def values(self, name: str) -> list[FacetValue]:
        """Every value of a facet in the index, most common first (cached)."""
        with self.lock:
            if name not in self._values:
                self._values[name] = self.searcher.values(name)
            return self._values[name]

    def status(self) -> Status:
        st = self.state
        page = pages = 0
        total = took = None
        if st.last is not None:
            req = st.last.request
            total, took = st.last.total, st.last.took_ms
            if req.limit:
                page = req.offset // req.limit + 1
                pages = math.ceil(st.last.total / req.limit)
        return Status(describe_filters(st.filters), st.sort, page, pages, total, took, self._documents)

    @property
    def limit(self) -> int:
        return self.state.limit or max(1, self._page_size())

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
                return Message(self._unknown(name), error=True)
            handler: Callable[[str], Outcome] = getattr(self, "cmd_" + command)
            return handler(arg)
        except SearchError as exc:
            return Message(str(exc), error=True)
        except SkipFile as exc:
            return Message(f"cannot read the article: {exc}", error=True)

    @staticmethod
    def _unknown(name: str) -> str:
        close = difflib.get_close_matches(name.lower(), COMMAND_NAMES, n=1)
        hint = f"did you mean :{close[0]}? " if close else ""
        return f"unknown command :{name}; {hint}(:help lists the commands)"

    # -- searching

    def _request(self, **changes: Any) -> SearchRequest:
        st = self.state
        request = SearchRequest(query=st.query or "*", filters=st.filters, sort=st.sort,
                                limit=self.limit, offset=st.offset, facets=(st.facet,),
                                facet_size=FACET_SIZE)
        return replace(request, **changes) if changes else request

    def _search(self, request: SearchRequest) -> ResultPage:
        with self.lock:
            page = self.searcher.search(request)
            documents = self.searcher.document_count()
        if documents != self._documents:  # re-indexed underneath us
            self._documents = documents
            self._values.clear()
        return page

    def run_query(self, text: str) -> SearchOutcome:
        self.state.query = text
        self.state.offset = 0
        page = self._search(self._request())
        self.state.last = page
        return SearchOutcome(page, self._suggest(page), filters=describe_filters(self.state.filters))

    def _rerun(self, note: str) -> Outcome:
        """Show the current query again after a change of filters, sort or page."""
        if self.state.query is None:
            return Message(note + " (applies to the next query)")
        page = self._search(self._request())
        self.state.last = page
        return SearchOutcome(page, None, note, describe_filters(self.state.filters))

    def _suggest(self, page: ResultPage) -> Suggestion | None:
        """'Did you mean': a corrected query that finds more than this one."""
        text = page.request.query
        if text.strip() in ("", "*"):
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

    # -- commands: filters

    def _known_value(self, kind: str, name: str) -> str:
        """The index's spelling of a provider or topic name (case-insensitive),
        so a typo is caught here instead of silently matching nothing."""
        labels = [str(v.value) for v in self.values(kind)]
        by_fold = {label.casefold(): label for label in labels}
        if name.casefold() in by_fold:
            return by_fold[name.casefold()]
        close = difflib.get_close_matches(name, labels, n=3, cutoff=0.6)
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
            self.state.offset = 0
            return self._rerun(f"{kind} filter cleared")
        label = self._known_value(kind, name)
        if label not in current:
            self.state.filters = replace(self.state.filters, **{attr: (*current, label)})
        self.state.offset = 0
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
        self.state.offset = 0
        return self._rerun(f"{which} {value.date().isoformat()}" if value else f"{which} cleared")

    def cmd_clear(self, arg: str) -> Outcome:
        self.state.filters = Filters()
        self.state.offset = 0
        return self._rerun("filters cleared")

    # -- commands: order and paging

    def cmd_sort(self, arg: str) -> Outcome:
        choice = arg.strip().lower()
        matches = [s for s in SORTS if s.startswith(choice)] if choice else []
        if len(matches) != 1:
            raise ReplError(f"usage: :sort {'|'.join(SORTS)} (now {self.state.sort})")
        self.state.sort = matches[0]
        self.state.offset = 0
        return self._rerun(f"sorted by {self.state.sort}")

    def _need_results(self) -> ResultPage:
        if self.state.query is None or self.state.last is None:
            raise ReplError("no query yet: type a query first")
        return self.state.last

    def _goto(self, offset: int) -> Outcome:
        last = self._need_results()
        if offset < 0 or (offset >= last.total and offset > 0):
            pages = max(1, math.ceil(last.total / self.limit))
            raise ReplError(f"no such page: the results have {pages} page{'s' * (pages != 1)}")
        self.state.offset = offset
        return self._rerun("")

    def cmd_next(self, arg: str) -> Outcome:
        last = self._need_results()
        if self.state.offset + self.limit >= last.total:
            raise ReplError("already on the last page")
        return self._goto(self.state.offset + self.limit)

    def cmd_prev(self, arg: str) -> Outcome:
        self._need_results()
        if self.state.offset == 0:
            raise ReplError("already on the first page")
        return self._goto(max(0, self.state.offset - self.limit))

    def cmd_page(self, arg: str) -> Outcome:
        number = _positive(arg, "usage: :page N (a page number, 1 is the first)")
        return self._goto((number - 1) * self.limit)

    def cmd_limit(self, arg: str) -> Outcome:
        if not arg.strip():
            self.state.limit = None
            note = f"page size: fits the terminal ({self.limit})"
        else:
            number = _positive(arg, f"usage: :limit N (1 to {MAX_PAGE}), or :limit alone to fit the terminal")
            if number > MAX_PAGE:
                raise ReplError(f"limit must be between 1 and {MAX_PAGE}")
            self.state.limit = number
            note = f"page size: {number}"
        # keep the first hit of the current page in view
        self.state.offset = self.state.offset // self.limit * self.limit
        return self._rerun(note)

    def cmd_facets(self, arg: str) -> Outcome:
        choice = arg.strip().lower()
        if choice not in FACETS:
            raise ReplError(f"usage: :facets {'|'.join(FACETS)} (now {self.state.facet})")
        self.state.facet = choice
        return self._rerun(f"facet: {choice}")

    # -- commands: articles

    def hit(self, rank_text: str, usage: str) -> Hit:
        """Result number N of the current query (any page, not only this one)."""
        rank = _positive(rank_text, usage)
        last = self._need_results()
        for hit in last.hits:
            if hit.rank == rank:
                return hit
        if rank > last.total:
            raise ReplError(f"no result {rank}: the query has {last.total} hit{'s' * (last.total != 1)}")
        page = self._search(self._request(offset=rank - 1, limit=1, facets=()))
        if not page.hits:
            raise ReplError(f"no result {rank}")
        return page.hits[0]

    def cmd_show(self, arg: str) -> Outcome:
        hit = self.hit(arg, "usage: :show N (a result number)")
        try:
            article = self.searcher.article(hit)
        except SkipFile as exc:
            return ArticleOutcome(hit, None, f"the file cannot be read any more: {exc}")
        return ArticleOutcome(hit, article)

    def cmd_open(self, arg: str) -> Outcome:
        hit = self.hit(arg, "usage: :open N (a result number)")
        url = hit.url.strip()
        if not url:
            raise ReplError(f"result {hit.rank} has no URL")
        # corpus text is untrusted: never hand a file:, javascript: or other
        # scheme to the browser
        if not url.lower().startswith(URL_SCHEMES):
            raise ReplError(f"result {hit.rank} has no web URL (not opening {url[:80]!r})")
        return OpenOutcome(url, self._opener(url))

    # -- commands: the rest

    def cmd_help(self, arg: str) -> Outcome:
        name = arg.strip().lstrip(":")
        if not name:
            return HelpOutcome(COMMANDS)
        command = resolve_command(name)
        if command is None:
            return Message(self._unknown(name), error=True)
        return HelpOutcome(tuple(c for c in COMMANDS if c.name == command), detail=True)

    def cmd_stats(self, arg: str) -> Outcome:
        with self.lock:
            return StatsOutcome(self.searcher.stats())

    def cmd_quit(self, arg: str) -> Outcome:
        return QuitOutcome()

    def cmd_export(self, arg: str) -> Outcome:
        target = unquote(arg)
        if not target:
            raise ReplError("usage: :export FILE (FILE ending in .jsonl or .csv)")
        self._need_results()
        path = Path(target).expanduser()
        fmt = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(path.suffix.lower())
        if fmt is None:
            raise ReplError(f"{target}: name the file .jsonl (JSON Lines) or .csv")
        if path.is_dir():
            raise ReplError(f"{target}: is a folder")
        request = self._request(offset=0, limit=500, facets=(), facet_size=0, highlight=False)
        with self.lock:
            scored = (request.sort == "relevance"
                      and not self.searcher.parse(request.query, request.match).is_match_all())
            count = write_export(path, fmt, self._all_hits(request), scored)
        return ExportOutcome(path, count, fmt)

    def _all_hits(self, request: SearchRequest) -> Iterable[Hit]:
        from ..searcher import iter_all

        return iter_all(self.searcher, request)


def _positive(text: str, usage: str) -> int:
    try:
        number = int(text.strip())
    except ValueError:
        raise ReplError(usage) from None
    if number < 1:
        raise ReplError(usage)
    return number
