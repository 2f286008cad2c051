"""The interactive REPL: the prompt_toolkit session around `Controller`.

This module is the only one that knows about the terminal. It reads lines
with a PromptSession (persistent history, auto-suggestion, Ctrl-R search,
completion, highlighting, bottom toolbar, the live list of results while
typing), hands each line to the controller, and prints what `Renderer`
makes of the outcome.

Result pages are printed into the terminal like any output, but a change
to the same query (a filter, the sort, the view, PageDown/PageUp) redraws
the page in place: the cursor goes back up over the previous page and the
command line, and the new page is drawn there. That only happens when the
old page is surely still on screen (nothing else printed since, same
terminal size); otherwise the new page is printed below.

Start-up is kept short on purpose: the index is only checked for existence
before the first prompt; opening it and loading completion values happens
in a background thread once the first prompt has been drawn.

Without a terminal on stdin (`search repl < lines.txt`) the same controller
runs line by line with no prompt: results on stdout, errors on stderr, and
the exit status says whether any line failed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import ExitCode, SearchError
from ..output import Style, color_enabled, escape_control
from .articles import default_opener
from .commands import resolve_command
from .controller import Controller
from .layout import display_rows, menu_rows, page_capacity
from .live import LiveSearch, live_lines, live_rows
from .outcomes import ConfirmOutcome, Message, Outcome, QuitOutcome, SearchOutcome
from .render import Renderer
from .saved import SavedSearches

if TYPE_CHECKING:
    from ..config import Settings
    from ..env import Env

PROMPT = "search> "
BANNER = "search on {index} · type a query · :help lists the commands · Ctrl-D quits"
NO_INDEX = ("search: no index at {index}\n"
            "build one with:  search index CORPUS_DIR --index {index}\n"
            "(or point --index / SEARCH_INDEX at an existing index)\n")
#: error kinds after which a script run stops: the index cannot be used
FATAL_KINDS = frozenset({"index_not_found", "index_corrupt", "index_incompatible"})


def check_index(index_dir: Path) -> str | None:
    """Why the index cannot be used, or None.

    Cheap on purpose (no Whoosh import, no index file opened): it runs before
    the first prompt. The metadata file is written when an index is created,
    so its absence means there is no index of ours; anything subtler (a
    damaged segment) is reported by the first query.
    """
    from ..schema import SCHEMA_VERSION
    from ..store import META_FILENAME, read_meta

    where = escape_control(str(index_dir))
    try:
        has_files = index_dir.is_dir() and any(index_dir.iterdir())
    except OSError:
        has_files = False
    if not (index_dir / META_FILENAME).is_file() and not has_files:
        return NO_INDEX.format(index=where)
    meta = read_meta(index_dir)
    if meta is None or meta.schema_version != SCHEMA_VERSION:
        return (f"search: {where}: the index was built by another version of search "
                "(or is not an index); rebuild it with `search index --full CORPUS_DIR`\n")
    return None


def run_repl(settings: Settings, env: Env, *, input: Any = None, output: Any = None,
             opener: Callable[[str], bool] = default_opener) -> int:
    """Run the REPL until Ctrl-D or :quit; returns the exit status.

    `input`/`output` are prompt_toolkit Input/Output objects (tests pass a
    pipe input and a DummyOutput); by default the process's terminal.
    """
    problem = check_index(settings.index_dir)
    if problem:
        env.stderr.write(problem)
        return int(ExitCode.ERROR)
    if input is None and not env.isatty(env.stdin):
        return run_lines(settings, env, opener)
    return Repl(settings, env, input=input, output=output, opener=opener).run()


def run_lines(settings: Settings, env: Env, opener: Callable[[str], bool] = default_opener) -> int:
    """The REPL without a terminal: one line of stdin at a time, no prompt.
    Results go to stdout and errors to stderr; the status is 0 when every
    line worked, 1 when any failed, 2 when the index cannot be used."""
    style = Style(color_enabled(settings.color, env.isatty(env.stdout), env.environ))
    renderer = Renderer(style, lambda: (env.width() + 1, 10**6), wrap=False)
    controller = Controller(settings.index_dir, page_size=lambda: 10, opener=opener,
                            saved=SavedSearches(settings.saved_file))
    controller.state.live = False
    failed = False
    for line in env.stdin:
        try:
            outcome = controller.handle(line)
        except Exception as exc:  # noqa: BLE001 - one bad line must not end the run
            outcome = Message(f"internal error: {type(exc).__name__}: {exc}", error=True)
        if isinstance(outcome, QuitOutcome):
            break
        rendered = renderer.render(outcome)
        if rendered.shown is not None:
            controller.note_shown(rendered.shown)
        if rendered.error:
            failed = True
            env.stderr.write(rendered.text + "\n")
            env.stderr.flush()
            if isinstance(outcome, Message) and outcome.kind in FATAL_KINDS:
                return int(ExitCode.ERROR)
        elif rendered.text:
            env.stdout.write(rendered.text + "\n")
            env.stdout.flush()
    return int(ExitCode.NO_HITS if failed else ExitCode.OK)


@dataclass(frozen=True)
class Area:
    """The result page last printed: how many rows it took, and the
    terminal size then (a resize reflows it, so it cannot be redrawn)."""

    rows: int
    size: tuple[int, int]


class Repl:
    """One interactive session."""

    def __init__(self, settings: Settings, env: Env, *, input: Any = None, output: Any = None,
                 opener: Callable[[str], bool] = default_opener) -> None:
        self.settings = settings
        self.env = env
        self.out: IO[str] = env.stdout
        self.color = color_enabled(settings.color, env.isatty(env.stdout), env.environ)
        self.style = Style(self.color)
        self.controller = Controller(settings.index_dir, page_size=self._page_size, opener=opener,
                                     saved=SavedSearches(settings.saved_file))
        self._input, self._output = input, output
        self.session = self._make_session(input, output)
        self.renderer = Renderer(self.style, self._terminal_size)
        self.live = LiveSearch(self._live_search, self._invalidate)
        self.selected: int | None = None
        self.note = ""  # a message for a key (PageDown on the last page…), shown under the prompt
        self._pick: tuple[Any, int] | None = None
        self.area: Area | None = None
        self._live_cache: tuple[Any, list[str], Any] | None = None
        self._warmed = False
        self._warm_thread: threading.Thread | None = None
        self.session.default_buffer.on_text_changed += self._text_changed
        from .keys import install_live_area

        self.has_live_area = install_live_area(self.session, self)

    # -- terminal facts

    def _terminal_size(self) -> tuple[int, int]:
        size = self.session.app.output.get_size()
        return size.columns, size.rows

    def _page_size(self) -> int:
        return page_capacity(self._terminal_size()[1], compact=self.controller.state.view == "compact")

    def _invalidate(self) -> None:
        try:
            self.session.app.invalidate()
        except Exception:  # noqa: BLE001 - the prompt may be gone already
            pass

    # -- the prompt

    def _make_session(self, input: Any, output: Any) -> Any:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.filters import Condition
        from prompt_toolkit.output import ColorDepth
        from prompt_toolkit.styles import Style as PTStyle

        from .completion import ReplCompleter
        from .keys import key_bindings
        from .lexer import STYLE_RULES, make_lexer

        rules = dict(STYLE_RULES)
        rules.update({
            "prompt": "ansicyan bold",
            "bottom-toolbar": "reverse",
            "bottom-toolbar.key": "bold",
        })
        completer = ReplCompleter(lambda name: self.controller.values(name), self.controller.saved_names)
        session: Any = None
        # the menu pops up by itself on command lines only: on a query line
        # the live list is under the prompt, and Tab completes
        on_command = Condition(lambda: session is not None
                               and session.default_buffer.text.lstrip().startswith(":"))
        session = PromptSession(
            message=[("class:prompt", PROMPT)],
            history=self._history(),
            auto_suggest=AutoSuggestFromHistory(),
            completer=completer,
            complete_while_typing=on_command,
            reserve_space_for_menu=menu_rows(self._size_of(output)[1]),
            lexer=make_lexer(lambda name: resolve_command(name) is not None),
            style=PTStyle.from_dict(rules),
            include_default_pygments_style=False,
            color_depth=None if self.color else ColorDepth.DEPTH_1_BIT,
            bottom_toolbar=self._toolbar,
            key_bindings=key_bindings(self, completer),
            input=input,
            output=output,
            erase_when_done=False,
        )
        return session

    @staticmethod
    def _size_of(output: Any) -> tuple[int, int]:
        if output is None:
            try:
                size = os.get_terminal_size()
                return size.columns, size.lines
            except OSError:
                return 80, 24
        size = output.get_size()
        return size.columns, size.rows

    def _history(self) -> Any:
        """History in the XDG state folder; in memory when that cannot be written."""
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        path = self.settings.history_file
        if path is None:
            return InMemoryHistory()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.touch(mode=0o600, exist_ok=True)
        except OSError as exc:
            self.env.stderr.write(f"search: history not saved ({escape_control(str(path))}: "
                                  f"{exc.strerror or exc})\n")
            return InMemoryHistory()
        return FileHistory(str(path))

    def _toolbar(self) -> list[tuple[str, str]]:
        """Filters, sort, page x of y, hits, time, documents: cached facts
        only, since this runs on every key press."""
        st = self.controller.status()
        parts = [("filters", escape_control(st.filters) or "none"), ("sort", st.sort)]
        if st.total is not None:
            parts.append(("page", f"{st.page} of {st.pages}" if st.pages else "–"))
            parts.append(("hits", f"{st.total:,}"))
            parts.append(("time", f"{st.took_ms:.1f} ms"))
        parts.append(("docs", f"{st.documents:,}" if st.documents is not None else "…"))
        # whole parts only: on a narrow terminal the least useful go first
        columns = self._terminal_size()[0]
        for drop in ("time", "docs", "hits", "sort"):
            if 9 + sum(len(k) + len(v) + 4 for k, v in parts) <= columns:
                break
            parts = [p for p in parts if p[0] != drop]
        fragments: list[tuple[str, str]] = [("class:bottom-toolbar", " ")]
        for i, (key, value) in enumerate(parts):
            if i:
                fragments.append(("class:bottom-toolbar", " │ "))
            fragments.append(("class:bottom-toolbar.key", key + " "))
            fragments.append(("class:bottom-toolbar", value))
        fragments.append(("class:bottom-toolbar", "  :help "))
        return fragments

    def _start_warm_up(self, _app: Any = None) -> None:
        # after the first prompt is on screen, not before: the warm-up
        # holds the GIL for a while and would delay the first draw
        if self._warmed:
            return
        self._warmed = True

        def warm() -> None:
            self.controller.warm_up()
            self._invalidate()  # refresh the toolbar's document count

        self._warm_thread = threading.Thread(target=warm, name="search-warm-up", daemon=True)
        self._warm_thread.start()

    # -- the live list (see keys.ReplUI)

    def _live_search(self, text: str) -> Any:
        return self.controller.live(text, live_rows(self._terminal_size()[1]))

    def _text_changed(self, buffer: Any) -> None:
        self.selected = None
        self.note = ""
        if self.controller.state.live and self.has_live_area:
            from .controller import live_query

            if live_query(buffer.text) is not None:
                self.live.submit(buffer.text)
                return
        self.live.clear()

    def _live_page(self) -> Any:
        result = self.live.result
        return result.page if result is not None else None

    def live_count(self) -> int:
        page = self._live_page()
        return min(len(page.hits), live_rows(self._terminal_size()[1])) if page is not None else 0

    def _live_drawn(self) -> tuple[list[str], Any]:
        """The live list's lines and their prompt_toolkit fragments; asked
        for several times per redraw (heights, filters, content), so they
        are kept until the result, selection, note or size changes."""
        from prompt_toolkit.formatted_text import ANSI, to_formatted_text

        columns, rows = self._terminal_size()
        key = (self.live.result, self.selected, self.note, columns, rows)
        if self._live_cache is None or self._live_cache[0] != key:
            lines = live_lines(self.live.result, self.selected, self.style, min(columns - 1, 160),
                               live_rows(rows), self.note)
            self._live_cache = (key, lines, to_formatted_text(ANSI("\n".join(lines))))
        return self._live_cache[1], self._live_cache[2]

    def live_height(self) -> int:
        return len(self._live_drawn()[0])

    def live_fragments(self) -> Any:
        return self._live_drawn()[1]

    def move_selection(self, step: int) -> None:
        count = self.live_count()
        if self.selected is None:
            self.selected = 0 if step > 0 else None
        else:
            moved = self.selected + step
            self.selected = None if moved < 0 else min(moved, count - 1)

    def pick_selected(self, buffer: Any) -> None:
        page = self._live_page()
        if page is not None and self.selected is not None and self.selected < len(page.hits):
            self._pick = (page, page.hits[self.selected].rank)
        buffer.validate_and_handle()

    def page_key(self, command: str) -> None:
        """PageDown/PageUp: the next/previous page, drawn over the current one."""
        from prompt_toolkit.application import run_in_terminal

        if self.controller.state.last is None:
            self.note = "no results to page through yet: type a query and press Enter"
            self._invalidate()
            return
        outcome = self.controller.handle(":" + command)
        if isinstance(outcome, Message):
            self.note = outcome.text
            self._invalidate()
            return
        self.note = ""
        run_in_terminal(lambda: self.show(outcome, None))

    # -- the loop

    def write(self, text: str) -> None:
        if text:
            self.out.write(text + "\n")
            self.out.flush()

    def run(self) -> int:
        from ..store import incomplete_notice, read_meta
        from .layout import wrap_text

        width = max(20, self._terminal_size()[0] - 1)
        index = escape_control(str(self.settings.index_dir))
        banner = wrap_text(BANNER.format(index=index), width)
        self.write("\n".join(self.style.dim(line) for line in banner))
        notice = incomplete_notice(read_meta(self.settings.index_dir))
        if notice:
            self.write("\n".join(self.style.error(line) for line in wrap_text(escape_control(notice), width)))
        self.session.app.after_render += self._start_warm_up
        try:
            while True:
                self.session.reserve_space_for_menu = menu_rows(self._terminal_size()[1])
                # a new, empty line: nothing of the last one's live list is left
                self.live.clear()
                self.selected, self.note = None, ""
                try:
                    line = self.session.prompt()
                except KeyboardInterrupt:
                    continue  # Ctrl-C clears the line and never exits
                except EOFError:
                    break  # Ctrl-D
                if self.step(line):
                    break
        finally:
            self.live.close()
            if self._warm_thread is not None:
                self._warm_thread.join(timeout=5)
        return int(ExitCode.OK)

    def step(self, line: str) -> bool:
        """Run one line; True when the session should end. Never raises
        (but for SystemExit): any failure is one line on the screen."""
        pick, self._pick = self._pick, None
        try:
            outcome = self.controller.pick(*pick) if pick else self.controller.handle(line)
            if isinstance(outcome, QuitOutcome):
                return True
            if isinstance(outcome, ConfirmOutcome):
                outcome = self.confirm(outcome)
            self.show(outcome, line)
        except KeyboardInterrupt:
            self.area = None
            self.write(self.style.dim("cancelled"))
        except SearchError as exc:
            self.area = None
            self.write(self.style.error("error: ") + escape_control(" ".join(str(exc).split())))
        except Exception as exc:  # noqa: BLE001 - the session must survive anything
            self.area = None
            self.write(self.style.error("internal error: ")
                       + escape_control(f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
        return False

    def confirm(self, outcome: ConfirmOutcome) -> Outcome:
        """Ask the question at the terminal (default no)."""
        from prompt_toolkit import PromptSession

        asker: Any = PromptSession(input=self._input, output=self._output)
        try:
            answer = asker.prompt(f"{outcome.question} [y/N] ")
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer.strip().lower() in ("y", "yes"):
            return self.controller.handle(outcome.yes_line)
        return Message(outcome.refusal)

    def show(self, outcome: Outcome, submitted: str | None) -> None:
        """Print an outcome. A refined result page replaces the page above
        it when that is surely still on screen; `submitted` is the line the
        user entered (its echo sits between that page and the cursor), None
        for a key, which leaves no echo."""
        rendered = self.renderer.render(outcome)
        if rendered.shown is not None:
            self.controller.note_shown(rendered.shown)
        if rendered.page:
            self.area = None
            self.page(rendered.text)
            return
        columns, rows = size = self._terminal_size()
        text_rows = display_rows(rendered.text, columns) if rendered.text else 0
        if isinstance(outcome, SearchOutcome) and outcome.refine and self.area is not None \
                and self.area.size == size and self.env.isatty(self.out):
            echo = display_rows(PROMPT + submitted, columns) if submitted is not None else 0
            back = self.area.rows + echo
            if back < rows:  # else the page's top has scrolled off: print below
                # cursor up `back` rows to the first column, erase to the end of the screen
                self.out.write(f"\x1b[{back}F\x1b[J")
        self.write(rendered.text)
        self.area = Area(text_rows, size) if isinstance(outcome, SearchOutcome) else None

    def page(self, text: str) -> None:
        """Show long text through $PAGER (default `less -R`) on a terminal."""
        if not self.env.isatty(self.out):
            self.write(text)
            return
        command = self.env.environ.get("PAGER") or "less"
        try:
            argv = shlex.split(command)
        except ValueError:
            argv = ["less"]
        if not argv or shutil.which(argv[0]) is None:
            self.write(text)
            return
        if os.path.basename(argv[0]) == "less" and len(argv) == 1:
            argv += ["-R", "-X", "-F"]  # keep colours; leave the article on screen
        # the pager owns Ctrl-C while it runs (as in git); the REPL ignores it
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.out.flush()
            # the text ends with a newline, so the next prompt starts on its own line
            subprocess.run(argv, input=(text + "\n").encode("utf-8", "replace"), check=False)
        except OSError:
            self.write(text)
        finally:
            signal.signal(signal.SIGINT, previous)


__all__ = ["Repl", "check_index", "run_lines", "run_repl"]
