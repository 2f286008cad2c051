"""`search --version` (what a bug report needs), and start-up staying lean."""

from __future__ import annotations

import io
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import search
from search.cli import main
from search.env import Env
from search.versions import Versions, whoosh_distribution


def test_version_names_search_whoosh_distribution_and_python():
    out = io.StringIO()
    code = main(["--version"], Env(stdin=io.StringIO(), stdout=out, stderr=io.StringIO(),
                                   environ={"HOME": "/nonexistent"}))
    assert code == 0
    whoosh = f"whoosh3 {version('whoosh3')}"
    assert out.getvalue() == f"search {search.__version__} ({whoosh}, Python {platform.python_version()})\n"


def test_the_whoosh_distribution_is_found_by_its_import_package():
    import whoosh

    assert whoosh_distribution() == ("whoosh3", whoosh.versionstring())


def test_version_line_without_whoosh_or_on_another_python():
    line = Versions("1.2", None, None, "3.10.13", "PyPy").line("search")
    assert line == "search 1.2 (whoosh not installed, Python 3.10.13 PyPy)"


def test_query_start_up_imports_no_progress_or_completion_library(built: Path):
    """The progress bar and completion libraries load only for the commands that use them."""
    code = (
        "import sys\n"
        "from search.cli import main\n"
        f"status = main(['query', 'robots', '--index', {str(built)!r}, '--format', 'json'])\n"
        f"main(['index', '-q', '--index', {str(built)!r}])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'tqdm', 'argcomplete', 'shtab'})\n"
        "print(status, loaded)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0 []"
