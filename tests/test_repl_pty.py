"""The REPL as a person meets it: `python -m search repl` in a real
pseudo-terminal (stdlib `pty`), typed at, and read back from the screen.

`Terminal.text` is everything written, escape codes removed; where the
layout on screen matters (what is visible now, rows, redraws), the output
is also fed to a terminal emulator (pyte) and read as `Terminal.display`."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

# CSI / OSC sequences and the odd two-byte escapes prompt_toolkit writes
_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


class Terminal:
    """A child process on a pseudo-terminal of a given size."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, rows: int = 30, cols: int = 100):
        # the size is set before the child starts, so it never sees another
        fcntl_size = struct.pack("HHHH", rows, cols, 0, 0)
        pid, fd = pty.fork()
        if pid == 0:  # the child: its controlling terminal is the pty
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, fcntl_size)
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, fcntl_size)
        self.raw = b""
        self.status: int | None = None
        self.screen: Any = None
        self._stream: Any = None
        try:
            import pyte
        except ImportError:
            pass
        else:
            self.screen = pyte.Screen(cols, rows)
            self._stream = pyte.ByteStream(self.screen)

    @property
    def display(self) -> list[str]:
        """The rows on screen now (needs pyte, a test dependency)."""
        if self.screen is None:
            pytest.skip("pyte is not installed (pip install -e '.[test]')")
        return [row.rstrip() for row in self.screen.display]

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        if self.screen is not None:
            self.screen.resize(rows, cols)
        os.kill(self.pid, signal.SIGWINCH)

    @property
    def text(self) -> str:
        return _ESCAPES.sub(b"", self.raw).decode("utf-8", "replace")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child is gone
            data = b""
        if not data:
            raise EOFError
        if self._stream is not None:
            self._stream.feed(data)
        if b"\x1b[6n" in data:  # answer prompt_toolkit's cursor-position request
            if self.screen is not None:
                y, x = self.screen.cursor.y + 1, self.screen.cursor.x + 1
                os.write(self.fd, f"\x1b[{y};{x}R".encode())
            else:
                os.write(self.fd, b"\x1b[1;1R")
        self.raw += data
        return True

    def expect_screen(self, check: Any, timeout: float = 20.0) -> list[str]:
        """Wait until `check(rows)` is true of the screen; returns the rows."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.display
            if check(rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError("the screen never got there; it shows:\n" + "\n".join(rows))
            try:
                self._read(0.05)
            except EOFError as exc:
                raise AssertionError("process ended; screen:\n" + "\n".join(rows)) from exc

    def expect(self, pattern: str, timeout: float = 20.0, since: int = 0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            m = re.compile(pattern).search(self.text, since)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not seen; screen so far:\n{self.text[-3000:]}")
            try:
                self._read(0.1)
            except EOFError as exc:
                raise AssertionError(f"process ended before {pattern!r}:\n{self.text[-3000:]}") from exc

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def alive(self) -> bool:
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.status = os.waitstatus_to_exitcode(status)
        return pid == 0

    def wait(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._read(0.05)
            except EOFError:
                pass
            if not self.alive():
                assert self.status is not None
                return self.status
        self.kill()
        raise AssertionError("the REPL did not exit")

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)
        except (ProcessLookupError, ChildProcessError):
            self.status = -1

    def close(self) -> None:
        if self.status is None and self.alive():
            self.kill()
        os.close(self.fd)

    def prompt_ready(self, since: int) -> int:
        """Wait until the prompt is drawn again after `since` (its bottom
        toolbar is the last thing drawn, once the terminal is in raw mode:
        keys typed earlier would meet the tty's line discipline instead)."""
        m = self.expect(r"docs\W+[\d…]", since=since)
        time.sleep(0.1)
        return m.end()


@pytest.fixture
def term_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "SEARCH_INDEX", "PAGER")}
    env.update(HOME=str(tmp_path / "home"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), TERM="xterm-256color")
    return env


def spawn(args: list[str], env: dict[str, str], cwd: Path) -> Terminal:
    return Terminal([sys.executable, "-m", "search", *args], env, cwd)


def test_repl_session_in_a_real_terminal(built: Path, tmp_path: Path, term_env: dict[str, str]):
    term = spawn(["repl", "--index", str(built)], term_env, tmp_path)
    try:
        term.prompt_ready(0)
        term.send("power apps\r")
        m = term.expect(r"\d+ hits? · showing 1–\d+")
        assert "Power Apps portals FAQs" in term.text[: m.start()]
        m = term.expect(r"provider: Microsoft 2", since=m.end())
        # the next prompt's bottom toolbar
        term.expect(r"filters\W+none\W+sort\W+relevance\W+page\W+1 of 1\W+hits\W+2\W.*docs\W+6",
                    since=m.end())

        pos = term.prompt_ready(m.end())
        term.send("half typed" + "\x03")  # Ctrl-C clears the line...
        pos = term.prompt_ready(pos)
        assert term.alive()  # ...and does not exit
        term.send(":help\r")
        m = term.expect(r":quit +leave the REPL", since=pos)

        term.prompt_ready(m.end())
        term.send("\x04")  # Ctrl-D
        assert term.wait() == 0
    finally:
        term.close()
    assert "Traceback" not in term.text
    history = tmp_path / "state" / "search" / "history"
    assert "+power apps" in history.read_text()
    assert "half typed" not in history.read_text()


def test_bare_search_on_a_terminal_opens_the_repl(built: Path, tmp_path: Path, term_env: dict[str, str]):
    term_env["SEARCH_INDEX"] = str(built)
    term = spawn([], term_env, tmp_path)
    try:
        term.prompt_ready(0)
        term.send(":quit\r")
        assert term.wait() == 0
    finally:
        term.close()


def test_no_index_exits_2_with_a_hint(tmp_path: Path, term_env: dict[str, str]):
    term = spawn(["repl", "--index", str(tmp_path / "none")], term_env, tmp_path)
    try:
        assert term.wait() == 2
    finally:
        term.close()
    assert "search index CORPUS_DIR" in term.text
