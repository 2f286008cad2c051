"""Renderers: result pages, stats and errors as JSON, JSON Lines or text.

One set of renderers serves the `query` command and the REPL. Corpus text is
untrusted: the text renderers escape control characters so nothing from an
article can drive the terminal; JSON escapes them by construction.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .results import Facet, Hit, IndexStats, ResultPage, Span, StoryInfo

if TYPE_CHECKING:
    from .check import CheckReport

#: highlight markers in JSON output (documented in the README)
MARK_OPEN = "<mark>"
MARK_CLOSE = "</mark>"

# C0/C1 controls, DEL, and the Unicode bidi/format characters that can
# reorder or hide text on a terminal
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def escape_control(text: str) -> str:
    """Make corpus text safe for a terminal: controls become visible escapes."""
    return _UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


# ----------------------------------------------------------------- styling


@dataclass(frozen=True)
class Style:
    """ANSI styling, or none. Built once per output stream."""

    enabled: bool = False

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled and text else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def mark(self, text: str) -> str:
        return self._wrap("1;33", text)

    def accent(self, text: str) -> str:
        return self._wrap("36", text)

    def error(self, text: str) -> str:
        return self._wrap("31", text)


def color_enabled(mode: str, isatty: bool, environ: Mapping[str, str]) -> bool:
    """--color always|never wins; auto means a terminal and no NO_COLOR."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return isatty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def _pieces(text: str, spans: tuple[Span, ...]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, is_match) runs; overlapping or touching spans merge."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in merged:
        out += [(text[pos:start], False), (text[start:end], True)]
        pos = end
    out.append((text[pos:], False))
    return out


def marked(text: str, spans: tuple[Span, ...], open_: str = MARK_OPEN, close: str = MARK_CLOSE) -> str:
    """Wrap each span of `text` in markers (adjacent spans are merged)."""
    return "".join(open_ + piece + close if hit else piece for piece, hit in _pieces(text, spans))


def styled(text: str, spans: tuple[Span, ...], style: Style, base: Any = None) -> str:
    """Escape `text` for a terminal and highlight its spans."""
    plain = base or (lambda s: s)
    if not spans or not style.enabled:
        return plain(escape_control(text))
    # escape piece by piece so span offsets still line up with the original text
    return "".join(style.mark(escape_control(piece)) if hit else plain(escape_control(piece))
                   for piece, hit in _pieces(text, spans))


# ----------------------------------------------------------------- JSON


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def hit_dict(hit: Hit, scored: bool = True) -> dict[str, Any]:
    return {
        "rank": hit.rank,
        "score": hit.score if scored else None,
        "path": hit.path,
        "title": hit.title,
        "excerpt": hit.excerpt,
        "provider": hit.provider or None,
        "topics": list(hit.topics),
        "published": iso(hit.published),
        "url": hit.url or None,
        "quality": hit.quality,
        "root": hit.root or None,
        "story": story_dict(hit.story),
        "highlights": {
            "title": marked(hit.title, hit.title_spans),
            "excerpt": marked(hit.excerpt, hit.excerpt_spans),
        },
    }


def story_dict(story: StoryInfo | None) -> dict[str, Any] | None:
    """A hit's story: {id, size}, and in a grouped result its first and last
    dates and the other members (oldest first)."""
    if story is None:
        return None
    out: dict[str, Any] = {"id": story.id, "size": story.size}
    if story.members is not None:
        out["first"] = iso(story.first)
        out["last"] = iso(story.last)
        out["members"] = [{"title": m.title, "provider": m.provider or None, "published": iso(m.published),
                           "path": m.path, "url": m.url or None} for m in story.members]
    return out


def facet_list(facet: Facet) -> list[dict[str, Any]]:
    return [{"value": v.value, "count": v.count} for v in facet.values]


def page_dict(page: ResultPage) -> dict[str, Any]:
    """The stable JSON object for one result page (schema in the README)."""
    req = page.request
    head: dict[str, Any] = {"source": page.source} if page.source is not None else {"query": req.query}
    return {
        **head,
        "total": page.total,
        "offset": req.offset,
        "limit": req.limit,
        "took_ms": page.took_ms,
        "match": req.match,
        "corrections": [{"word": c.word, "used": list(c.used)} for c in page.corrections],
        "relaxed": None if page.relaxed is None else {
            "dropped": list(page.relaxed.dropped),
            "required": page.relaxed.required,
            "of": page.relaxed.of,
        },
        "did_you_mean": page.did_you_mean,
        "stories": page.stories,
        "hits": [hit_dict(h, page.scored) for h in page.hits],
        "facets": {name: facet_list(f) for name, f in page.facets.items()},
        "facet_info": {
            name: {"distinct": f.distinct, "other": f.other} for name, f in page.facets.items()
        },
    }


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def render_json(page: ResultPage) -> str:
    return dumps(page_dict(page))


def render_jsonl(page: ResultPage) -> str:
    """One hit object per line (no trailing newline); empty for no hits."""
    return "\n".join(dumps(hit_dict(h, page.scored)) for h in page.hits)


def error_dict(kind: str, message: str, query: str | None = None, key: str = "query") -> dict[str, Any]:
    """The JSON error object; `query` (under `key`: "query", or "source" for
    `similar`) names the input line that failed."""
    err: dict[str, Any] = {"error": {"kind": kind, "message": message}}
    if query is not None:
        err[key] = query
    return err


def stats_dict(stats: IndexStats) -> dict[str, Any]:
    return {
        "documents": stats.documents,
        "providers": stats.providers,
        "topics": stats.topics,
        "first_published": iso(stats.first_published),
        "last_published": iso(stats.last_published),
        "size_bytes": stats.size_bytes,
        "segments": stats.segments,
        "last_indexed": stats.last_indexed,
        "roots": list(stats.roots),
        "index": stats.index_dir,
        "schema_version": stats.schema_version,
        "incomplete": stats.incomplete,
    }


# ----------------------------------------------------------------- text


def _date(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "no date"


def render_hit_text(hit: Hit, style: Style, width: int = 100, excerpt_lines: int = 2) -> str:
    """A hit as a few lines for a person: rank, title, meta line, excerpt."""
    num = f"{hit.rank:>3}. "
    indent = " " * len(num)
    title = styled(hit.title or "(untitled)", hit.title_spans, style, style.bold)
    meta_parts = [escape_control(hit.provider or "unknown provider"), _date(hit.published)]
    if hit.topics:
        meta_parts.append(escape_control(", ".join(hit.topics[:4])))
    lines = [num + title, indent + style.dim(" · ".join(meta_parts))]
    if hit.excerpt and excerpt_lines:
        # textwrap turns each of these into a space; doing it first keeps every
        # wrapped line findable in the text, so the spans stay where they were
        excerpt = hit.excerpt.translate(_WRAP_SPACES)
        text, spans = snippet(excerpt, hit.excerpt_spans, (width - len(indent)) * excerpt_lines)
        wrapped = textwrap.wrap(text, max(20, width - len(indent)))[:excerpt_lines]
        # re-highlight per wrapped line by locating each line in the snippet
        pos = 0
        for line in wrapped:
            start = text.find(line, pos)
            end = start + len(line)
            line_spans = tuple(
                (max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start
            )
            lines.append(indent + styled(line, line_spans, style))
            pos = end
    if hit.url:
        lines.append(indent + style.accent(escape_control(hit.url)))
    more = story_line(hit.story)
    if more:
        lines.append(indent + style.dim(escape_control(more)))
    return "\n".join(lines)


def story_line(story: StoryInfo | None, shown: int = 3) -> str:
    """`+12 more: PortSwigger, SiliconANGLE, The Verge … (Aug 26–28)` under a
    grouped hit; "" when the hit's story has no other member."""
    if story is None or story.members is None or story.size <= 1:
        return ""
    names = ", ".join(story.providers[:shown]) + (" …" if len(story.providers) > shown else "")
    span = date_span(story.first, story.last)
    return f"+{story.size - 1} more" + (f": {names}" if names else "") + (f" ({span})" if span else "")


def date_span(first: dt.datetime | None, last: dt.datetime | None) -> str:
    """`Aug 26–28`, `Aug 30–Sep 2`, `Dec 30, 2020–Jan 2, 2021`, or `Aug 26`."""
    if first is None or last is None:
        return ""
    a, b = first.date(), last.date()
    if a == b:
        return f"{a:%b} {a.day}"
    if a.year != b.year:
        return f"{a:%b} {a.day}, {a.year}–{b:%b} {b.day}, {b.year}"
    if a.month != b.month:
        return f"{a:%b} {a.day}–{b:%b} {b.day}"
    return f"{a:%b} {a.day}–{b.day}"


#: the whitespace textwrap replaces with spaces (`textwrap.TextWrapper.unicode_whitespace_trans`)
_WRAP_SPACES = str.maketrans({c: " " for c in "\t\n\v\f\r"})


def snippet(text: str, spans: tuple[Span, ...], budget: int) -> tuple[str, tuple[Span, ...]]:
    """A window of `text` of about `budget` chars around the first match,
    with "…" where it was cut, and the spans that fall inside it."""
    if len(text) <= budget:
        return text, spans
    start = 0
    if spans:
        first = min(s for s, _ in spans)
        if first > budget // 3:
            start = text.rfind(" ", 0, first - budget // 4) + 1
    end = min(len(text), start + budget)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    prefix = "…" if start else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    window = prefix + text[start:end] + suffix
    kept = tuple((s + shift, e + shift) for s, e in spans if s >= start and e <= end)
    return window, kept


def render_facet_text(facet: Facet, style: Style, width: int = 100) -> str:
    """A facet as wrapped "value count · value count" lines.

    Lines are laid out on the plain text (escape codes would count as width)
    and never break inside an entry; counts are styled afterwards.
    """
    label = f"{facet.name}: "
    if not facet.values:
        return style.dim(label + "(none)")
    entries = [(escape_control(str(v.value)), str(v.count)) for v in facet.values]
    more = facet.distinct - len(facet.values)
    tail = f"(+{more} more, {facet.other} hits)" if more > 0 else ""
    lines: list[str] = []
    line, used = label, len(label)
    pieces = [(f"{value} {style.bold(count)}", len(value) + 1 + len(count)) for value, count in entries]
    if tail:
        pieces.append((tail, len(tail)))
    for i, (text, plain_len) in enumerate(pieces):
        sep = "" if i == 0 else ("  " if tail and i == len(pieces) - 1 else " · ")
        if i and used + len(sep) + plain_len > width:
            lines.append(line)
            line, used, sep = " " * len(label), len(label), ""
        line += sep + text
        used += len(sep) + plain_len
    lines.append(line)
    return "\n".join(lines)


def render_summary(page: ResultPage, style: Style) -> str:
    req = page.request
    shown = len(page.hits)
    if page.total == 0:
        return style.bold("no hits") + style.dim(f" ({page.took_ms:.1f} ms)")
    if page.stories is not None and page.stories != page.total:
        noun = "story" if page.stories == 1 else "stories"
        articles = "article" if page.total == 1 else "articles"
        first, last = req.offset + 1, req.offset + shown
        span = f"showing {first}–{last}" if shown else f"none on this page (offset {req.offset})"
        return (f"{style.bold(str(page.stories))} {noun} ({page.total} {articles}) · {span} · "
                f"{page.took_ms:.1f} ms")
    first = req.offset + 1
    last = req.offset + shown
    noun = "hit" if page.total == 1 else "hits"
    span = f"showing {first}–{last}" if shown else f"none on this page (offset {req.offset})"
    return f"{style.bold(str(page.total))} {noun} · {span} · {page.took_ms:.1f} ms"


def render_notices(page: ResultPage, style: Style) -> list[str]:
    """How the query was read, one line each: corrections, relaxation, a
    suggestion for a query that found nothing, syntax read as words."""
    lines = []
    for c in page.corrections:
        lines.append(style.dim("showing results for ") + escape_control(" or ".join(c.used))
                     + style.dim(f" (no match for {escape_control(c.word)})"))
    relaxed = page.relaxed
    if relaxed is not None and relaxed.dropped:
        lines.append(style.dim(f"no article has every word; showing articles with {relaxed.required} "
                               f"of {relaxed.of} (dropped: {escape_control(', '.join(relaxed.dropped))})"))
    elif relaxed is not None and page.total:
        lines.append(style.dim(f"a long query: showing articles with at least {relaxed.required} "
                               f"of its {relaxed.of} words, the most matched first"))
    if page.did_you_mean:
        lines.append(style.dim("did you mean: ") + style.bold(escape_control(page.did_you_mean)))
    if page.note:
        lines.append(style.dim(escape_control(page.note)))
    return lines


def render_text(page: ResultPage, style: Style, width: int = 100) -> str:
    """A whole result page for a person."""
    blocks = [render_hit_text(h, style, width) for h in page.hits]
    notices = render_notices(page, style)
    if page.source is not None:
        notices.insert(0, style.dim("similar to: ") + style.bold(escape_control(page.source_title
                                                                                 or page.source)))
    if notices:
        blocks.insert(0, "\n".join(notices))
    out = "\n\n".join(blocks)
    footer = [render_summary(page, style)]
    footer += [render_facet_text(f, style, width) for f in page.facets.values()]
    return (out + "\n\n" if out else "") + "\n".join(footer)


def render_stats_text(stats: IndexStats) -> str:
    rows = [
        ("documents", f"{stats.documents:,}"),
        ("providers", f"{stats.providers:,}"),
        ("topics", f"{stats.topics:,}"),
        ("published", f"{_date(stats.first_published)} … {_date(stats.last_published)}"),
        ("index size", _size(stats.size_bytes) + f" in {stats.segments} segment(s)"),
        ("index", stats.index_dir),
        ("last indexed", stats.last_indexed or "unknown"),
        ("from", ", ".join(stats.roots) or "unknown"),
    ]
    if stats.incomplete:
        rows.append(("status", stats.incomplete))
    return "\n".join(f"{k:>13}  {escape_control(v)}" for k, v in rows)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


# ----------------------------------------------------------------- check

#: findings of one kind listed in text output before "... and N more"
CHECK_LINES = 20


def check_dict(report: CheckReport) -> dict[str, Any]:
    """The JSON object for a `search check` report."""
    return {
        "index": report.index_dir,
        "status": ("unusable" if report.unusable else "damaged" if report.of_kind("damaged")
                   else "outdated" if report.of_kind("outdated") else "ok"),
        "segments": report.segments,
        "documents": report.documents,
        "sidecars_verified": report.sidecars,
        "corpus_files_checked": report.corpus_files,
        "findings": [{"path": f.path, "kind": f.kind, "problem": f.problem,
                      "repairable": f.repairable} for f in report.findings],
        "remedy": report.remedy,
    }


def render_check_text(report: CheckReport) -> str:
    """A `search check` report for a person: one line per finding (long
    lists cut), then a verdict with the remedy."""
    lines: list[str] = []
    for kind in ("damaged", "outdated", "note"):
        found = report.of_kind(kind)
        for f in found[:CHECK_LINES]:
            lines.append(f"{kind}: {escape_control(f.path)}: {escape_control(f.problem)}")
        if len(found) > CHECK_LINES:
            lines.append(f"{kind}: ... and {len(found) - CHECK_LINES} more")
    where = escape_control(report.index_dir)
    if report.unusable:
        lines.append(f"{where}: index unusable; {report.remedy}")
    elif report.remedy:
        problems = len(report.of_kind("damaged")) + len(report.of_kind("outdated"))
        state = "damaged" if report.of_kind("damaged") else "out of date"
        lines.append(f"{where}: index {state} ({problems} problem{'s' if problems != 1 else ''}); "
                     f"{report.remedy}")
    else:
        corpus = (f", {report.corpus_files} corpus files match" if report.corpus_files is not None
                  else "")
        lines.append(f"{where}: index ok: {report.segments} segment(s) and {report.sidecars} posting "
                     f"sidecar(s) verified, {report.documents} documents{corpus}")
    return "\n".join(lines)
