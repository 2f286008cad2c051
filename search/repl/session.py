"""The interactive REPL: the prompt_toolkit session around `Controller`.

This module is the only one that knows about the terminal. It reads lines
with a PromptSession (persistent history, auto-suggestion, Ctrl-R search,
completion, highlighting, bottom toolbar), hands each line to the
controller, and prints what `Renderer` makes of the outcome.

Start-up is kept short on purpose: the index is only checked for existence
before the first prompt; opening it and loading completion values happens
in a background thread once the first prompt has been drawn.

Without a terminal on stdin (`search repl < lines.txt`) the same controller
runs line by line with no prompt, so the REPL is scriptable too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import ExitCode, SearchError
from ..output import Style, color_enabled, escape_control
from .controller import Controller, QuitOutcome, default_opener, resolve_command
from .render import MENU_ROWS, Renderer, hits_that_fit

if TYPE_CHECKING:
    from ..config import Settings
    from ..env import Env

PROMPT = "search> "
BANNER = "search on {index} · type a query · :help lists the commands · Ctrl-D quits"
NO_INDEX = ("search: no index at {index}\n"
            "build one with:  search index CORPUS_DIR --index {index}\n"
            "(or point --index / SEARCH_INDEX at an existing index)\n")


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
    """The REPL without a terminal: one line of stdin at a time, no prompt."""
    style = Style(color_enabled(settings.color, env.isatty(env.stdout), env.environ))
    renderer = Renderer(style, lambda: (env.width() + 1, 10**6))
    controller = Controller(settings.index_dir, page_size=lambda: 10, opener=opener)
    for line in env.stdin:
        outcome = controller.handle(line)
        if isinstance(outcome, QuitOutcome):
            break
        text = renderer.render(outcome).text
        if text:
            env.stdout.write(text + "\n")
            env.stdout.flush()
    return int(ExitCode.OK)


class Repl:
    """One interactive session."""

    def __init__(self, settings: Settings, env: Env, *, input: Any = None, output: Any = None,
                 opener: Callable[[str], bool] = default_opener) -> None:
        self.settings = settings
        self.env = env
        self.out: IO[str] = env.stdout
        self.color = color_enabled(settings.color, env.isatty(env.stdout), env.environ)
        self.style = Style(self.color)
        self.session = self._make_session(input, output)
        self.controller = Controller(settings.index_dir, page_size=self._page_size, opener=opener)
        self.renderer = Renderer(self.style, self._terminal_size)
        self._warmed = False
        self._warm_thread: threading.Thread | None = None

    # -- terminal facts

    def _terminal_size(self) -> tuple[int, int]:
        size = self.session.app.output.get_size()
        return size.columns, size.rows

    def _page_size(self) -> int:
        return hits_that_fit(self._terminal_size()[1])

    # -- the prompt

    def _make_session(self, input: Any, output: Any) -> Any:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.output import ColorDepth
        from prompt_toolkit.styles import Style as PTStyle

        from .completion import ReplCompleter
        from .lexer import STYLE_RULES, make_lexer

        rules = dict(STYLE_RULES)
        rules.update({
            "prompt": "ansicyan bold",
            "bottom-toolbar": "reverse",
            "bottom-toolbar.key": "bold",
        })
        return PromptSession(
            message=[("class:prompt", PROMPT)],
            history=self._history(),
            auto_suggest=AutoSuggestFromHistory(),
            completer=ReplCompleter(lambda name: self.controller.values(name)),
            complete_while_typing=True,
            reserve_space_for_menu=MENU_ROWS,
            lexer=make_lexer(lambda name: resolve_command(name) is not None),
            style=PTStyle.from_dict(rules),
            include_default_pygments_style=False,
            color_depth=None if self.color else ColorDepth.DEPTH_1_BIT,
            bottom_toolbar=self._toolbar,
            input=input,
            output=output,
            erase_when_done=False,
        )

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
            try:
                self.session.app.invalidate()  # refresh the toolbar's document count
            except Exception:  # noqa: BLE001 - the prompt may be gone already
                pass

        self._warm_thread = threading.Thread(target=warm, name="search-warm-up", daemon=True)
        self._warm_thread.start()

    # -- the loop

    def write(self, text: str) -> None:
        if text:
            self.out.write(text + "\n")
            self.out.flush()

    def run(self) -> int:
        index = escape_control(str(self.settings.index_dir))
        self.write(self.style.dim(BANNER.format(index=index)))
        self.session.app.after_render += self._start_warm_up
        while True:
            try:
                line = self.session.prompt()
            except KeyboardInterrupt:
                continue  # Ctrl-C clears the line and never exits
            except EOFError:
                break  # Ctrl-D
            if self.step(line):
                break
        if self._warm_thread is not None:
            self._warm_thread.join(timeout=5)
        return int(ExitCode.OK)

    def step(self, line: str) -> bool:
        """Run one line; True when the session should end. Never raises
        (but for SystemExit): any failure is one line on the screen."""
        try:
            outcome = self.controller.handle(line)
            if isinstance(outcome, QuitOutcome):
                return True
            rendered = self.renderer.render(outcome)
            if rendered.page:
                self.page(rendered.text)
            else:
                self.write(rendered.text)
        except KeyboardInterrupt:
            self.write(self.style.dim("cancelled"))
        except SearchError as exc:
            self.write(self.style.error("error: ") + escape_control(" ".join(str(exc).split())))
        except Exception as exc:  # noqa: BLE001 - the session must survive anything
            self.write(self.style.error("internal error: ")
                       + escape_control(f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
        return False

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
            subprocess.run(argv, input=text.encode("utf-8", "replace"), check=False)
        except OSError:
            self.write(text)
        finally:
            signal.signal(signal.SIGINT, previous)


__all__ = ["Repl", "check_index", "run_lines", "run_repl"]
