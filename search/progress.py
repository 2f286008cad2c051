"""The indexing progress bar on a terminal: files done, files/s and time left.

Drawn by tqdm (imported only when a bar is actually shown). The CLI decides
*whether* to show one (a terminal, not `-q`, not JSON); this module only draws
it, and lets other lines (skipped files) be printed without garbling it.
"""

from __future__ import annotations

from typing import IO, Any

#: what the bar looks like: `indexing  42%|████▏     | 2083/4958 · 186.31 files/s · ETA 00:15`
BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} · {rate_fmt} · ETA {remaining}"


class ProgressBar:
    """A progress bar on `stream`, created at the first `update` (when the
    total is known) and removed by `close`. Not thread-safe."""

    def __init__(self, stream: IO[str], label: str = "indexing") -> None:
        self._stream = stream
        self._label = label
        self._bar: Any = None

    def update(self, done: int, total: int) -> None:
        """`done` of `total` files are processed (a progress callback)."""
        if self._bar is None:
            self._bar = _new_bar(self._stream, self._label, total)
        if done > self._bar.n:
            self._bar.update(done - self._bar.n)

    def write(self, text: str) -> None:
        """Print `text` (whole lines) above the bar: the bar is wiped, the text
        written, the bar drawn again below it."""
        if self._bar is None:
            self._stream.write(text)
            self._stream.flush()
            return
        self._bar.clear()
        self._stream.write(text)
        self._stream.flush()
        self._bar.refresh()

    def close(self) -> None:
        """Remove the bar from the screen (the summary line follows on stdout)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _new_bar(stream: IO[str], label: str, total: int) -> Any:
    from tqdm import tqdm

    class _Bar(tqdm):  # type: ignore[misc, type-arg]
        # no watchdog thread: the bar is updated from the main loop, and the
        # indexer forks parser processes, which is best done with no extra threads
        monitor_interval = 0

    return _Bar(total=total, file=stream, desc=label, unit=" files", leave=False,
                dynamic_ncols=True, bar_format=BAR_FORMAT, smoothing=0.1)
