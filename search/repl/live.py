"""Results while typing: the top hits of the line being typed, under the prompt.

`LiveSearch` runs the searches on one background thread so typing never
waits for them: each keystroke hands it the new line (`submit`), the thread
takes only the newest line when it is free, and a result for a line that
has changed since is dropped (latest wins). `live_lines` draws a result as
one line per hit plus a summary line; it is a pure function, so the
benchmark can compute what the screen should show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import SearchError
from ..output import Style, escape_control
from ..searcher import ResultPage
from .layout import hit_line, truncate

#: the summary line's hint
PICK_HINT = "↓ pick · Enter: all results"


@dataclass(frozen=True)
class LiveResult:
    """What the live list shows for one typed line."""

    text: str
    page: ResultPage | None  # None: nothing to search for this line
    error: str = ""


class LiveSearch:
    """One background thread answering the latest typed line.

    `search(text)` runs on that thread; `on_result()` is called there after
    a result is stored in `result` (the UI redraws). Results of lines that
    were replaced while they ran are never stored.
    """

    def __init__(self, search: Callable[[str], ResultPage | None], on_result: Callable[[], None]) -> None:
        self._search = search
        self._on_result = on_result
        self._cond = threading.Condition()
        self._wanted: str | None = None
        self._seq = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self.result: LiveResult | None = None

    def submit(self, text: str) -> None:
        """Search for `text` as soon as the thread is free (never blocks)."""
        with self._cond:
            self._seq += 1
            self._wanted = text
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="search-live", daemon=True)
                self._thread.start()
            self._cond.notify()

    def clear(self) -> None:
        """Drop the shown result and any search in flight."""
        with self._cond:
            self._seq += 1
            self._wanted = None
            self.result = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._wanted is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                text, seq = self._wanted, self._seq
                self._wanted = None
            assert text is not None
            try:
                result = LiveResult(text, self._search(text))
            except SearchError as exc:
                result = LiveResult(text, None, " ".join(str(exc).split()))
            except Exception as exc:  # noqa: BLE001 - a typed line must never kill the thread
                result = LiveResult(text, None, f"{type(exc).__name__}: {' '.join(str(exc).split())}")
            with self._cond:
                if seq != self._seq:
                    continue  # the line changed while this ran: a newer one is waiting
                self.result = result
            self._on_result()


def live_rows(rows: int) -> int:
    """Hits the live list shows on a terminal `rows` high."""
    return max(3, min(8, (rows - 5) // 2))


def live_lines(result: LiveResult | None, selected: int | None, style: Style, width: int,
               count: int, note: str = "") -> list[str]:
    """The live list: one line per hit (the selected one marked and shown
    in reverse), then a summary line (or `note`, a message for a key)."""
    lines: list[str] = []
    page = result.page if result is not None else None
    if page is not None:
        for i, hit in enumerate(page.hits[:count]):
            if i == selected:
                plain = hit_line(hit, Style(False), width - 1)
                lines.append("›" + (f"\x1b[7m{plain}\x1b[0m" if style.enabled else plain))
            else:
                lines.append(" " + hit_line(hit, style, width - 1))
    if note:
        lines.append(style.dim(escape_control(truncate(" " + " ".join(note.split()), width))))
    elif result is not None and result.error:
        lines.append(style.error(escape_control(truncate(" " + result.error, width))))
    elif page is not None:
        query = page.request.query + ("*" if page.request.prefix_last else "")
        total = page.total
        head = f" {total:,} hit{'s' * (total != 1)} for {query}" if total else f" no hits for {query}"
        hint = f" · {PICK_HINT}" if total else ""
        lines.append(style.dim(escape_control(truncate(head, width - len(hint)) + hint)))
    return lines
