"""Text laid out for a terminal of a given size.

Everything here is a pure function of the text and the terminal's columns
and rows, so it is tested without a terminal:

- `wrap_ranges` wraps at word boundaries by display width (wide characters
  count two columns, escaped control characters their escape's length);
- `wrap_url` keeps a URL whole when it fits and otherwise breaks it after a
  `/`, `?`, `&`… where it must, marking each break with `URL_MARK`;
- `hit_block` draws one hit at a level of detail, `hit_line` as one line
  (the live list and the compact view);
- `plan_page` picks how many hits a page shows and with how much detail:
  excerpt lines go before hits do, so small terminals still show
  `MIN_HITS` hits with whole titles.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from ..output import Style, escape_control, snippet, story_line, styled
from ..searcher import Hit, Span

#: marks a URL broken across lines (the URL goes on in the next line)
URL_MARK = "↩"
ELLIPSIS = "…"
#: hits a page keeps on any terminal before it gives up detail it can spare
MIN_HITS = 3
#: widest text we lay out, however wide the terminal
MAX_WIDTH = 160

_SGR = re.compile(r"\x1b\[[0-9;]*m")
_WORDS = re.compile(r"\S+")
# good places to break a URL: after these
_URL_BREAKS = "/?&=#-_.,;~+"


def char_width(ch: str) -> int:
    from wcwidth import wcwidth

    w = wcwidth(ch)
    if w >= 0:
        return w
    return len(escape_control(ch))  # a control character is shown escaped


def text_width(text: str) -> int:
    """Columns `text` (no escape codes) takes once control characters are escaped."""
    if text.isascii() and text.isprintable():
        return len(text)
    return sum(char_width(c) for c in text)


def display_width(text: str) -> int:
    """Columns a line of (possibly styled) text takes on a terminal."""
    return text_width(_SGR.sub("", text))


def display_rows(text: str, columns: int) -> int:
    """Terminal rows `text` takes once long lines wrap at `columns`."""
    columns = max(1, columns)
    return sum(max(1, math.ceil(display_width(line) / columns)) for line in text.split("\n"))


def _cut(text: str, start: int, end: int, width: int) -> int:
    """The largest index <= end such that text[start:index] fits `width` (at least one character)."""
    used = 0
    for i in range(start, end):
        used += char_width(text[i])
        if used > width:
            return max(i, start + 1)
    return end


def wrap_ranges(text: str, width: int) -> list[tuple[int, int]]:
    """(start, end) character ranges of `text`'s lines wrapped at word
    boundaries to `width` columns; only a word longer than a whole line is
    cut inside."""
    width = max(1, width)
    lines: list[tuple[int, int]] = []
    start = end = -1
    used = 0
    for m in _WORDS.finditer(text):
        a, b = m.span()
        w = text_width(m.group())
        if start >= 0 and used + 1 + w <= width:
            end, used = b, used + 1 + w
            continue
        if start >= 0:
            lines.append((start, end))
        while w > width:  # a word wider than a line: cut it where it must
            cut = _cut(text, a, b, width)
            lines.append((a, cut))
            a = cut
            w = text_width(text[a:b])
        start, end, used = a, b, w
    if start >= 0:
        lines.append((start, end))
    return lines


def wrap_text(text: str, width: int) -> list[str]:
    return [text[a:b] for a, b in wrap_ranges(text, width)]


def wrap_url(url: str, width: int) -> list[str]:
    """A URL on as many lines as it needs: whole when it fits; otherwise
    broken after a separator (or, lacking one, where the line ends), each
    broken line ending in URL_MARK."""
    width = max(2, width)
    out: list[str] = []
    rest = url
    while text_width(rest) > width:
        room = _cut(rest, 0, len(rest), width - 1)
        cut = max((rest.rfind(c, 0, room) for c in _URL_BREAKS), default=-1) + 1
        if cut < max(1, room // 2):  # no separator in the second half of the line
            cut = room
        out.append(rest[:cut] + URL_MARK)
        rest = rest[cut:]
    out.append(rest)
    return out


def truncate(text: str, width: int) -> str:
    """`text` cut to `width` columns at a word boundary, with an ellipsis."""
    if text_width(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    ranges = wrap_ranges(text, width - 1)
    first = text[ranges[0][0]:ranges[0][1]] if ranges else ""
    return first.rstrip(" ,;:·-–") + ELLIPSIS


def _shift(spans: tuple[Span, ...], start: int, end: int) -> tuple[Span, ...]:
    return tuple((max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start)


def _date(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "no date"


# ----------------------------------------------------------------- hits


@dataclass(frozen=True)
class Detail:
    """How much of a hit is drawn."""

    excerpt_lines: int
    url: bool = True
    meta: bool = True
    gap: bool = True  # a blank line after the hit


#: levels of detail, most first; a page gives them up in this order
LEVELS = (
    Detail(2),
    Detail(1),
    Detail(0, url=True, gap=False),
    Detail(0, url=False, gap=False),
    Detail(0, url=False, meta=False, gap=False),
)


def meta_text(hit: Hit, width: int, topics: bool = True) -> str:
    """`provider · date · topics` (plain, escaped), shortened to `width`."""
    parts = [escape_control(hit.provider or "unknown provider"), _date(hit.published)]
    line = " · ".join(parts)
    if topics and hit.topics:
        with_topics = line + " · " + escape_control(", ".join(hit.topics[:4]))
        if text_width(with_topics) <= width:
            return with_topics
    return truncate(line, width)


def hit_block(hit: Hit, style: Style, width: int, detail: Detail) -> list[str]:
    """A hit as lines no wider than `width`: the title wrapped at word
    boundaries, the meta line, excerpt lines, the URL, a gap."""
    num = f"{hit.rank:>3}. "
    indent = " " * len(num)
    inner = max(10, width - len(num))
    title = hit.title or "(untitled)"
    spans = hit.title_spans if hit.title else ()
    lines = []
    for i, (a, b) in enumerate(wrap_ranges(title, inner) or [(0, 0)]):
        lines.append((num if i == 0 else indent) + styled(title[a:b], _shift(spans, a, b), style, style.bold))
    if detail.meta:
        lines.append(indent + style.dim(meta_text(hit, inner)))
    if hit.excerpt and detail.excerpt_lines:
        text, ex_spans = snippet(hit.excerpt, hit.excerpt_spans, inner * detail.excerpt_lines)
        ranges = wrap_ranges(text, inner)
        shown = ranges[: detail.excerpt_lines]
        for i, (a, b) in enumerate(shown):
            piece = styled(text[a:b], _shift(ex_spans, a, b), style)
            if i == len(shown) - 1 and len(ranges) > len(shown) and not text[a:b].endswith(ELLIPSIS):
                # the excerpt goes on: say so (there is room, lines are
                # broken at spaces well before the edge or at it exactly)
                piece = piece if text_width(text[a:b]) >= inner else piece + ELLIPSIS
            lines.append(indent + piece)
    if hit.url and detail.url:
        lines += [indent + style.accent(part) for part in wrap_url(escape_control(hit.url), inner)]
    more = story_line(hit.story)
    if more and detail.meta:
        lines.append(indent + style.dim(truncate(escape_control(more), inner)))
    if detail.gap:
        lines.append("")
    return lines


def hit_line(hit: Hit, style: Style, width: int, rank: bool = True) -> str:
    """A hit on one line: rank, title (cut at a word with "…" when it must),
    then provider and date, for the live list and the compact view."""
    num = f"{hit.rank:>3}. " if rank else ""
    provider = escape_control(hit.provider or "unknown provider")
    # on a narrow terminal the title needs the room more than the date does
    meta = truncate(provider, 24) + " · " + _date(hit.published) if width >= 90 else truncate(provider, 16)
    if hit.story is not None and hit.story.members is not None and hit.story.size > 1:
        meta += f" +{hit.story.size - 1}"  # grouped: the story's other articles
    room = width - len(num) - 2 - text_width(meta)
    if room < 12:  # too narrow for the meta: the title alone
        meta, room = "", width - len(num)
    title = hit.title or "(untitled)"
    cut = truncate(title, max(1, room))
    head = cut[:-1] if cut.endswith(ELLIPSIS) and cut != title else cut
    shown = styled(head, _shift(hit.title_spans, 0, len(head)), style, style.bold)
    if head != cut:
        shown += ELLIPSIS
    line = num + shown
    if meta:
        line += "  " + style.dim(meta)
    return line


# ----------------------------------------------------------------- pages


@dataclass(frozen=True)
class PagePlan:
    """How a result page is drawn: the first `count` hits, at `detail`."""

    count: int
    detail: Detail | None  # None: one line per hit (compact view)
    lines: tuple[str, ...]


def _block_rows(hits: list[Hit], style: Style, width: int, detail: Detail | None) -> list[list[str]]:
    if detail is None:
        return [[hit_line(h, style, width)] for h in hits]
    return [hit_block(h, style, width, detail) for h in hits]


def _fit(blocks: list[list[str]], rows: int) -> int:
    used = count = 0
    for block in blocks:
        # the last hit's gap may fall off the bottom
        need = len(block) - (1 if block and block[-1] == "" else 0)
        if used + need > rows:
            break
        used += len(block)
        count += 1
    return count


def plan_page(hits: list[Hit], style: Style, width: int, rows: int, compact: bool = False,
              everything: bool = False) -> PagePlan:
    """The hits of a page that fit `rows` rows and their detail.

    The most detailed level at which `MIN_HITS` hits (or all of them, when
    fewer) fit is used, with as many hits as fit at it; on a terminal too
    small even for that, fewer hits at the least detail (never none).
    `everything` draws every hit, shrinking detail as far as needed (an
    explicit :limit).
    """
    if compact:
        levels: tuple[Detail | None, ...] = (None,)
    else:
        levels = LEVELS
    want = len(hits) if everything else min(MIN_HITS, len(hits))
    blocks: list[list[str]] = []
    count = 0
    for detail in levels:
        blocks = _block_rows(hits, style, width, detail)
        count = _fit(blocks, rows)
        if count >= want:
            break
    else:
        detail = levels[-1]
        count = len(hits) if everything else max(1, count) if hits else 0
    lines = [line for block in blocks[:count] for line in block]
    while lines and lines[-1] == "":
        lines.pop()
    return PagePlan(count, detail, tuple(lines))


def page_numbers(number: int, offset: int, shown: int, total: int) -> tuple[int, int]:
    """(page, pages) for page `number`, which starts at hit `offset` and
    shows `shown` hits: pages hold different numbers of hits when the
    terminal changes size (paging is by rank), so the pages still to come
    are counted at this page's size."""
    per = max(1, shown)
    return number, number + math.ceil(max(0, total - offset - per) / per)


def page_capacity(rows: int, compact: bool = False) -> int:
    """How many hits to fetch for a page on a terminal `rows` high: enough
    for the most that can be drawn there (a few more than fit at full
    detail with one-line titles; one per row in the compact view)."""
    space = max(1, rows - reserved_rows(rows) - FOOTER_MIN)
    if compact:
        return max(1, space)
    return max(MIN_HITS, space // 5)


def menu_rows(rows: int) -> int:
    """Rows the prompt keeps for the completion menu, its own line included:
    four (pgcli's default) on a normal terminal, fewer on a small one."""
    return 4 if rows >= 24 else 2


def reserved_rows(rows: int) -> int:
    """Terminal rows that are not the result page's: the echoed input line,
    the next prompt with its menu space, and the bottom toolbar."""
    return 1 + menu_rows(rows) + 1


#: rows under the hits that every page has: the summary line
FOOTER_MIN = 1
