"""Text laid out for the terminal: word wrapping, URL breaking, one-line
hits, and which hits a page shows at which detail."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given
from hypothesis import strategies as st

from search.output import Style
from search.repl.layout import (
    LEVELS,
    MIN_HITS,
    URL_MARK,
    display_rows,
    hit_block,
    hit_line,
    page_capacity,
    page_numbers,
    plan_page,
    reserved_rows,
    text_width,
    truncate,
    wrap_text,
    wrap_url,
)
from search.searcher import Hit

PLAIN = Style(False)


def hit(rank: int, title: str, url: str = "", excerpt: str = "", provider: str = "Example News") -> Hit:
    return Hit(rank=rank, score=1.0, path=f"{rank}.md", title=title, excerpt=excerpt, provider=provider,
               topics=("AI",), published=dt.datetime(2021, 8, 27, tzinfo=dt.timezone.utc), url=url,
               quality=None)


# ----------------------------------------------------------------- wrapping


def test_wrap_breaks_between_words_only():
    text = "Microsoft warns Azure customers of critical Cosmos DB vulnerability"
    lines = wrap_text(text, 20)
    assert lines == ["Microsoft warns", "Azure customers of", "critical Cosmos DB", "vulnerability"]
    assert wrap_text("", 10) == []


def test_a_word_longer_than_a_line_is_cut_where_it_must():
    assert wrap_text("a supercalifragilistic word", 8) == ["a", "supercal", "ifragili", "stic", "word"]


def test_wide_characters_count_two_columns_and_controls_their_escape():
    assert text_width("日本語") == 6
    assert text_width("a\x1bb") == 6  # shown as a\x1bb
    assert wrap_text("日本語 日本語", 7) == ["日本語", "日本語"]


words = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
                         min_size=1, max_size=15), max_size=30)


@given(words, st.integers(min_value=2, max_value=60))
def test_wrapping_keeps_every_word_and_fits_the_width(parts: list[str], width: int):
    text = " ".join(parts)
    lines = wrap_text(text, width)
    for line in lines:
        # only a lone character wider than the line may overflow it
        assert text_width(line) <= width or len(line) == 1
    if all(text_width(p) <= width for p in parts):
        assert " ".join(lines).split() == text.split()  # words whole, in order
    assert "".join("".join(lines).split()) == "".join(text.split())  # nothing lost


def test_urls_stay_whole_when_they_fit_and_break_after_separators_with_a_mark():
    url = "https://example.com/news/2021/08/microsoft-warns-azure-customers-of-critical-cosmos-db-flaw"
    assert wrap_url(url, 120) == [url]
    parts = wrap_url(url, 40)
    assert len(parts) > 1
    assert all(p.endswith(URL_MARK) for p in parts[:-1]) and not parts[-1].endswith(URL_MARK)
    assert all(text_width(p) <= 40 for p in parts)
    assert "".join(p.removesuffix(URL_MARK) for p in parts) == url  # nothing lost or added
    assert all(p.removesuffix(URL_MARK)[-1] in "/?&=#-_.,;~+" for p in parts[:-1])


@given(st.text(alphabet="abc/-_?=&.", min_size=1, max_size=300), st.integers(min_value=2, max_value=80))
def test_any_url_breaks_into_lines_that_fit_and_join_back(url: str, width: int):
    parts = wrap_url(url, width)
    assert all(text_width(p) <= width for p in parts)
    assert "".join(p.removesuffix(URL_MARK) for p in parts) == url


def test_truncate_cuts_at_a_word_with_an_ellipsis():
    assert truncate("Bleeping Computer", 30) == "Bleeping Computer"
    assert truncate("Bleeping Computer", 12) == "Bleeping…"
    assert text_width(truncate("x" * 50, 10)) <= 10


# ----------------------------------------------------------------- hits


def test_hit_block_wraps_the_title_and_breaks_the_url_within_the_width():
    title = "Microsoft warns Azure customers of critical Cosmos DB vulnerability affecting thousands"
    url = "https://www.bleepingcomputer.com/news/microsoft/microsoft-warns-azure-customers-of-critical-flaw/"
    lines = hit_block(hit(1, title, url, "Researchers found a flaw. " * 10), PLAIN, 59, LEVELS[0])
    assert all(text_width(line) <= 59 for line in lines)
    assert " ".join(" ".join(lines[:2]).split()).startswith("1. " + title[:40])
    joined = " ".join(line.strip() for line in lines)
    assert all(word in joined.split() for word in title.split())  # no word cut
    url_lines = [line.strip() for line in lines if "bleepingcomputer" in line or line.strip().endswith("/")]
    assert "".join(p.removesuffix(URL_MARK) for p in url_lines).startswith(url[:60])
    assert lines[-1] == ""  # the gap after the hit


def test_less_detail_means_fewer_lines():
    h = hit(1, "A title", "https://example.com/a", "An excerpt that goes on " * 20)
    heights = [len(hit_block(h, PLAIN, 80, level)) for level in LEVELS]
    assert heights == sorted(heights, reverse=True)
    assert heights[-1] == 1  # the title alone


def test_hit_line_is_one_line_with_provider_and_date():
    h = hit(12, "Microsoft warns Azure customers of critical Cosmos DB vulnerability",
            provider="Bleeping Computer")
    wide = hit_line(h, PLAIN, 139)
    assert "\n" not in wide and wide.startswith(" 12. Microsoft warns")
    assert wide.endswith("Bleeping Computer · 2021-08-27")
    narrow = hit_line(h, PLAIN, 59)
    assert text_width(narrow) <= 59 and "…" in narrow and "Bleeping" in narrow
    styled = hit_line(h, Style(True), 139)
    assert re.sub(r"\x1b\[[0-9;]*m", "", styled) == wide


# ----------------------------------------------------------------- pages


def long_hits(n: int) -> list[Hit]:
    return [hit(i, f"Azure Arc update number {i} brings hybrid management to Kubernetes clusters at the edge",
                f"https://azure.example.com/updates/{i}/azure-arc-enabled-kubernetes-hybrid-management",
                "Azure Arc extends the Azure control plane to servers anywhere. " * 4)
            for i in range(1, n + 1)]


def test_small_terminals_give_up_detail_before_hits():
    rows = 15 - reserved_rows(15) - 1  # 60x15, less the summary line
    plan = plan_page(long_hits(page_capacity(15)), PLAIN, 59, rows)
    assert plan.count >= MIN_HITS
    assert plan.detail is not None and plan.detail.excerpt_lines == 0
    assert len(plan.lines) <= rows and all(text_width(line) <= 59 for line in plan.lines)
    titles = [line for line in plan.lines if re.match(r"\s*\d+\. ", line)]
    assert len(titles) == plan.count


def test_large_terminals_keep_full_detail_and_fill_the_page():
    rows = 45 - reserved_rows(45) - 4
    plan = plan_page(long_hits(page_capacity(45)), PLAIN, 139, rows)
    assert plan.detail == LEVELS[0] and plan.count >= MIN_HITS
    assert len(plan.lines) <= rows
    # one more hit would not have fitted
    more = plan_page(long_hits(page_capacity(45)), PLAIN, 139, 10**6)
    assert more.count > plan.count


def test_the_compact_view_is_one_line_per_hit_and_limit_draws_everything():
    plan = plan_page(long_hits(10), PLAIN, 99, 6, compact=True)
    assert plan.count == 6 and len(plan.lines) == 6
    every = plan_page(long_hits(10), PLAIN, 99, 6, everything=True)
    assert every.count == 10


def test_a_tiny_terminal_still_shows_one_hit():
    plan = plan_page(long_hits(5), PLAIN, 40, 1)
    assert plan.count == 1


def test_page_numbers_count_the_pages_left_at_this_pages_size():
    assert page_numbers(1, 0, 6, 20) == (1, 4)
    assert page_numbers(2, 6, 3, 20) == (2, 6)  # 11 hits left at 3 a page: 4 more
    assert page_numbers(3, 17, 3, 20) == (3, 3)


def test_display_rows_count_wrapped_and_styled_lines():
    assert display_rows("\x1b[1mabc\x1b[0m\n" + "x" * 25, 10) == 4
