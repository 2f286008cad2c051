"""How fast the interactive REPL feels: first prompt, per query, per keystroke.

The REPL runs as a person runs it, `python -m search repl --index DIR` in a
pseudo-terminal (stdlib `pty`, 140x45), and the clock is read off the
screen:

* first prompt: from spawning the process until the prompt's bottom
  toolbar is drawn (the prompt is usable), and until the toolbar shows the
  document count (the index was opened and completion values loaded by the
  background warm-up);
* per query: from writing `QUERY<Enter>` until the next prompt is drawn
  after the results, i.e. what a person waits for: search, facets, "did you
  mean", rendering and the prompt redraw.

* per keystroke (results while typing): queries are typed one character
  at a time, and the clock runs from writing a character until the live
  list under the prompt shows the hits for the line typed so far. The
  screen is read through a terminal emulator (pyte); what it should show
  is computed in-process with the REPL's own functions, so a keystroke is
  timed only when the list must change (when the next line's hits equal
  the last line's, nothing on screen tells the new result from the old;
  those are counted, not timed).

The same lines and keystrokes are also run in-process through the
controller and the renderer (no terminal), to show how much of the wait is
the search itself.

Usage::

    python bench/repl_latency.py                       # shared sample + 20,000 articles
    python bench/repl_latency.py --sizes sample        # the shared sample only
    python bench/repl_latency.py --sizes sample,20000 --passes 3 --starts 5 --json out.json
    python bench/repl_latency.py --sizes 20000 --only typing    # results while typing only

The 20,000-article corpus is made by bench/gen_corpus.py (seed 1) under
--work (default /tmp/repl-bench), never inside the repository; corpora and
indexes already there are reused.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "corpus"
ROWS, COLS = 45, 140

#: the fixed query list: (kind, line); run in this order, several passes
QUERIES: list[tuple[str, str]] = [
    ("headline", "Ukraine uses facial recognition to identify dead Russian soldiers"),
    ("headline", "Microsoft to Rebrand Power Apps Portals As Power Pages"),
    ("headline", "Top 25 AI Startups Who Raised The Most Money In 2019"),
    ("words", "power apps portals"),
    ("words", "machine learning"),
    ("words", "robots"),
    ("words", "computer vision market"),
    ("phrase", '"artificial intelligence"'),
    ("phrase", '"power apps"'),
    ("boolean", "ai AND robots NOT market"),
    ("boolean", "(chips OR hardware) AND nvidia"),
    ("field", 'provider:"Microsoft" apps'),
    ("field", "topic:AI robots"),
    ("field", "published:[2022-01-01 TO 2022-12-31] apps"),
    ("wildcard", "robot*"),
    ("typo", "facal recogniton"),
    ("typo", "machne lerning"),
    ("all", "*"),
    ("command", ":sort newest"),
    ("command", ":next"),
    ("command", ":facets topic"),
    ("command", ":provider Microsoft"),
    ("command", ":clear"),
    ("command", ":sort relevance"),
    ("command", ":facets provider"),
]

#: typed one character at a time for the results-while-typing measure
TYPED: list[str] = [
    "power apps portals",
    "machine learning",
    "facial recognition",
    "computer vision market",
    "robots",
    "microsoft to rebrand power apps portals",
    "ai startups raised money",
    "cosmos db vulnerability",
]

_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_TOOLBAR = re.compile(r"docs\W+([\d,]+|…)")


# ----------------------------------------------------------------- corpora


def prepare(size: str, work: Path) -> tuple[str, Path, int]:
    """(label, index folder, documents) for `sample` or a generated size."""
    search = [sys.executable, "-m", "search"]
    if size == "sample":
        corpus, label = SAMPLE, "shared sample"
    else:
        n = int(size)
        corpus, label = work / f"corpus-{n}", f"{n:,} articles"
        if not (corpus / ".bench-manifest.json").is_file():
            subprocess.run([sys.executable, str(ROOT / "bench" / "gen_corpus.py"), "--n", str(n),
                            "--seed", "1", "--out", str(corpus)], check=True)
    index = work / f"index-{size}"
    build = [*search, "index", str(corpus), "--index", str(index), "--quiet"]
    if subprocess.run(build, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        # an index left by an older version: rebuild it from scratch
        subprocess.run([*build, "--full"], check=True, stdout=subprocess.DEVNULL)
    stats = json.loads(subprocess.run([*search, "stats", "--index", str(index), "--format", "json"],
                                      check=True, capture_output=True, text=True).stdout)
    return label, index, int(stats["documents"])


# ----------------------------------------------------------------- the terminal


#: the floor for the first prompt: a bare prompt_toolkit prompt with a toolbar
BASELINE = ("from prompt_toolkit import PromptSession\n"
            "s = PromptSession(bottom_toolbar=' docs 0  :help')\n"
            "while True:\n"
            "    try:\n"
            "        s.prompt('search> ')\n"
            "    except EOFError:\n"
            "        break\n")


class Terminal:
    """`python -m search repl` on a pseudo-terminal, read as a screen."""

    def __init__(self, index: Path | None, env: dict[str, str]) -> None:
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:
            try:
                argv = ([sys.executable, "-m", "search", "repl", "--index", str(index)] if index
                        else [sys.executable, "-c", BASELINE])
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        import fcntl
        import termios

        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.pid, self.fd = pid, fd
        self.raw = b""
        self._clean = ""
        self._clean_upto = 0
        self.screen: Any = None
        self.stream: Any = None

    @property
    def text(self) -> str:
        if self._clean_upto != len(self.raw):
            self._clean = _ESCAPES.sub(b"", self.raw).decode("utf-8", "replace")
            self._clean_upto = len(self.raw)
        return self._clean

    def pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            data = os.read(self.fd, 1 << 16)
            if not data:
                raise EOFError("the REPL exited")
            if self.stream is not None:
                self.stream.feed(data)
            if b"\x1b[6n" in data:  # cursor position request: answer as a terminal would
                row = self.screen.cursor.y + 1 if self.screen is not None else ROWS
                os.write(self.fd, f"\x1b[{row};1R".encode())
            self.raw += data

    def attach_screen(self) -> None:
        """Read the output through a terminal emulator too (pyte), to see
        what is on the screen now."""
        import pyte

        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.stream.feed(self.raw)

    def wait_for(self, pattern: re.Pattern[str], since: int, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.perf_counter() + timeout
        while True:
            m = pattern.search(self.text, since)
            if m:
                return m
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{pattern.pattern!r} not seen:\n{self.text[-2000:]}")
            self.pump(0.05)

    def prompt_after(self, since: int) -> tuple[float, int]:
        """Time when a freshly drawn prompt (its `search> ` and then its
        toolbar) appeared after text position `since`."""
        m = self.wait_for(re.compile(r"search>"), since)
        m = self.wait_for(_TOOLBAR, m.end())
        return time.perf_counter(), m.end()

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def close(self) -> int:
        self.send("\x04")
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:
            try:
                self.pump(0.05)
            except (EOFError, OSError):
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        return -9


def repl_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "SEARCH_INDEX", "PAGER")}
    env.update(TERM="xterm-256color", XDG_STATE_HOME=str(work / "state"), HOME=str(work / "home"))
    return env


def first_prompt(index: Path, documents: int, env: dict[str, str]) -> tuple[float, float]:
    """(ms to a usable prompt, ms until the toolbar shows the document count)."""
    term = Terminal(index, env)
    try:
        ready, pos = term.prompt_after(0)
        # the toolbar is redrawn by difference: only the count itself is written
        term.wait_for(re.compile(r"\b" + re.escape(f"{documents:,}") + r"\b"), pos - 12)
        warm = time.perf_counter()
    finally:
        term.close()
    return (ready - term.started) * 1000, (warm - term.started) * 1000


def baseline(env: dict[str, str], lines: int = 20) -> tuple[float, list[float]]:
    """The floor: a bare prompt_toolkit prompt loop that does nothing with
    its lines. (ms to first prompt, ms per line from Enter to the next prompt)."""
    term = Terminal(None, env)
    per_line = []
    try:
        ready, _ = term.prompt_after(0)
        for _, line in QUERIES[:lines]:
            time.sleep(0.05)
            since, start = len(term.text), time.perf_counter()
            term.send(line + "\r")
            done, _ = term.prompt_after(since)
            per_line.append((done - start) * 1000)
    finally:
        term.close()
    return (ready - term.started) * 1000, per_line


def session_latency(index: Path, env: dict[str, str], passes: int) -> list[tuple[str, float]]:
    """(kind, ms) for each line of each pass, in one REPL session."""
    term = Terminal(index, env)
    samples: list[tuple[str, float]] = []
    try:
        # let the warm-up finish, as it would while a person types
        _, pos = term.prompt_after(0)
        term.wait_for(re.compile(r"\d+\s+:help"), pos - 12)
        for p in range(passes):
            for i, (kind, line) in enumerate(QUERIES):
                time.sleep(0.05)  # a person never types the next line within 50 ms
                since = len(term.text)
                start = time.perf_counter()
                term.send(line + "\r")
                done, _ = term.prompt_after(since)
                label = "first query" if p == 0 and i == 0 else kind
                samples.append((label, (done - start) * 1000))
    finally:
        status = term.close()
    if status != 0:
        raise SystemExit(f"the REPL exited with {status}")
    if "Traceback" in term.text or "internal error" in term.text:
        raise SystemExit("the REPL printed an error:\n" + term.text[-3000:])
    return samples


def in_process(index: Path, passes: int) -> list[tuple[str, float]]:
    """The same lines through Controller + Renderer, no terminal."""
    sys.path.insert(0, str(ROOT))
    from search.output import Style
    from search.repl.controller import Controller
    from search.repl.layout import page_capacity
    from search.repl.render import Renderer

    controller = Controller(index, page_size=lambda: page_capacity(ROWS))
    renderer = Renderer(Style(True), lambda: (COLS, ROWS))
    samples = []
    for p in range(passes):
        for i, (kind, line) in enumerate(QUERIES):
            start = time.perf_counter()
            renderer.render(controller.handle(line))
            samples.append(("first query" if p == 0 and i == 0 else kind,
                            (time.perf_counter() - start) * 1000))
    return samples


def live_expected(index: Path) -> tuple[Any, Any]:
    """(controller, lines(text)): the live list the REPL should show for a
    typed line, as plain text, computed with the REPL's own functions."""
    sys.path.insert(0, str(ROOT))
    from search.output import Style
    from search.repl.controller import Controller
    from search.repl.live import LiveResult, live_lines, live_rows

    controller = Controller(index)

    def lines(text: str) -> list[str]:
        page = controller.live(text, live_rows(ROWS))
        if page is None:
            return []
        shown = live_lines(LiveResult(text, page), None, Style(False), min(COLS - 1, 160), live_rows(ROWS))
        return [line.rstrip() for line in shown]

    return controller, lines


def typing_in_process(index: Path, passes: int) -> list[float]:
    """ms per keystroke for the live list's search and drawing, no terminal."""
    _, lines = live_expected(index)
    lines("warm up")
    samples = []
    for _ in range(passes):
        for query in TYPED:
            for n in range(1, len(query) + 1):
                start = time.perf_counter()
                lines(query[:n])
                samples.append((time.perf_counter() - start) * 1000)
    return samples


def typing_in_terminal(index: Path, env: dict[str, str], passes: int) -> tuple[list[float], int]:
    """(ms from a keystroke to its live list on screen, for keystrokes that
    change the list; how many keystrokes did not change it)."""
    _, lines = live_expected(index)
    # no history: its grey suggestions would change what the line reads
    state = Path(env["XDG_STATE_HOME"]) / "typing"
    (state / "search" / "history").unlink(missing_ok=True)
    term = Terminal(index, {**env, "XDG_STATE_HOME": str(state)})
    samples: list[float] = []
    unseen = 0
    try:
        _, pos = term.prompt_after(0)
        term.wait_for(re.compile(r"\d+\s+:help"), pos - 12)  # warmed up
        term.attach_screen()
        for _ in range(passes):
            for query in TYPED:
                before: list[str] = []
                for n in range(1, len(query) + 1):
                    want = lines(query[:n])
                    time.sleep(0.05)  # a fast typist: 20 keys a second
                    start = time.perf_counter()
                    term.send(query[n - 1])
                    if want == before or not want:
                        unseen += 1
                        wait_screen(term, [("search> " + query[:n]).rstrip()])
                    else:
                        wait_screen(term, [("search> " + query[:n]).rstrip(), *want])
                        samples.append((time.perf_counter() - start) * 1000)
                    before = want
                term.send("\x15")  # Ctrl-U: an empty line for the next query
                wait_screen(term, ["search>"])
    finally:
        term.close()
    return samples, unseen


def screen_rows(term: Terminal, start: int, count: int) -> list[str]:
    """Rows `start`… of the emulated screen (only those: reading the whole
    screen after every write would slow the clock down)."""
    screen = term.screen
    return ["".join(screen.buffer[y][x].data for x in range(screen.columns)).rstrip()
            for y in range(start, min(start + count, screen.lines))]


def wait_screen(term: Terminal, want: list[str], timeout: float = 30.0) -> None:
    """Wait until the cursor's row and the rows under it read `want` (the
    cursor rests on the input line, the live list is right under it)."""
    deadline = time.perf_counter() + timeout
    while True:
        if screen_rows(term, term.screen.cursor.y, len(want)) == want:
            return
        if time.perf_counter() > deadline:
            rows = screen_rows(term, 0, term.screen.lines)
            raise TimeoutError(f"the screen never showed {want}:\n" + "\n".join(rows))
        term.pump(0.002)


# ----------------------------------------------------------------- report


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(samples: list[tuple[str, float]]) -> dict[str, Any]:
    steady = [ms for kind, ms in samples if kind != "first query"]
    by_kind: dict[str, list[float]] = {}
    for kind, ms in samples:
        by_kind.setdefault(kind, []).append(ms)
    return {
        "first_query_ms": next((ms for kind, ms in samples if kind == "first query"), None),
        "n": len(steady),
        "median_ms": statistics.median(steady),
        "p95_ms": pct(steady, 95),
        "max_ms": max(steady),
        "by_kind_median_ms": {k: statistics.median(v) for k, v in by_kind.items() if k != "first query"},
    }


def typing_report(label: str, index: Path, documents: int, env: dict[str, str],
                  passes: int) -> dict[str, Any]:
    """Measure and print the per-keystroke latency of the live list."""
    keys = sum(len(q) for q in TYPED)
    proc = typing_in_process(index, passes)
    print(f"\n{label} ({documents:,} documents), results while typing, terminal {COLS}x{ROWS}, "
          f"{passes} passes x {len(TYPED)} queries ({keys} keystrokes each pass)")
    print(f"  in-process search + list  median {statistics.median(proc):6.1f} ms  "
          f"p95 {pct(proc, 95):.1f} ms  max {max(proc):.1f} ms  (n={len(proc)}; budget p95 <= 30 ms)")
    result: dict[str, Any] = {"corpus": label, "documents": documents, "typing_in_process_ms": {
        "median": statistics.median(proc), "p95": pct(proc, 95), "max": max(proc), "n": len(proc)}}
    try:
        import pyte  # noqa: F401 - only to say why the terminal measure is skipped
    except ImportError:
        print("  keystroke to screen: skipped (pip install pyte, a test dependency)")
        return result
    seen, unseen = typing_in_terminal(index, env, passes)
    print(f"  keystroke -> list on screen  median {statistics.median(seen):6.1f} ms  "
          f"p95 {pct(seen, 95):.1f} ms  max {max(seen):.1f} ms  "
          f"(n={len(seen)} keystrokes that changed the list; {unseen} did not)")
    result["typing_keystroke_to_screen_ms"] = {"median": statistics.median(seen), "p95": pct(seen, 95),
                                               "max": max(seen), "n": len(seen), "unchanged": unseen}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="sample,20000",
                        help="comma-separated: 'sample' (../shared/corpus) and/or article counts")
    parser.add_argument("--passes", type=int, default=3, help="passes over the query list per session")
    parser.add_argument("--starts", type=int, default=5, help="REPL start-ups timed per corpus")
    parser.add_argument("--work", type=Path, default=Path("/tmp/repl-bench"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--only", choices=("all", "typing"), default="all",
                        help="typing: only the results-while-typing measure")
    args = parser.parse_args()
    if ROOT in args.work.resolve().parents or args.work.resolve() == ROOT:
        parser.error("--work must be outside the repository")
    args.work.mkdir(parents=True, exist_ok=True)
    env = repl_env(args.work)
    runs = [baseline(env) for _ in range(args.starts)]
    base = statistics.median(r[0] for r in runs)
    base_line = statistics.median(ms for r in runs for ms in r[1])
    load = os.getloadavg()
    print(f"machine load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min), "
          f"{os.cpu_count()} CPUs")
    print(f"floor, a bare prompt_toolkit prompt loop: {base:.1f} ms to first prompt, "
          f"{base_line:.1f} ms median per line")
    results: list[dict[str, Any]] = [{"baseline_first_prompt_ms": base, "baseline_line_ms": base_line,
                                      "loadavg": load}]
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        label, index, documents = prepare(size, args.work)
        results.append(typing_report(label, index, documents, env, args.passes))
        if args.only == "typing":
            continue
        starts = [first_prompt(index, documents, env) for _ in range(args.starts)]
        pty_samples = session_latency(index, env, args.passes)
        proc_samples = in_process(index, args.passes)
        result = {
            "corpus": label, "documents": documents, "terminal": f"{COLS}x{ROWS}",
            "first_prompt_ms": {"median": statistics.median(s[0] for s in starts),
                                "min": min(s[0] for s in starts), "max": max(s[0] for s in starts)},
            "index_warm_ms": {"median": statistics.median(s[1] for s in starts)},
            "repl": summary(pty_samples),
            "in_process": summary(proc_samples),
        }
        results.append(result)
        repl, proc = result["repl"], result["in_process"]
        print(f"\n{label} ({documents:,} documents), terminal {COLS}x{ROWS}, "
              f"{args.starts} start-ups, {args.passes} passes x {len(QUERIES)} lines")
        fp = result["first_prompt_ms"]
        print(f"  first prompt          median {fp['median']:7.1f} ms  "
              f"(min {fp['min']:.1f}, max {fp['max']:.1f})")
        print(f"  index opened (warm)   median {result['index_warm_ms']['median']:7.1f} ms after start")
        print(f"  first query           {repl['first_query_ms']:7.1f} ms in the REPL, "
              f"{proc['first_query_ms']:.1f} ms in-process")
        print(f"  per line in the REPL  median {repl['median_ms']:7.1f} ms  p95 {repl['p95_ms']:.1f} ms  "
              f"max {repl['max_ms']:.1f} ms  (n={repl['n']})")
        print(f"  in-process            median {proc['median_ms']:7.1f} ms  p95 {proc['p95_ms']:.1f} ms  "
              f"max {proc['max_ms']:.1f} ms")
        kinds = ", ".join(f"{k} {v:.1f}" for k, v in repl["by_kind_median_ms"].items())
        print(f"  REPL median by kind (ms): {kinds}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
