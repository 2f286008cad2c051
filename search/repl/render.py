"""Outcomes of the REPL controller → text for the terminal.

Result pages are drawn with the same renderers as `search query` (hit,
summary and facet text from `search.output`), only fitted to the terminal:
the page size is chosen from the terminal height, and when a page would
still overflow (long titles wrap, or the user set a large :limit) the
excerpts shrink before anything scrolls away. Everything that comes from
the corpus or from the user passes through `escape_control`.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from ..output import (
    Style,
    escape_control,
    render_facet_text,
    render_hit_text,
    render_notices,
    render_stats_text,
    render_summary,
)
from .controller import (
    ALIASES,
    ArticleOutcome,
    ExportOutcome,
    HelpOutcome,
    Message,
    NothingOutcome,
    OpenOutcome,
    Outcome,
    QuitOutcome,
    SearchOutcome,
    StatsOutcome,
)

#: rows the prompt keeps free for the completion menu, its own line included
#: (pgcli's default; prompt_toolkit's 8 would push half a page off screen)
MENU_ROWS = 4
#: terminal rows that are not ours after a query: the echoed input line,
#: the next prompt with its menu space, and the bottom toolbar
RESERVED_ROWS = 1 + MENU_ROWS + 1
#: rows under the hits: summary, facet block (two lines on a wide terminal),
#: "did you mean" and a note
FOOTER_ROWS = 5
#: rows of one hit with a two-line excerpt: title, meta, 2 excerpt, URL, blank
HIT_ROWS = 6
MAX_WIDTH = 160

_SGR = re.compile(r"\x1b\[[0-9;]*m")

KEYS_HELP = (
    "keys: Tab completes · → accepts a suggestion · Ctrl-R searches history · "
    "Ctrl-C clears the line · Ctrl-D quits"
)
SYNTAX_HELP = (
    'queries: words (any may match, more is better) · "a phrase" · AND OR NOT -word · '
    'title:word · provider:"The Guardian" · topic:AI · published:[2022-01-01 TO 2022-03-31] · word*'
)


def display_width(text: str) -> int:
    """Columns a line of (possibly styled) text takes on a terminal."""
    from wcwidth import wcswidth

    plain = _SGR.sub("", text)
    width = wcswidth(plain)
    return width if width >= 0 else len(plain)


def display_rows(text: str, columns: int) -> int:
    """Terminal rows `text` takes once long lines wrap at `columns`."""
    columns = max(1, columns)
    return sum(max(1, math.ceil(display_width(line) / columns)) for line in text.split("\n"))


def hits_that_fit(rows: int) -> int:
    """How many hits a page should hold on a terminal `rows` high."""
    return max(1, (rows - RESERVED_ROWS - FOOTER_ROWS) // HIT_ROWS)


@dataclass(frozen=True)
class Rendered:
    text: str
    page: bool = False  # longer than the screen and meant to be read whole: use a pager


class Renderer:
    """Turns outcomes into text; `size` returns the terminal's (columns, rows)."""

    def __init__(self, style: Style, size: Callable[[], tuple[int, int]]) -> None:
        self.style = style
        self._size = size

    @property
    def columns(self) -> int:
        return max(20, self._size()[0])

    @property
    def rows(self) -> int:
        return max(5, self._size()[1])

    @property
    def width(self) -> int:
        # one column short of the edge: some terminals wrap early at the last one
        return min(MAX_WIDTH, self.columns - 1)

    def render(self, outcome: Outcome) -> Rendered:
        if isinstance(outcome, SearchOutcome):
            return Rendered(self.search(outcome))
        if isinstance(outcome, Message):
            return Rendered(self.message(outcome))
        if isinstance(outcome, HelpOutcome):
            return Rendered(self.help(outcome))
        if isinstance(outcome, StatsOutcome):
            return Rendered(render_stats_text(outcome.stats))
        if isinstance(outcome, ArticleOutcome):
            text = self.article(outcome)
            return Rendered(text, page=display_rows(text, self.columns) > self.rows - 1)
        if isinstance(outcome, OpenOutcome):
            return Rendered(self.opened(outcome))
        if isinstance(outcome, ExportOutcome):
            kind = "JSON Lines" if outcome.format == "jsonl" else "CSV"
            noun = "result" if outcome.count == 1 else "results"
            return Rendered(f"wrote {outcome.count} {noun} to {escape_control(str(outcome.path))} ({kind})")
        if isinstance(outcome, (QuitOutcome, NothingOutcome)):
            return Rendered("")
        raise TypeError(f"cannot render {type(outcome).__name__}")

    # -- pieces

    def message(self, msg: Message) -> str:
        # one line, whatever the message holds
        text = escape_control(" ".join(msg.text.split()))
        return self.style.error("error: ") + text if msg.error else self.style.dim(text)

    def search(self, outcome: SearchOutcome) -> str:
        """A result page that fits the terminal: the excerpts shrink from two
        lines to one to none before the page is allowed to overflow."""
        available = self.rows - RESERVED_ROWS
        text = ""
        for excerpt_lines in (2, 1, 0):
            text = self._page(outcome, excerpt_lines)
            if display_rows(text, self.columns) <= available:
                break
        return text

    def _page(self, outcome: SearchOutcome, excerpt_lines: int) -> str:
        style, page = self.style, outcome.page
        lines: list[str] = []
        if outcome.note:
            lines.append(style.dim(escape_control(outcome.note)))
        lines += render_notices(page, style)
        for hit in page.hits:
            lines.append(render_hit_text(hit, style, self.width, excerpt_lines=excerpt_lines))
            if excerpt_lines:
                lines.append("")
        summary = render_summary(page, style)
        req = page.request
        if page.total and req.limit:
            pages = math.ceil(page.total / req.limit)
            summary += style.dim(f" · page {req.offset // req.limit + 1} of {pages}")
        lines.append(summary)
        if page.total == 0 and outcome.filters:
            lines.append(style.dim(f"(filters: {escape_control(outcome.filters)}; :clear drops them)"))
        for facet in page.facets.values():
            if page.total:
                lines.append(render_facet_text(facet, style, self.width))
        if outcome.suggestion is not None and outcome.suggestion.query != page.did_you_mean:
            sug = outcome.suggestion
            noun = "hit" if sug.total == 1 else "hits"
            lines.append(f"did you mean: {style.bold(escape_control(sug.query))}"
                         + style.dim(f"  ({sug.total} {noun})"))
        return "\n".join(lines)

    def help(self, outcome: HelpOutcome) -> str:
        style = self.style
        heads = [f":{c.name} {c.args}".rstrip() for c in outcome.commands]
        pad = max(len(h) for h in heads) + 2
        out = [style.bold(h.ljust(pad)) + c.help for h, c in zip(heads, outcome.commands, strict=True)]
        if outcome.detail:
            names = [a for a, target in ALIASES.items() if target == outcome.commands[0].name]
            if names:
                out.append(style.dim("also: " + " ".join(":" + a for a in names)))
        else:
            out.append(style.dim(textwrap.fill(SYNTAX_HELP, self.width)))
            out.append(style.dim(textwrap.fill(KEYS_HELP, self.width)))
        return "\n".join(out)

    def opened(self, outcome: OpenOutcome) -> str:
        url = escape_control(outcome.url)
        if outcome.opened:
            return self.style.dim("opened ") + self.style.accent(url)
        return "no web browser available here; the URL is " + self.style.accent(url)

    def article(self, outcome: ArticleOutcome) -> str:
        """Every field of an article, its excerpt, and its related coverage."""
        style, hit, art = self.style, outcome.hit, outcome.article
        esc = escape_control
        title = art.title if art else hit.title
        rows: list[tuple[str, str]] = []

        def row(label: str, value: object) -> None:
            if value not in (None, "", ()):
                rows.append((label, esc(str(value))))

        provider = art.provider if art else hit.provider
        domain = art.provider_domain if art else hit.provider_domain
        row("provider", f"{provider} ({domain})" if domain else provider)
        published = art.published if art else hit.published
        row("published", published.isoformat().replace("+00:00", "Z") if published else "no date")
        row("topics", ", ".join(art.topics if art else hit.topics))
        row("quality", art.quality if art else hit.quality)
        row("type", art.type if art else hit.type)
        row("category", art.category if art else hit.category)
        row("url", art.url if art else hit.url)
        if art and art.original_url and art.original_url != art.url:
            row("original", art.original_url)
        row("file", f"{hit.root}/{hit.path}" if hit.root else hit.path)
        row("rank", f"{hit.rank}" + (f" (score {hit.score:.3f})" if hit.score else ""))

        out = [f"{hit.rank:>3}. " + style.bold(esc(title or "(untitled)"))]
        out += [f"{label:>10}  {value}" for label, value in rows]
        excerpt = art.excerpt if art else hit.excerpt
        if excerpt:
            out.append("")
            out += [esc(line) for line in textwrap.wrap(excerpt, self.width)]
        if outcome.problem:
            out += ["", style.error(esc(outcome.problem))]
        related = art.related if art else ()
        if related:
            out += ["", style.bold(f"related coverage ({len(related)})")]
            for rel in related:
                when = rel.published.strftime("%Y-%m-%d") if rel.published else "no date"
                meta = " · ".join(p for p in (esc(rel.provider), when) if p)
                out.append(f"  • {esc(rel.title)}" + style.dim(f"  {meta}"))
                if rel.url:
                    out.append("    " + style.accent(esc(rel.url)))
        return "\n".join(out)
