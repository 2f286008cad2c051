"""Outcomes of the REPL controller → text for the terminal.

Result pages use the summary, notice and facet renderers of `search query`
(`search.output`) and the REPL's own hit layout (`layout`), fitted to the
terminal: `layout.plan_page` picks how many hits and how much of each fit,
and the renderer reports how many it drew so paging goes on from the next
one. Everything that comes from the corpus or from the user passes through
`escape_control`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..output import (
    Style,
    date_span,
    escape_control,
    render_facet_text,
    render_notices,
    render_stats_text,
    render_summary,
)
from .commands import ALIASES
from .coverage import SAME, STORY, CoverageItem
from .layout import (
    MAX_WIDTH,
    display_rows,
    display_width,
    meta_text,
    page_numbers,
    plan_page,
    reserved_rows,
    wrap_text,
    wrap_url,
)
from .outcomes import (
    ArticleOutcome,
    ConfirmOutcome,
    ExportOutcome,
    HelpOutcome,
    LinkOutcome,
    Message,
    NothingOutcome,
    OpenOutcome,
    Outcome,
    QuitOutcome,
    SavedListOutcome,
    SearchOutcome,
    StatsOutcome,
    StoryOutcome,
)

#: below this many rows the facet counts give their place to hits
FACET_MIN_ROWS = 24
_SGR = re.compile(r"\x1b\[[0-9;]*m")

KEYS_HELP = (
    "keys: while you type, the top hits show under the prompt: ↓/↑ (Ctrl-N/Ctrl-P) pick one, "
    "Enter shows it · PageDown/PageUp (Alt-N/Alt-P) next/previous page · Tab completes · "
    "→ accepts a suggestion · Ctrl-R searches history · Ctrl-C clears the line · Ctrl-D quits"
)
SYNTAX_HELP = (
    'queries: words (every word must match; more is better) · "a phrase" · AND OR NOT -word · '
    'title:word · provider:"The Guardian" · topic:AI · published:[2022-01-01 TO 2022-03-31] · word*'
)


@dataclass(frozen=True)
class Rendered:
    text: str
    page: bool = False  # longer than the screen and meant to be read whole: use a pager
    shown: int | None = None  # hits drawn, for a result page
    error: bool = False


class Renderer:
    """Turns outcomes into text; `size` returns the terminal's (columns, rows)."""

    def __init__(self, style: Style, size: Callable[[], tuple[int, int]], wrap: bool = True) -> None:
        """`wrap`: fit every line to the terminal at word boundaries (off
        for a script run, whose errors stay one line each)."""
        self.style = style
        self._size = size
        self._wrap = wrap

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
        rendered = self._render(outcome)
        if not self._wrap or rendered.page:
            return rendered
        return replace(rendered, text=self.fit(rendered.text))

    def fit(self, text: str) -> str:
        """Lines wider than the terminal wrapped at word boundaries, keeping
        their indent. Result pages and articles are laid out to fit already;
        this is for the rest (long messages, paths), whose styling is
        dropped on the lines that need it."""
        out = []
        for line in text.split("\n"):
            if display_width(line) <= self.width:
                out.append(line)
                continue
            plain = _SGR.sub("", line)
            body = plain.lstrip(" ")
            indent = " " * min(len(plain) - len(body), self.width // 2)
            out += [indent + part for part in wrap_text(body, self.width - len(indent))]
        return "\n".join(out)

    def _render(self, outcome: Outcome) -> Rendered:
        if isinstance(outcome, SearchOutcome):
            return self.search(outcome)
        if isinstance(outcome, Message):
            return Rendered(self.message(outcome), error=outcome.error)
        if isinstance(outcome, HelpOutcome):
            return Rendered(self.help(outcome))
        if isinstance(outcome, StatsOutcome):
            return Rendered(render_stats_text(outcome.stats))
        if isinstance(outcome, ArticleOutcome):
            text = self.article(outcome)
            return Rendered(text, page=display_rows(text, self.columns) > self.rows - 1)
        if isinstance(outcome, StoryOutcome):
            text = self.story(outcome)
            return Rendered(text, page=display_rows(text, self.columns) > self.rows - 1)
        if isinstance(outcome, LinkOutcome):
            return Rendered(self.link(outcome))
        if isinstance(outcome, OpenOutcome):
            return Rendered(self.opened(outcome))
        if isinstance(outcome, ExportOutcome):
            kind = "JSON Lines" if outcome.format == "jsonl" else "CSV"
            noun = "result" if outcome.count == 1 else "results"
            return Rendered(f"wrote {outcome.count} {noun} to {escape_control(str(outcome.path))} ({kind})")
        if isinstance(outcome, ConfirmOutcome):
            return Rendered(self.message(Message(outcome.refusal, error=True)), error=True)
        if isinstance(outcome, SavedListOutcome):
            return Rendered(self.saved(outcome))
        if isinstance(outcome, (QuitOutcome, NothingOutcome)):
            return Rendered("")
        raise TypeError(f"cannot render {type(outcome).__name__}")

    # -- pieces

    def message(self, msg: Message) -> str:
        # one paragraph, whatever the message holds
        text = escape_control(" ".join(msg.text.split()))
        if not msg.error:
            lines = wrap_text(text, self.width) if self._wrap else [text]
            return "\n".join(self.style.dim(line) for line in lines)
        lines = wrap_text("error: " + text, self.width) if self._wrap else ["error: " + text]
        first = lines[0]
        return "\n".join([self.style.error("error: ") + first[len("error: "):], *lines[1:]]) \
            if first.startswith("error: ") else "\n".join(lines)

    def _rows(self, lines: list[str]) -> int:
        return sum(display_rows(line, self.columns) for line in lines)

    def search(self, outcome: SearchOutcome) -> Rendered:
        """A result page that fits the terminal (see `layout.plan_page`)."""
        style, page = self.style, outcome.page
        head: list[str] = []
        if page.source is not None:
            head.append("similar to: " + style.bold(escape_control(page.source_title or page.source)))
        if outcome.note:
            head.append(style.dim(escape_control(outcome.note)))
        head += render_notices(page, style)
        tail: list[str] = []
        if page.total == 0 and outcome.filters:
            tail.append(style.dim(f"(filters: {escape_control(outcome.filters)}; :clear drops them)"))
        if outcome.suggestion is not None and outcome.suggestion.query != page.did_you_mean:
            sug = outcome.suggestion
            noun = "hit" if sug.total == 1 else "hits"
            tail.append(f"did you mean: {style.bold(escape_control(sug.query))}"
                        + style.dim(f"  ({sug.total} {noun})"))
        facets = [render_facet_text(f, style, self.width) for f in page.facets.values() if page.total]
        if self.rows < FACET_MIN_ROWS:
            facets = []
        summary_rows = 1 + (display_rows(render_summary(page, style), self.columns) > 1)
        room = (self.rows - reserved_rows(self.rows) - self._rows(head) - self._rows(tail)
                - self._rows(facets) - summary_rows)
        plan = plan_page(list(page.hits), style, self.width, room, compact=outcome.compact,
                         everything=outcome.everything)
        shown = replace(page, hits=page.hits[: plan.count])
        summary = render_summary(shown, style)
        req = page.request
        if page.total and plan.count:
            count = page.stories if page.stories is not None else page.total
            number, pages = page_numbers(outcome.number, req.offset, plan.count, count)
            summary += style.dim(f" · page {number} of {pages}")
        lines = head + list(plan.lines)
        if plan.lines and plan.detail is not None and plan.detail.gap:
            lines.append("")
        lines += [summary, *tail, *facets]
        return Rendered("\n".join(lines), shown=plan.count)

    def story(self, outcome: StoryOutcome) -> str:
        """`:story N`: the story's articles, oldest first, one line each
        (date, provider, title); the others numbered N.M as `:show N.M` takes them."""
        style, hit, members = self.style, outcome.hit, outcome.members
        dated = [m.published for m in members if m.published is not None]
        span = date_span(min(dated), max(dated)) if dated else ""
        noun = "article" if len(members) == 1 else "articles"
        out = [style.bold(f"story of result {hit.rank}: {len(members)} {noun}")
               + (f" · {span}" if span else "")]
        if len(members) > 1:
            out.append(style.dim(f":show {hit.rank}.M opens article M · ▸ is result {hit.rank}"))
        own = (hit.root, hit.path)
        lead_width = len(f"{hit.rank}.{len(members)}") + 4
        provider_width = min(24, max((len(m.provider) for m in members), default=0))
        number = 0
        for m in members:
            if (m.root, m.path) == own:
                lead = "▸".rjust(lead_width - 2) + "  "
            else:
                number += 1
                lead = f"{hit.rank}.{number}".rjust(lead_width - 2) + "  "
            when = m.published.date().isoformat() if m.published else "no date   "
            provider = escape_control(m.provider or "unknown")
            meta = f"{when}  {provider[:provider_width].ljust(provider_width)}  "
            pad = " " * (len(lead) + len(meta))
            room = max(10, self.width - len(pad))
            lines = wrap_text(escape_control(m.title or "(untitled)"), room) if len(pad) < self.width - 20 \
                else [escape_control(m.title or "(untitled)")]
            out.append(lead + style.dim(meta) + lines[0])
            out += [pad + line for line in lines[1:]]
        return "\n".join(out)

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

    def saved(self, outcome: SavedListOutcome) -> str:
        style = self.style
        where = escape_control(str(outcome.path)) if outcome.path else "nowhere (no home folder)"
        if not outcome.searches:
            return style.dim(f"no saved searches yet (:save NAME saves the current one; file: {where})")
        pad = max(len(s.name) for s in outcome.searches) + 2
        out = [style.bold(s.name.ljust(pad)) + escape_control(s.describe()) for s in outcome.searches]
        out.append(style.dim(f":load NAME runs one · file: {where}"))
        return "\n".join(out)

    def link(self, outcome: LinkOutcome) -> str:
        item, style = outcome.item, self.style
        out = [f"{outcome.label}. " + style.bold(escape_control(item.title))
               + style.dim("  " + self._item_meta(item)),
               style.dim("not in the index; its URL:")]
        out += [style.accent(line) for line in wrap_url(escape_control(item.url), self.width)] if item.url \
            else [style.dim("(no URL)")]
        return "\n".join(out)

    @staticmethod
    def _item_meta(item: CoverageItem) -> str:
        when = item.published.strftime("%Y-%m-%d") if item.published else "no date"
        return " · ".join(p for p in (escape_control(item.provider), when) if p)

    def article(self, outcome: ArticleOutcome) -> str:
        """Every field of an article, its excerpt, and its coverage list."""
        style, hit, art = self.style, outcome.hit, outcome.article
        esc = escape_control
        width = self.width
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
        if outcome.label and "." not in outcome.label:
            row("rank", f"{hit.rank}" + (f" (score {hit.score:.3f})" if hit.score else ""))

        # no label: an article the current results do not number
        number = f"{outcome.label:>3}. " if outcome.label else "  ▸ "
        title_lines = wrap_text(esc(title or "(untitled)"), max(10, width - len(number)))
        out = [number + style.bold(title_lines[0])]
        out += [" " * len(number) + style.bold(line) for line in title_lines[1:]]
        value_width = max(10, width - 12)
        for key, value in rows:
            parts = wrap_url(value, value_width) if key in ("url", "original", "file") \
                else wrap_text(value, value_width)
            for i, part in enumerate(parts or [""]):
                shown = style.accent(part) if key in ("url", "original") else part
                out.append(f"{key if i == 0 else '':>10}  {shown}")
        excerpt = art.excerpt if art else hit.excerpt
        if excerpt:
            out.append("")
            out += wrap_text(esc(excerpt), width)
        if outcome.problem:
            out += ["", style.error(esc(outcome.problem))]
        out += self._coverage(outcome)
        return "\n".join(out)

    def _coverage(self, outcome: ArticleOutcome) -> list[str]:
        items = outcome.coverage
        if not items:
            return []
        style = self.style
        # items of an item (or of an unnumbered article) are not addressable
        numbered = bool(outcome.label) and "." not in outcome.label
        inside = sum(i.in_index for i in items)
        same = sum(i.kind in (STORY, SAME) for i in items)
        out = ["", style.bold(f"related coverage ({len(items)}: {inside} in the index, {same} same story)")]
        if numbered:
            out.append(style.dim(f"● in the index: :show {outcome.label}.M opens item M · "
                                 f"○ elsewhere: :show {outcome.label}.M prints its URL, "
                                 f":open {outcome.label}.M opens it"))
        heading = None
        for n, item in enumerate(items, 1):
            group = ("story" if item.kind == STORY else
                     ("in the index" if item.in_index else "elsewhere") + (
                         ", same story" if item.kind == SAME else ", related"))
            if group != heading:
                out.append(style.dim(f"  {group}"))
                heading = group
            mark = "●" if item.in_index else "○"
            lead = f"  {n:>3}. {mark} " if numbered else f"  {mark} "
            pad = " " * len(lead)
            meta = meta_text(item.hit, 60, topics=False) if item.hit else self._item_meta(item)
            lines = wrap_text(escape_control(item.title), max(10, self.width - len(lead)))
            out.append(lead + lines[0])
            out += [pad + line for line in lines[1:]]
            out.append(pad + style.dim(meta))
            if item.url and not item.in_index:
                out += [pad + style.accent(u) for u in wrap_url(escape_control(item.url),
                                                                 max(10, self.width - len(pad)))]
        return out

