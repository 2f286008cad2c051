"""Check a real index build under strace: was everything flushed, in order?

Runs ``search index CORPUS --index INDEX`` (a fresh INDEX) under
``strace -f -y -e trace=fsync,fdatasync,rename,renameat,renameat2`` and checks
the log: every file left in the index folder was fsynced (under its final
name or the temporary name it was renamed from), and the folder itself was
fsynced after the last rename into it. Needs strace (``apt-get install -y
strace``); Linux only.

Usage::

    python bench/strace_check.py ../shared/corpus/ai /tmp/strace-index
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FSYNC = re.compile(r"\b(?:fsync|fdatasync)\(\d+<(?P<path>[^>]*)>\)\s+=\s+0")
RENAME = re.compile(r'\brename(?:at2?)?\((?:[^,]*,\s*)?"(?P<src>[^"]+)",\s*(?:[^,]*,\s*)?"(?P<dst>[^"]+)"'
                    r"[^)]*\)\s+=\s+0")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("index")
    args = ap.parse_args()
    if shutil.which("strace") is None:
        print("strace not found (apt-get install -y strace)", file=sys.stderr)
        return 2
    index = Path(args.index).resolve()
    if index.exists():
        shutil.rmtree(index)
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as log:
        subprocess.run(["strace", "-f", "-y", "-o", log.name, "-e",
                        "trace=fsync,fdatasync,rename,renameat,renameat2",
                        sys.executable, "-m", "search", "index", args.corpus, "--index", str(index),
                        "-q"], check=True)
        lines = log.read().splitlines()
    flushed: set[str] = set()
    last_rename = last_folder_fsync = -1
    fsyncs = renames = 0
    for n, line in enumerate(lines):
        if m := FSYNC.search(line):
            path = os.path.realpath(m["path"])
            flushed.add(path)
            fsyncs += 1
            if Path(path) == index:
                last_folder_fsync = n
        elif m := RENAME.search(line):
            src = os.path.realpath(m["src"] if m["src"].startswith("/") else index / m["src"])
            dst = os.path.realpath(m["dst"] if m["dst"].startswith("/") else index / m["dst"])
            if Path(dst).parent == index:
                renames += 1
                last_rename = n
                if src in flushed:
                    flushed.add(dst)
    left = sorted(p for p in index.iterdir() if p.is_file())
    never = [p.name for p in left if str(p) not in flushed]
    print(f"{len(lines)} traced calls: {fsyncs} fsyncs, {renames} renames into {index}")
    print(f"{len(left)} files left in the index folder; never fsynced: {never or 'none'}")
    folder_ok = last_folder_fsync > last_rename >= 0
    print(f"folder fsynced after the last rename: {'yes' if folder_ok else 'NO'}")
    return 0 if not never and folder_ok else 1


if __name__ == "__main__":
    sys.exit(main())
