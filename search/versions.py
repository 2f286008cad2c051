"""What `search --version` reports: our version, the Whoosh distribution that
provides the `whoosh` package, and the Python running us (bug reports need all
three, since every Whoosh fork installs into the same `whoosh/` folder)."""

from __future__ import annotations

import platform
from dataclasses import dataclass


@dataclass(frozen=True)
class Versions:
    """Versions of this program and of what it runs on."""

    search: str
    #: the distribution that installed `whoosh` ("whoosh3", "Whoosh", ...), or None
    whoosh_distribution: str | None
    whoosh_version: str | None
    python: str
    python_implementation: str

    def line(self, prog: str) -> str:
        """One line, e.g. `search 0.1.0 (whoosh3 3.54.0, Python 3.11.7)`."""
        if self.whoosh_distribution:
            whoosh = f"{self.whoosh_distribution} {self.whoosh_version}"
        else:
            whoosh = "whoosh not installed"
        python = f"Python {self.python}"
        if self.python_implementation != "CPython":
            python += f" {self.python_implementation}"
        return f"{prog} {self.search} ({whoosh}, {python})"


def whoosh_distribution() -> tuple[str, str] | None:
    """(distribution name, version) of the installed distribution that provides
    the `whoosh` import package, read from its metadata without importing it."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    for name in sorted(packages_distributions().get("whoosh", [])):
        try:
            return name, version(name)
        except PackageNotFoundError:
            continue
    return None


def current_versions() -> Versions:
    """The versions of this process (reads package metadata: call it on demand)."""
    from . import __version__

    dist = whoosh_distribution()
    return Versions(
        search=__version__,
        whoosh_distribution=dist[0] if dist else None,
        whoosh_version=dist[1] if dist else None,
        python=platform.python_version(),
        python_implementation=platform.python_implementation(),
    )
